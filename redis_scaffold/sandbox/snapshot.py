"""The template's working tree as a tagged release, for copier's normal git path.

`snapshot_template(dst, tag)` copies the tracked and untracked-but-not-ignored files of
this checkout (committed or not) into a fresh git repository at `dst` and tags it, so a
copier run renders what is on disk and records a tag as `_commit`. The tests and the
benchmarks both generate from such snapshots; each makes its own under its own temporary
directory, so parallel runs never share one.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

TEMPLATE_ROOT = Path(__file__).resolve().parents[2]
# The release the working tree becomes: v<project.version>, as the portal export names it.
TEMPLATE_TAG = (
    "v" + tomllib.loads((TEMPLATE_ROOT / "pyproject.toml").read_text())["project"]["version"]
)


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout


def snapshot_template(dst: Path, tag: str = TEMPLATE_TAG, root: Path = TEMPLATE_ROOT) -> Path:
    """Copy the tracked and untracked-but-not-ignored files into a fresh tagged repo."""
    files = git(root, "ls-files", "--cached", "--others", "--exclude-standard", "-z").split("\0")
    for rel in filter(None, files):
        src = root / rel
        if src.is_file() or src.is_symlink():  # links (redis_scaffold/_template/) stay links
            (dst / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dst / rel, follow_symlinks=False)
    git(dst, "init", "-q", "-b", "main")
    git(dst, "add", "-A")
    git(
        dst,
        "-c",
        "user.name=test",
        "-c",
        "user.email=test@example.invalid",
        "commit",
        "-q",
        "-m",
        "snapshot",
    )
    git(dst, "tag", tag)
    return dst
