"""`redis-scaffold post-copy`: the opted-in hooks after `copier copy`, in this environment.

It runs the hooks the user opted into and never fails: every problem becomes a warning
that says what to run later. Copier's `_tasks` do not call this command directly: they
run `hooks/post_copy.py` with copier's own interpreter, which finds or makes an
environment where redis-scaffold is installed and runs this command there
(docs/hooks.md, "When the hooks run"). An update never re-creates or touches the secret.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from redis_scaffold.errors import MissingDependency

DESCRIPTION = """\
Run the hooks a team opted into when it answered the template's questions, after
`copier copy`: create the secret, check the Sentinel deployment, check the ElastiCache
group. Copier runs this for you (its post-copy task, with `copier copy --trust`); run it
by hand to do the same again. It never fails: every problem becomes a warning that says
what to run later, and it exits 0. An update never re-creates or touches the secret."""

STEPS = {
    "create_secret": (["secret", "ensure"], "make secret-ensure (or make secret)"),
    "check_sentinel": (["sentinel", "check"], "make check"),
    "check_elasticache": (["elasticache", "check"], "make check"),
}


def run_step(argv: list[str], later: str, out: TextIO) -> bool:
    """Run one redis-scaffold command in-process; report failure as a warning."""
    from redis_scaffold import cli

    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse errors
        code = exc.code if isinstance(exc.code, int) else 1
    command = " ".join(argv[:2])
    if code == MissingDependency.exit_code:
        print(
            f"warning: `redis-scaffold {command}` was skipped: a package it needs is missing "
            f"(above). The repository is complete. Run `{later}` later.",
            file=out,
        )
        return False
    if code:
        print(
            f"warning: `redis-scaffold {command}` did not complete (exit {code}); "
            f"the repository is complete. Run `{later}` once the problem above is fixed.",
            file=out,
        )
        return False
    return True


def post_copy(
    project: Path,
    create_secret: bool,
    check_sentinel: bool,
    out: TextIO,
    check_elasticache: bool = False,
) -> bool:
    """Run the opted-in steps; True when all of them completed."""
    ok = True
    for wanted, (command, later) in zip(
        (create_secret, check_sentinel, check_elasticache), STEPS.values(), strict=True
    ):
        if wanted:
            ok = run_step([*command, str(project)], later, out) and ok
    return ok


def _run(args: argparse.Namespace) -> int:
    post_copy(
        args.project, args.create_secret, args.check_sentinel, sys.stderr, args.check_elasticache
    )
    return 0


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "post-copy",
        help="run the opted-in hooks after copier copy (always exits 0)",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "project", type=Path, metavar="PROJECT_DIR", help="the generated repository"
    )
    parser.add_argument("--create-secret", action="store_true", help="run `secret ensure`")
    parser.add_argument("--check-sentinel", action="store_true", help="run `sentinel check`")
    parser.add_argument("--check-elasticache", action="store_true", help="run `elasticache check`")
    parser.set_defaults(func=_run)
