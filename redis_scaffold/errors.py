"""The one error type the `redis-scaffold` command turns into an exit code.

Every failure a user can act on is a `ScaffoldError` (or a subclass) carrying its exit
code; `redis_scaffold.cli.main` is the only place that catches it, writes its message as
one line on stderr and returns the code. The codes are listed in docs/hooks.md.
"""

from __future__ import annotations


class ScaffoldError(Exception):
    """A failure the user can act on; the message says what to do, `exit_code` which kind."""

    exit_code = 1

    def describe(self) -> str:
        """The message the command line prints after the command's name."""
        return str(self)


class UsageError(ScaffoldError):
    """The command cannot start: a wrong argument or a directory it cannot use."""

    exit_code = 2


class MissingDependency(ScaffoldError):
    """An optional piece is not installed; the message names the extra or package."""

    exit_code = 3


# Where each optional command's packages come from (pyproject.toml's extras).
EXTRAS = {"sandbox": "redis-scaffold[sandbox]", "portal": "redis-scaffold[portal]"}


def missing_dependency(
    error: ModuleNotFoundError, command: str, extra: str | None
) -> MissingDependency:
    """The one-line error for a module that is not installed."""
    module = (error.name or "?").split(".")[0]
    install = f"pip install '{EXTRAS[extra]}'" if extra in EXTRAS else "pip install redis-scaffold"
    what = f"the {extra} extra" if extra in EXTRAS else "its dependencies"
    return MissingDependency(
        f"needs the Python package that provides '{module}', which is not installed: "
        f"install {what} with `{install}`."
    )
