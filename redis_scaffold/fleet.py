"""What Renovate needs to follow a generated repository (docs/updating.md, "The fleet").

Renovate's copier manager reads `_src_path` as a URL (a scheme:// URL, or user@host:path
as git's SSH form) whose tags it lists with git, and proposes an update only from a
`_commit` that is a release tag. One check, used by `redis-scaffold update` (with and
without --check) and `redis-scaffold backstage export`; copier.yml's closing message
(_message_after_copy) applies the same two patterns at copy time, and
tests/test_renovate.py checks that both agree on every example.
"""

from __future__ import annotations

import re

from redis_scaffold.project import ANSWERS_FILE

RENOVATE_SRC = r"^((https?|ssh|git|file)://|[^@/:]+@[^:/]+:.)"
RELEASE_TAG = r"^v?[0-9]+(\.[0-9]+)+((a|b|rc)[0-9]+)?$"
SHORTHANDS = {"gh:": "https://github.com/", "gl:": "https://gitlab.com/"}


def renovate_src_problem(src: str) -> str | None:
    """Why Renovate cannot look the template ``src`` up, with the URL to use; None if it can."""
    if re.search(RENOVATE_SRC, src):
        return None
    prefix = next((p for p in SHORTHANDS if src.startswith(p)), None)
    url = (
        f"{SHORTHANDS[prefix]}{src[len(prefix) :].removesuffix('.git')}.git"
        if prefix
        else "the template's URL (https://host/org/repo.git or git@host:org/repo.git)"
    )
    return f"_src_path {src!r} is not a URL Renovate can look up: set it to {url}"


def renovate_problems(answers: dict) -> list[str]:
    """Why Renovate cannot follow a repository with these answers, each with its fix."""
    src, commit = str(answers.get("_src_path") or ""), str(answers.get("_commit") or "")
    problems = []
    src_problem = renovate_src_problem(src)
    if src_problem:
        problems.append(f"{src_problem} in {ANSWERS_FILE} and commit")
    if not re.search(RELEASE_TAG, commit):
        problems.append(
            f"_commit {commit!r} is not a release tag, so Renovate never proposes an "
            "update: once the template has a vX.Y.Z tag, run "
            "`copier recopy --trust --vcs-ref vX.Y.Z` before changing anything"
        )
    return problems
