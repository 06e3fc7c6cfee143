"""What Renovate needs to follow a generated repository (docs/updating.md, "The fleet").

Renovate's copier manager reads `_src_path` as a URL (a scheme:// URL, or user@host:path
as git's SSH form) whose tags it lists with git, and proposes an update only from a
`_commit` that is a release tag. One check, used by `redis-scaffold update` (with and
without --check) and `redis-scaffold backstage export`; copier.yml's closing message
(_message_after_copy) applies the same two patterns at copy time, and
tests/test_renovate.py checks that both agree on every example.

`redis-scaffold fleet status` reports, for a platform team, the release each repository
is on, whether it is behind the template's newest tag, and whether Renovate follows it.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from redis_scaffold.errors import UsageError
from redis_scaffold.project import ANSWERS_FILE, read_answers

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


# ------------------------------------------------------------ fleet status
@dataclass(frozen=True)
class RepositoryStatus:
    """One repository of the fleet: the release it is on, and whether Renovate follows it."""

    name: str
    release: str
    latest: str | None  # the template's newest release tag; None if not looked up
    problems: tuple[str, ...]  # why Renovate cannot follow it

    @property
    def behind(self) -> bool:
        return self.latest is not None and self.release != self.latest

    def line(self) -> str:
        where = "unknown" if self.latest is None else "behind" if self.behind else "current"
        state = f"{where} (latest {self.latest})" if self.behind else where
        why = "; ".join(p.split(":")[0] for p in self.problems)  # each problem's first clause
        follow = f"not followed: {why}" if why else "followed by Renovate"
        return f"{self.name}\t{self.release or '-'}\t{state}\t{follow}"


class TemplateLookupError(UsageError):
    """The template's release tags could not be listed (git ls-remote failed)."""


def release_tags(url: str) -> list[str]:
    """The template's release tags, oldest first (PEP 440 order), as `git ls-remote` lists them."""
    from packaging.version import InvalidVersion, Version

    result = subprocess.run(
        ["git", "ls-remote", "--tags", "--refs", url], capture_output=True, text=True
    )
    if result.returncode != 0:
        detail = (result.stderr.strip().splitlines() or ["no output"])[-1]
        raise TemplateLookupError(f"cannot list the release tags of {url}: {detail}")
    tags = [line.rsplit("refs/tags/", 1)[-1] for line in result.stdout.splitlines()]
    versions = {}
    for tag in tags:
        if re.search(RELEASE_TAG, tag):
            try:
                versions[tag] = Version(tag)
            except InvalidVersion:
                continue
    return sorted(versions, key=versions.__getitem__)


def repository_status(path: Path, latest: str | None) -> RepositoryStatus:
    """``path``: a checkout of a generated repository, or its answers file."""
    answers_dir = path.parent if path.name == ANSWERS_FILE else path
    answers = read_answers(answers_dir)
    name = answers_dir.resolve().name
    return RepositoryStatus(
        name, str(answers.get("_commit") or ""), latest, tuple(renovate_problems(answers))
    )


def fleet_status(paths: list[Path], template: str | None) -> list[RepositoryStatus]:
    latest = None
    if template:
        tags = release_tags(template)
        if not tags:
            raise TemplateLookupError(f"{template} has no release tag (vX.Y.Z)")
        latest = tags[-1]
    return [repository_status(path, latest) for path in paths]


def _status(args: argparse.Namespace) -> int:
    statuses = fleet_status([Path(p) for p in args.repositories], args.template)
    print("repository\trelease\tstatus\trenovate")
    for status in statuses:
        print(status.line())
    behind = [s.name for s in statuses if s.behind]
    if behind:
        print(f"{len(behind)} of {len(statuses)} behind the latest release", file=sys.stderr)
    return 1 if behind else 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "fleet",
        help="which template release each service repository is on",
        description=(
            "Report the template release each generated repository is on (its answers "
            "file's _commit), whether it is behind the template's newest release tag, and "
            "whether Renovate can follow it. Exits 1 when a repository is behind."
        ),
    )
    commands = parser.add_subparsers(dest="fleet_command", required=True, metavar="COMMAND")
    status = commands.add_parser(
        "status",
        help="one line per repository: release, behind or current, Renovate",
        description=(
            "One tab-separated line per repository. REPOSITORY is a checkout or its "
            f"{ANSWERS_FILE} (fetched from the git host, e.g. by a scheduled job). "
            "Exit codes: 0 every repository is on the newest release (or --template not "
            "given); 1 some are behind; 2 a repository has no answers file or the "
            "template's tags cannot be listed."
        ),
    )
    status.add_argument("repositories", nargs="+", metavar="REPOSITORY")
    status.add_argument(
        "--template",
        metavar="URL",
        help="the template's git URL, whose newest vX.Y.Z tag is the latest release",
    )
    status.set_defaults(func=_status)
