"""`redis-scaffold update`: copier's update, refusing bad starts and never hiding conflicts.

copier exits 0 even when it leaves conflict markers or ``*.rej`` files, and fails late
(or not at all) when the answers file, the git repository or the template tags are
missing. This wraps :func:`copier.run_update` with those checks before, and a conflict
scan after: the command exits non-zero, listing the files, while any conflict remains.
"""

from __future__ import annotations

import argparse
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

import copier
from copier.errors import CopierError
from packaging.version import InvalidVersion, Version

from redis_scaffold.errors import ScaffoldError
from redis_scaffold.project import ANSWERS_FILE, read_answers

# Directories that hold tools or caches, never template output.
SKIPPED_DIRS = {".git", ".venv", ".tools", ".terraform", "node_modules", "__pycache__"}
MARKER_STARTS = ("<<<<<<<", ">>>>>>>")


class UpdateError(ScaffoldError):
    """The update cannot start or did not finish cleanly; the message says what to do."""

    exit_code = 2


class ConflictsRemain(ScaffoldError):
    """The update ran, and conflict markers or .rej files remain (listed)."""

    exit_code = 1


@dataclass(frozen=True)
class Conflict:
    path: str  # relative to the project, with '/' separators
    lines: tuple[int, ...]  # 1-based lines of the markers; empty for a .rej file

    def __str__(self) -> str:
        if not self.lines:
            return (
                f"{self.path} (changes the update could not apply, or your edits to a file "
                "the release renamed or removed: move them over by hand, then delete it)"
            )
        return f"{self.path} (conflict markers on lines {', '.join(map(str, self.lines))})"


# ------------------------------------------------------------------ git helpers
def _git(cwd: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=cwd, check=check, capture_output=True, text=True)


def is_git_repo(path: Path) -> bool:
    result = _git(path, "rev-parse", "--show-toplevel", check=False)
    return result.returncode == 0 and Path(result.stdout.strip()).resolve() == path.resolve()


def dirty_paths(path: Path) -> list[str]:
    return [line[3:] for line in _git(path, "status", "--porcelain").stdout.splitlines()]


def pep440_tags(src: str) -> list[str]:
    """Tags of the template repository ``src`` (path or URL) that are PEP 440 versions."""
    result = _git(Path.cwd(), "ls-remote", "--tags", "--refs", src, check=False)
    if result.returncode:
        raise UpdateError(f"cannot list the tags of the template {src!r}: {result.stderr.strip()}")
    tags = []
    for line in result.stdout.splitlines():
        tag = line.split("refs/tags/", 1)[-1]
        try:
            Version(tag)
        except InvalidVersion:
            continue
        tags.append(tag)
    return sorted(tags, key=Version)


# --------------------------------------------------------------- conflict scan
def _candidate_files(project: Path):
    for root, dirs, files in os.walk(project):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS]
        for name in files:
            yield Path(root, name)


def find_conflicts(project: Path) -> list[Conflict]:
    """Files holding conflict markers, and ``*.rej`` files, in ``project``.

    A marker is a line starting with ``<<<<<<<`` or ``>>>>>>>``. A lone ``=======``
    (a Markdown heading underline) is not one.
    """
    found = []
    for path in sorted(_candidate_files(project)):
        rel = path.relative_to(project).as_posix()
        if path.name.endswith(".rej"):
            found.append(Conflict(rel, ()))
            continue
        try:
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data[:8000]:
            continue  # binary
        lines = tuple(
            number
            for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1)
            if line.startswith(MARKER_STARTS)
        )
        if lines:
            found.append(Conflict(rel, lines))
    return found


def conflicts_message(conflicts: list[Conflict]) -> str:
    listing = "\n".join(f"  {c}" for c in conflicts)
    return (
        f"{len(conflicts)} file(s) still hold update conflicts:\n{listing}\n"
        "Resolve each one (keep what you need, delete the markers and the .rej files), "
        "check with `make check-conflicts`, then commit."
    )


# ----------------------------------------------- edits in files the update removed
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _team_changes(project: Path, path: str) -> str:
    """The team's own changes to ``path`` since the template last wrote it, as a diff.

    Template writes (copy, update, adopt) are the commits that also change the answers
    file; any later commit to ``path`` is the team's. Empty when there is none.
    """
    commits = _git(project, "log", "--format=%H", "--", path).stdout.split()
    for index, commit in enumerate(commits):
        touched = _git(
            project, "diff-tree", "--no-commit-id", "--name-only", "-r", "--root", commit
        ).stdout
        if ANSWERS_FILE in touched.splitlines():
            if index == 0:
                return ""
            return _git(project, "diff", commit, "HEAD", "--", path).stdout
    return _git(project, "diff", EMPTY_TREE, "HEAD", "--", path).stdout


