"""`redis-scaffold post-copy`: the hooks copier runs after `copier copy`.

It runs the hooks the user opted into and never fails the copy: every problem becomes
a warning that says what to run later, so a newcomer without AWS credentials (or
without boto3 next to copier) still gets the repository. Copier's `_tasks` call it on
copy only; an update never re-creates or touches the secret.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO


def run_step(argv: list[str], later: str, out: TextIO) -> bool:
    """Run one redis-scaffold command in-process; report failure as a warning."""
    try:
        from redis_scaffold import cli

        code = cli.main(argv)
    except ModuleNotFoundError as exc:
        print(
            f"warning: `redis-scaffold {' '.join(argv[:2])}` was skipped: the Python package "
            f"'{exc.name}' is not installed next to copier. Run `{later}` later.",
            file=out,
        )
        return False
    except SystemExit as exc:  # argparse errors
        code = exc.code if isinstance(exc.code, int) else 1
    if code:
        print(
            f"warning: `redis-scaffold {' '.join(argv[:2])}` did not complete (exit {code}); "
            f"the repository is complete. Run `{later}` once the problem above is fixed.",
            file=out,
        )
        return False
    return True


def post_copy(project: Path, create_secret: bool, check_sentinel: bool, out: TextIO) -> None:
    if create_secret:
        run_step(["secret", "ensure", str(project)], "make secret-ensure (or make secret)", out)
    if check_sentinel:
        run_step(["sentinel", "check", str(project)], "make check", out)


def _run(args: argparse.Namespace) -> int:
    post_copy(args.project, args.create_secret, args.check_sentinel, sys.stderr)
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "post-copy",
        help="run the opted-in hooks after copier copy (always exits 0)",
        description=__doc__,
    )
    parser.add_argument("project", type=Path, help="the generated repository")
    parser.add_argument("--create-secret", action="store_true")
    parser.add_argument("--check-sentinel", action="store_true")
    parser.set_defaults(func=_run)
