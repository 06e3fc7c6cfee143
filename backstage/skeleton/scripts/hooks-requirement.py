"""Print the pip requirement for the redis-scaffold hooks of the template release this
repository follows, read from .copier-answers.yml (`_src_path` at `_commit`).

Used by `make install` and by the workflows in .github/workflows/, so a laptop and a
runner install the same thing:

    python3 scripts/hooks-requirement.py [ANSWERS_FILE]
    -> redis-scaffold @ git+https://github.com/acme/redis-template.git@v0.3.0
    python3 scripts/hooks-requirement.py --client [ANSWERS_FILE]
    -> redis-service-client @ git+https://github.com/acme/redis-template.git@v0.3.0#subdirectory=clients/python

(--client: the client library of the same release, which client/python's
adapter imports: the line an app adds to its requirements, `make client-requirement`.)

The answers file is YAML (copier writes each value JSON-quoted), so it is read with a
YAML parser, never sed. PyYAML is a dependency of redis-scaffold itself: both callers
install it first (`pip install PyYAML`), and this script says so when it is missing.

Every form copier accepts as a template location maps to a pip VCS requirement:
  https://host/org/repo(.git)      -> git+https://host/org/repo.git
  git@host:org/repo.git            -> git+ssh://git@host/org/repo.git
  ssh://[user@]host/org/repo.git   -> git+ssh://[user@]host/org/repo.git
  gh:org/repo, gl:org/repo         -> git+https://github.com/... , gitlab.com/...
  file:///path, /path, ./path      -> git+file://localhost/path (a local clone; a relative
                                      path is relative to this repository)
(PEP 508 wants a host in a URL, and pip refuses `git+file:///path`; git reads
`file://localhost/path` as the same local path) and `_commit` names the git ref: a release tag (v0.3.0), a commit hash, or what
`git describe` gives for a commit after a tag (v0.3.0-3-gabc1234: its hash is used).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from urllib.parse import quote

PACKAGE = "redis-scaffold"
CLIENT_PACKAGE, CLIENT_SUBDIRECTORY = "redis-service-client", "clients/python"
DESCRIBED = re.compile(r"^.+-\d+-g([0-9a-f]{7,40})$")
SCP_LIKE = re.compile(r"^(?P<user>[^@/:]+@)?(?P<host>[^/:]+):(?P<path>(?!//).+)$")


class AnswersError(Exception):
    """The answers file cannot name a template release."""


def vcs_url(src: str, base: Path) -> str:
    """The `git+...` URL pip clones for the template location `src`."""
    if src.startswith("git+"):
        src = src[len("git+") :]
    for prefix, host in (("gh:", "github.com"), ("gl:", "gitlab.com")):
        if src.startswith(prefix):
            path = src[len(prefix) :]
            return f"git+https://{host}/{path if path.endswith('.git') else path + '.git'}"
    if src.startswith("file:///"):
        return "git+file://localhost/" + src[len("file:///") :]
    if src.startswith(("https://", "http://", "ssh://", "file://")):
        return "git+" + src
    scp = SCP_LIKE.match(src)
    if scp and not Path(src).exists():
        user = scp.group("user") or ""
        return f"git+ssh://{user}{scp.group('host')}/{scp.group('path')}"
    path = (base / src).resolve() if not Path(src).is_absolute() else Path(src)
    return "git+file://localhost" + quote(str(path))


def git_ref(commit: str) -> str:
    described = DESCRIBED.match(commit)
    return described.group(1) if described else commit


def requirement(answers_file: Path, client: bool = False) -> str:
    try:
        import yaml
    except ImportError:
        raise AnswersError(
            "needs PyYAML to read the answers file: run `python3 -m pip install PyYAML` first"
        ) from None
    try:
        answers = yaml.safe_load(answers_file.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise AnswersError(f"cannot read {answers_file}: {error}") from None
    src, commit = answers.get("_src_path"), answers.get("_commit")
    if not src or not commit:
        raise AnswersError(
            f"{answers_file} has no _src_path and _commit: this repository was not made by "
            "copier from a git template, so the hooks' release is unknown"
        )
    base = answers_file.resolve().parent
    url = f"{vcs_url(str(src), base)}@{git_ref(str(commit))}"
    if client:
        return f"{CLIENT_PACKAGE} @ {url}#subdirectory={CLIENT_SUBDIRECTORY}"
    return f"{PACKAGE} @ {url}"


def main(argv: list[str]) -> int:
    client = "--client" in argv
    argv = [a for a in argv if a != "--client"]
    answers_file = Path(argv[0] if argv else ".copier-answers.yml")
    try:
        print(requirement(answers_file, client))
    except AnswersError as error:
        print(f"hooks-requirement: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