def keep_dropped_edits(project: Path) -> list[str]:
    """copier deletes a file the new release renamed or removed, team edits and all.

    For each such file the team had changed, write its changes next to it as
    ``<file>.rej``, which the conflict checks report until someone moves them over.
    """
    deleted = [
        line[3:]
        for line in _git(project, "status", "--porcelain").stdout.splitlines()
        if line.startswith(" D ")
    ]
    kept = []
    for path in deleted:
        changes = _team_changes(project, path)
        if changes:
            (project / f"{path}.rej").write_text(changes)
            kept.append(path)
    return kept


# -------------------------------------------------------------- preconditions
def check_can_update(project: Path) -> dict:
    """Refuse, with what to do instead, any project copier update would fail on or damage."""
    if not project.is_dir():
        raise UpdateError(f"{project} is not a directory")
    answers = read_answers(project, missing_ok=True)
    if not answers.get("_src_path") or not answers.get("_commit"):
        what = "has no" if not answers else "has an incomplete"
        raise UpdateError(
            f"{project} {what} {ANSWERS_FILE} (it needs _src_path and _commit), so copier "
            "cannot tell which template version made it. Link it to the template first:\n"
            f"  redis-scaffold adopt {project} --template <template repo> [--vcs-ref <tag>]"
        )
    if not is_git_repo(project):
        raise UpdateError(
            f"{project} is not the top of a git repository: copier update replays your "
            "changes from git history. Run `git init && git add -A && git commit` first."
        )
    conflicts = find_conflicts(project)
    if conflicts:
        raise UpdateError(conflicts_message(conflicts))
    dirty = dirty_paths(project)
    if dirty:
        raise UpdateError(
            f"{project} has uncommitted changes ({', '.join(dirty[:5])}"
            f"{', ...' if len(dirty) > 5 else ''}): commit or stash them first, so the "
            "update's own changes can be reviewed and undone with git."
        )
    src = str(answers["_src_path"])
    if not pep440_tags(src):
        raise UpdateError(
            f"the template {src} has no PEP 440 version tags (such as v1.2.0): copier "
            "cannot update from or to an untagged template. Template maintainers: see "
            "docs/updating.md, section 'Release' (tag vX.Y.Z after the CHANGELOG entry)."
        )
    return answers


# ----------------------------------------------------------------------- update
def update(
    project: Path,
    *,
    vcs_ref: str | None = None,
    conflict: str = "inline",
    defaults: bool = False,
    quiet: bool = False,
) -> list[Conflict]:
    """Update ``project`` to ``vcs_ref`` (default: the latest tag); return leftover conflicts.

    Raises UpdateError when the update cannot start or copier fails.
    """
    check_can_update(project)
    try:
        copier.run_update(
            project,
            vcs_ref=vcs_ref,
            conflict=conflict,
            defaults=defaults,
            overwrite=True,
            unsafe=True,
            quiet=quiet,
        )
    except (CopierError, ValueError) as error:
        raise UpdateError(f"copier update failed: {error}") from error
    keep_dropped_edits(project)
    return find_conflicts(project)


# -------------------------------------------------------------------------- CLI
def _run(args: argparse.Namespace) -> int:
    project = Path(args.project_dir).absolute()
    conflicts = update(
        project, vcs_ref=args.vcs_ref, conflict=args.conflict, defaults=args.defaults
    )
    if conflicts:
        raise ConflictsRemain(conflicts_message(conflicts))
    print(
        f"Updated {project} to {read_answers(project, missing_ok=True).get('_commit')}. "
        "Review with `git diff`, then commit."
    )
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "update",
        help="copier update with checks; exits non-zero while conflicts remain",
        description=(
            "Update a generated repository to a newer template release. Refuses to start "
            "without an answers file, outside a clean git repository, or on an untagged "
            "template; exits 1 listing the files while conflict markers or .rej files remain."
        ),
    )
    parser.add_argument("project_dir", metavar="PROJECT_DIR")
    parser.add_argument(
        "--vcs-ref", help="template tag or commit to update to (default: latest tag)"
    )
    parser.add_argument(
        "--conflict",
        choices=("inline", "rej"),
        default="inline",
        help="how copier leaves conflicts: inline markers (default) or .rej files",
    )
    parser.add_argument(
        "--defaults",
        action="store_true",
        help="keep recorded answers and take defaults for new questions without asking",
    )
    parser.set_defaults(func=_run)
