"""The `redis-scaffold` command: one subcommand per module, imported only when chosen.

The top-level parser is built from the static table COMMANDS, so listing the commands
(`redis-scaffold --help`) imports nothing but the standard library. Only the module of
the command actually chosen is imported; it exposes ``add_parser(subparsers)``, and the
parser it adds sets ``func`` to a callable taking the parsed args and returning an exit
code. Errors become exit codes here and nowhere else (docs/hooks.md, "Exit codes"):

- a `ScaffoldError` prints its message (one paragraph) on stderr, after the command's
  name, and returns its `exit_code`;
- a missing optional package (ModuleNotFoundError) prints one line naming the extra to
  install and returns 3;
- argparse's usage errors exit 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from typing import NamedTuple

from redis_scaffold.errors import ScaffoldError, missing_dependency


class Command(NamedTuple):
    name: str
    module: str
    help: str
    extra: str | None = None  # the pyproject.toml extra its packages come from, if any
    requires: tuple[str, ...] = ()  # modules of that extra it needs, checked before it runs


COMMANDS = (
    Command("secret", "redis_scaffold.service.secret_cmd", "The AWS Secrets Manager secret."),
    Command(
        "sentinel", "redis_scaffold.service.sentinel_cmd", "check a running Sentinel deployment"
    ),
    Command("cluster", "redis_scaffold.service.cluster_cmd", "check a running Redis Cluster"),
    Command(
        "elasticache",
        "redis_scaffold.service.elasticache_cmd",
        "check an ElastiCache deployment",
    ),
    Command("new", "redis_scaffold.service.new", "copier copy, a bad answer in one line"),
    Command(
        "update",
        "redis_scaffold.service.update",
        "copier update with checks; exits non-zero while conflicts remain",
    ),
    Command(
        "adopt",
        "redis_scaffold.service.adopt",
        "link a hand-made or older repository to a template release (like cruft link)",
    ),
    Command(
        "post-copy",
        "redis_scaffold.service.post_copy",
        "run the opted-in hooks after copier copy (always exits 0)",
    ),
    Command(
        "demo",
        "redis_scaffold.sandbox.demo",
        "run the whole flow locally: emulator, generation, secret, Sentinel, client",
        "sandbox",
        ("moto",),
    ),
    Command(
        "backstage",
        "redis_scaffold.portal.export",
        "The developer-portal (Backstage) template.",
        "portal",
        ("jsonschema",),
    ),
)
BY_NAME = {command.name: command for command in COMMANDS}


def chosen(argv: list[str]) -> Command | None:
    """The command named by the first argument, if any (the top level has only -h)."""
    return BY_NAME.get(argv[0]) if argv else None


def build_parser(command: Command | None = None) -> argparse.ArgumentParser:
    """The parser, with `command`'s module imported and every other command a stub."""
    parser = argparse.ArgumentParser(
        prog="redis-scaffold",
        description="Hooks for repositories generated from the Redis Sentinel template.",
        epilog="Exit codes: docs/hooks.md. `redis-scaffold COMMAND --help` for each command.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for entry in COMMANDS:
        if entry is command:
            importlib.import_module(entry.module).add_parser(sub)
        else:
            sub.add_parser(entry.name, help=entry.help)
    return parser


def _prog(parser: argparse.ArgumentParser, argv: list[str]) -> str:
    """The full name of the (sub)command argv selects, such as `redis-scaffold secret ensure`."""
    for token in argv:
        actions = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not actions or token not in actions[0].choices:
            continue
        parser = actions[0].choices[token]
    return parser.prog


def _is_ours(error: ModuleNotFoundError) -> bool:
    return (error.name or "").split(".")[0] == "redis_scaffold"


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = chosen(argv)
    prog = f"redis-scaffold {command.name}" if command else "redis-scaffold"
    try:
        parser = build_parser(command)
        prog = _prog(parser, argv)
        args = parser.parse_args(argv)
        for module in command.requires:  # so that `--help` works without them
            if importlib.util.find_spec(module) is None:
                raise ModuleNotFoundError(f"No module named {module!r}", name=module)
        return int(args.func(args) or 0)
    except ScaffoldError as error:
        print(f"{prog}: {error.describe()}", file=sys.stderr)
        return error.exit_code
    except ModuleNotFoundError as error:
        if _is_ours(error):
            raise
        missing = missing_dependency(error, prog, command.extra if command else None)
        print(f"{prog}: {missing}", file=sys.stderr)
        return missing.exit_code


if __name__ == "__main__":
    sys.exit(main())
