"""`redis-scaffold update`: copier's update, refusing bad starts and never hiding conflicts.

copier exits 0 even when it leaves conflict markers or ``*.rej`` files, and fails late
(or not at all) when the answers file, the git repository or the template tags are
missing. This wraps :func:`copier.run_update` with those checks before, and a conflict
scan after: the command exits non-zero, listing the files, while any conflict remains.

``--check`` runs the same checks on an update made elsewhere, without updating: the
generated repository's CI runs it on a template-update pull request, which Renovate makes
with plain ``copier update`` (docs/updating.md, "The fleet"). Both say when Renovate
cannot follow the repository (redis_scaffold/fleet.py), and how to fix it.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import copier
from copier.errors import CopierError
from packaging.version import InvalidVersion, Version

from redis_scaffold.errors import ScaffoldError
from redis_scaffold.fleet import renovate_problems
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
    note: str = ""  # what else is wrong with it (edits the update dropped), if not the above

    def __str__(self) -> str:
        if self.note:
            return f"{self.path} ({self.note})"
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
        lines = tuple(
            number
            for number, line in enumerate(_text_lines(path), 1)
            if line.startswith(MARKER_STARTS)
        )
        if lines:
            found.append(Conflict(rel, lines))
    return found


def _text_lines(path: Path) -> list[str]:
    """The lines of a text file; none for a binary or unreadable one."""
    try:
        data = path.read_bytes()
    except OSError:
        return []
    if b"\0" in data[:8000]:
        return []  # binary
    return data.decode("utf-8", "replace").splitlines()


def conflicts_message(conflicts: list[Conflict]) -> str:
    listing = "\n".join(f"  {c}" for c in conflicts)
    return (
        f"{len(conflicts)} file(s) still hold update conflicts:\n{listing}\n"
        "Resolve each one (keep what you need, delete the markers and the .rej files), "
        "check with `make check-conflicts`, then commit."
    )


# ----------------------------------------------- edits in files the update removed
EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"


def _team_changes(project: Path, path: str, rev: str = "HEAD") -> str:
    """The team's own changes to ``path`` at ``rev`` since the template last wrote it, as
    a diff.

    Template writes (copy, update, adopt) are the commits that also change the answers
    file; any later commit to ``path`` is the team's. Empty when there is none.
    """
    commits = _git(project, "log", "--format=%H", rev, "--", path).stdout.split()
    for index, commit in enumerate(commits):
        touched = _git(
            project, "diff-tree", "--no-commit-id", "--name-only", "-r", "--root", commit
        ).stdout
        if ANSWERS_FILE in touched.splitlines():
            if index == 0:
                return ""
            return _git(project, "diff", commit, rev, "--", path).stdout
    return _git(project, "diff", EMPTY_TREE, rev, "--", path).stdout


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


def dropped_edits(project: Path, base: str) -> list[Conflict]:
    """Team edits that a template update since ``base`` deleted, not yet carried over.

    Plain ``copier update`` (what Renovate runs) deletes a file the release renamed or
    removed with the team's edits in it, where ``redis-scaffold update`` keeps them as
    ``<file>.rej`` (:func:`keep_dropped_edits`). Here, for each file deleted by a commit
    after ``base`` that also changed the answers file (an update), the team's changes
    as of that commit's parent: reported while a line the team added is in no file of
    the working tree, that is, until the team has moved it to where it now belongs.
    """
    if _git(
        project, "rev-parse", "--verify", "--quiet", f"{base}^{{commit}}", check=False
    ).returncode:
        raise UpdateError(
            f"--base {base}: no such commit here. The check needs the history: fetch the "
            "target branch (actions/checkout with fetch-depth: 0)."
        )
    updates = _git(project, "log", "--format=%H", f"{base}..HEAD", "--", ANSWERS_FILE).stdout
    present: set[str] | None = None
    found = []
    for commit in updates.split():
        if _git(project, "rev-parse", "--verify", "--quiet", f"{commit}^", check=False).returncode:
            continue  # the first commit: nothing before it to lose
        deleted = _git(
            project,
            "diff-tree",
            "--no-commit-id",
            "--name-only",
            "--diff-filter=D",
            "-r",
            commit,
        ).stdout.split("\n")
        for path in filter(None, deleted):
            changes = _team_changes(project, path, f"{commit}^")
            added = [
                line[1:].strip()
                for line in changes.splitlines()
                if line.startswith("+") and not line.startswith("+++") and line[1:].strip()
            ]
            if present is None:
                present = {
                    line.strip() for file in _candidate_files(project) for line in _text_lines(file)
                }
            missing = [line for line in added if line not in present]
            if missing:
                found.append(
                    Conflict(
                        path,
                        (),
                        f"deleted by the template update with your edits in it; carry them "
                        f"to the file that replaced it (the release's CHANGELOG names it), "
                        f"e.g. {missing[0]!r}; `git diff {commit}^ {commit} -- {path}` "
                        "shows the file as it was",
                    )
                )
    return found


# -------------------------------------------------------------- preconditions
def check_answers(project: Path) -> dict:
    """The answers of ``project``, refusing an answers file copier cannot update from."""
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
    return answers


def check_can_update(project: Path) -> dict:
    """Refuse, with what to do instead, any project copier update would fail on or damage."""
    answers = check_answers(project)
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


# ------------------------------------------------------------- check only
def verify(project: Path, base: str | None = None) -> list[Conflict]:
    """Check an update made elsewhere (a Renovate pull request) as :func:`update` would
    have left it; return what remains to resolve.

    Raises UpdateError when the answers file is not one an update can start from next
    time: incomplete, or ``_commit`` not a release tag of the template. Returns the
    conflict markers and ``.rej`` files, and, with ``base`` (the pull request's target),
    the team edits an update since then deleted (:func:`dropped_edits`).
    """
    answers = check_answers(project)
    src, commit = str(answers["_src_path"]), str(answers["_commit"])
    tags = pep440_tags(src)
    if commit not in tags:
        raise UpdateError(
            f"{ANSWERS_FILE} records _commit {commit!r}, which is not a release tag of the "
            f"template {src} (tags: {', '.join(tags[-5:]) or 'none'}): the next update could "
            "not start from it. Restore the release tag the update recorded "
            f"(`git log -p -- {ANSWERS_FILE}`)."
        )
    conflicts = find_conflicts(project)
    if base is not None:
        conflicts += dropped_edits(project, base)
    return conflicts


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
def _warn_renovate(project: Path) -> None:
    answers = read_answers(project, missing_ok=True)
    if not (answers.get("_src_path") and answers.get("_commit")):
        return  # not linked to a template at all: the refusal says what to do
    for problem in renovate_problems(answers):
        print(f"warning: Renovate cannot follow this repository: {problem}.", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    project = Path(args.project_dir).absolute()
    if args.check:
        conflicts = verify(project, args.base)
        _warn_renovate(project)
        if conflicts:
            raise ConflictsRemain(conflicts_message(conflicts))
        answers = read_answers(project)
        print(f"{project}: on template release {answers['_commit']}, nothing left to resolve.")
        return 0
    if args.base:
        raise UpdateError("--base goes with --check")
    conflicts = update(
        project, vcs_ref=args.vcs_ref, conflict=args.conflict, defaults=args.defaults
    )
    _warn_renovate(project)  # what the update recorded: a tag now, the same _src_path
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
            "template; exits 1 listing the files while conflict markers or .rej files remain. "
            "--check runs the same checks on an update made elsewhere, such as Renovate's."
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
    parser.add_argument(
        "--check",
        action="store_true",
        help=(
            "update nothing: check an update made elsewhere (a Renovate pull request) as "
            "this command would have left it; exit 1 while conflicts remain, 2 when the "
            "answers file names no release of the template"
        ),
    )
    parser.add_argument(
        "--base",
        metavar="REF",
        help=(
            "with --check: the pull request's target (origin/main); also fail on team "
            "edits in files an update since REF deleted, until they are carried over"
        ),
    )
    parser.set_defaults(func=_run)
