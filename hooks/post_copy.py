"""Copier's post-copy task: run the opted-in hooks, and never cost the user the repository.

Copier runs this file after `copier copy` (never after an update), with its own Python
interpreter, from the template's checkout, only when the user said yes to
`create_secret`, `check_sentinel` or `check_elasticache`:

    python hooks/post_copy.py DST [--create-secret] [--check-sentinel] [--check-elasticache]

It needs nothing but the standard library, because all that can be assumed next to
copier is copier. It finds an interpreter that can run `redis-scaffold` from this
checkout:

1. copier's own, when redis-scaffold's dependencies happen to be installed there;
2. otherwise a virtual environment of its own, made once per template version in the
   user's cache directory ($XDG_CACHE_HOME or ~/.cache, `redis-scaffold/`) with
   `pip install <this checkout>` (no extras). pip is configured the usual way
   (PIP_INDEX_URL, PIP_FIND_LINKS, PIP_NO_INDEX, pip.conf), nothing here overrides it;

then runs `redis-scaffold post-copy DST ...` with it, which turns each step's failure
(no credentials, nothing deployed yet) into a warning naming what to run later.

Whatever happens (no network for pip, a Python too old, a crash), the outcome is a
warning saying what to run later and exit status 0: copier deletes the destination
when a task fails, and the repository is worth more than the hook.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

TEMPLATE = Path(__file__).resolve().parents[1]
# What `pip install .` needs from the checkout (the wheel is built from a copy of these,
# so the checkout itself is never written to).
PACKAGE_FILES = ("pyproject.toml", "README.md", "redis_scaffold")
LATER = {
    "--create-secret": "make install && make secret-ensure (or make secret)",
    "--check-sentinel": "make install && make check",
    "--check-elasticache": "make install && make check",
}
INSTALL_TIMEOUT = 900  # seconds for venv + pip: a bound, not an expectation
RUN_TIMEOUT = 600
# Defaults only: a user's own PIP_* settings win.
PIP_DEFAULTS = {
    "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    "PIP_DEFAULT_TIMEOUT": "15",
    "PIP_RETRIES": "1",
}


def say(message: str) -> None:
    print(f"post-copy: {message}", file=sys.stderr, flush=True)


def warn_later(reason: str, flags: list[str]) -> None:
    later = " and ".join(f"`{step}`" for step in dict.fromkeys(LATER[f] for f in flags))
    print(f"warning: the post-copy hooks did not run: {reason}", file=sys.stderr)
    print(
        f"warning: the repository is complete; run {later} in it later.",
        file=sys.stderr,
        flush=True,
    )


def can_run_here(python: str) -> bool:
    """True when `python` imports the commands' modules from this checkout."""
    probe = (
        "import redis_scaffold.service.secret_cmd, redis_scaffold.service.sentinel_cmd, "
        "redis_scaffold.service.elasticache_cmd"
    )
    try:
        result = subprocess.run(
            [python, "-c", probe],
            cwd=TEMPLATE,
            capture_output=True,
            timeout=120,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return result.returncode == 0


def template_key() -> str:
    """A digest of what `pip install <checkout>` would install: one environment per version."""
    digest = hashlib.sha256()
    for name in PACKAGE_FILES:
        path = TEMPLATE / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc":
                continue
            digest.update(file.relative_to(TEMPLATE).as_posix().encode() + b"\0")
            digest.update(file.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "redis-scaffold"


def venv_python(venv: Path) -> Path:
    return venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def tail(text: str, lines: int = 6) -> str:
    kept = [line for line in text.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(f"    {line}" for line in kept)


class InstallFailed(Exception):
    pass


def run_quiet(argv: list[str], env: dict[str, str], cwd: Path, what: str) -> None:
    try:
        result = subprocess.run(
            argv,
            env=env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=INSTALL_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        raise InstallFailed(f"{what} took longer than {INSTALL_TIMEOUT} s") from None
    if result.returncode != 0:
        raise InstallFailed(
            f"{what} failed (exit {result.returncode}):\n{tail(result.stdout + result.stderr)}"
        )


def make_environment(python: str) -> Path:
    """The cached environment for this checkout, made now if missing; its interpreter."""
    root = cache_root()
    venv = root / f"post-copy-{template_key()}"
    if (venv / ".complete").is_file():
        return venv_python(venv)
    root.mkdir(parents=True, exist_ok=True)
    say(f"installing redis-scaffold (no extras) into {venv}, once for this template version")
    building = Path(tempfile.mkdtemp(prefix=f"{venv.name}.", dir=root))
    source = Path(tempfile.mkdtemp(prefix="redis-scaffold-src."))
    try:
        for name in PACKAGE_FILES:
            path = TEMPLATE / name
            if path.is_dir():
                shutil.copytree(path, source / name, ignore=shutil.ignore_patterns("__pycache__"))
            elif path.is_file():
                shutil.copy2(path, source / name)
        env = {**PIP_DEFAULTS, **os.environ}
        run_quiet(
            [python, "-m", "venv", str(building)], env, root, "creating a virtual environment"
        )
        run_quiet(
            [str(venv_python(building)), "-m", "pip", "install", "--quiet", str(source)],
            env,
            root,
            "pip install redis-scaffold",
        )
        (building / ".complete").touch()
        try:
            building.rename(venv)
        except OSError:  # another copy made it meanwhile: use that one
            if not (venv / ".complete").is_file():
                raise
    finally:
        shutil.rmtree(source, ignore_errors=True)
        if building.exists():
            shutil.rmtree(building, ignore_errors=True)
    return venv_python(venv)


def post_copy(project: str, flags: list[str]) -> None:
    python = sys.executable
    if not can_run_here(python):
        try:
            python = str(make_environment(python))
        except InstallFailed as error:
            warn_later(f"redis-scaffold could not be installed for them: {error}", flags)
            return
    try:
        result = subprocess.run(
            [python, "-m", "redis_scaffold", "post-copy", project, *flags],
            cwd=TEMPLATE,
            timeout=RUN_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        warn_later(f"they took longer than {RUN_TIMEOUT} s", flags)
        return
    if result.returncode != 0:
        warn_later(f"`redis-scaffold post-copy` exited {result.returncode}", flags)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="hooks/post_copy.py", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("project", metavar="DST", help="the repository copier just generated")
    parser.add_argument("--create-secret", action="store_true")
    parser.add_argument("--check-sentinel", action="store_true")
    parser.add_argument("--check-elasticache", action="store_true")
    flags = list(LATER)
    try:
        args = parser.parse_args(argv)
        flags = [
            f
            for f, on in (
                ("--create-secret", args.create_secret),
                ("--check-sentinel", args.check_sentinel),
                ("--check-elasticache", args.check_elasticache),
            )
            if on
        ]
        if flags:
            post_copy(str(Path(args.project).resolve()), flags)
    except SystemExit as exit_:
        if exit_.code not in (0, None):  # a usage error: still never fail the copy
            warn_later(f"bad arguments {argv or sys.argv[1:]}", flags)
    except BaseException as error:  # noqa: BLE001 - never fail the copy, whatever it is
        warn_later(f"{type(error).__name__}: {error}", flags)
    return 0


if __name__ == "__main__":
    sys.exit(main())
