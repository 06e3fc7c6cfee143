"""Where this template's own files are (copier.yml, template/, includes/, hooks/).

A pip install ships them inside the package, as `redis_scaffold/_template/` (package
data; in a checkout that folder holds symlinks to the real ones), so the commands that
generate a repository (`redis-scaffold demo`) work from a wheel, a git URL or a local
path alike. From a checkout they use the checkout itself, uncommitted changes included.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
CHECKOUT = PACKAGE.parent
PACKAGED = PACKAGE / "_template"
MARKER = "copier.yml"


def template_root() -> Path:
    """The checkout when the package runs from one, else the copy installed with it."""
    if (CHECKOUT / MARKER).is_file() and (CHECKOUT / "template").is_dir():
        return CHECKOUT
    if (PACKAGED / MARKER).is_file():
        return PACKAGED
    raise FileNotFoundError(
        f"the template's files are neither in {CHECKOUT} nor in {PACKAGED}: "
        "reinstall redis-scaffold (pip install --force-reinstall redis-scaffold)"
    )


def in_git_checkout(root: Path) -> bool:
    """True for a checkout's own root (copier then renders git's HEAD plus local changes)."""
    return (root / ".git").exists()
