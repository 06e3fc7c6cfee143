"""The `redis-scaffold` command: one subcommand per module, imported only when chosen.

The top-level parser is built from the static table COMMANDS, so listing the commands
(`redis-scaffold --help`) imports nothing but the standard library. Only the module of
the command actually chosen is imported; it exposes ``add_parser(subparsers)``, and the
parser it adds sets ``func`` to a callable taking the parsed args and returning an exit
code. Errors become exit codes here and nowhere else (docs/hooks.md, "Exit codes"):

- a `ScaffoldError` prints its message (one paragraph) on stderr, after the command's
  name, and returns its `exit_code`;
- a missing optional package (ModuleNotFoundError) prints one line naming the extra to
  install and returns 3; `--help` of a command whose extra is missing still exits 0 and
  says which extra it needs;
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


DESCRIPTION = """\
Commands for repositories generated from the Redis service template: Redis Sentinel,
Redis Cluster or AWS ElastiCache, with Redis or Valkey."""
EPILOG = """\
Run `redis-scaffold COMMAND --help` for each command. Exit codes: 0 done; 1 conflicts
remain (update); 2 usage error or not a generated repository; 3 a Python package the
command needs is not installed (the message names the extra); 10-16 secret, 20-29
sentinel check, 30-39 cluster check, 40-48 elasticache check (each command's --help
lists its own)."""

COMMANDS = (
    Command(
        "secret",
        "redis_scaffold.service.secret_cmd",
        "create the AWS Secrets Manager secret, or rotate its password",
    ),
    Command(
        "sentinel", "redis_scaffold.service.sentinel_cmd", "check a running Sentinel deployment"
    ),
    Command("cluster", "redis_scaffold.service.cluster_cmd", "check a running Redis Cluster"),
    Command(
        "elasticache",
        "redis_scaffold.service.elasticache_cmd",
        "check an ElastiCache replication group",
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
        "fleet", "redis_scaffold.fleet", "which template release each service repository is on"
    ),
    Command(
        "post-copy",
        "redis_scaffold.service.post_copy",
        "run the opted-in hooks after copier copy (always exits 0)",
    ),
    Command(
        "demo",
        "redis_scaffold.sandbox.demo",
        "try the template on this machine: emulator, generation, secret, Sentinel, client",
        "sandbox",
        ("moto",),
    ),
    Command(
        "backstage",
        "redis_scaffold.portal.export",
        "write the developer-portal (Backstage) template",
        "portal",
        ("jsonschema",),
    ),
)
BY_NAME = {command.name: command for command in COMMANDS}


def chosen(argv: list[str]) -> Command | None:
    """The command named by the first argument, if any (the top level has only -h)."""
    return BY_NAME.get(argv[0]) if argv else None


def _metadata():
    from importlib.metadata import PackageNotFoundError, metadata

    try:
        return metadata("redis-scaffold")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return None


def version() -> str:
    found = _metadata()
    return found["Version"] if found else "unknown (not installed)"


def epilog() -> str:
    """The exit codes, and where the template's documentation is (pyproject's project.urls)."""
    found = _metadata()
    urls = dict(u.split(", ", 1) for u in (found.get_all("Project-URL") or [])) if found else {}
    docs = urls.get("Documentation")
    return f"{EPILOG}\nDocumentation: {docs}" if docs else EPILOG


def build_parser(command: Command | None = None, helping: bool = False) -> argparse.ArgumentParser:
    """The parser, with `command`'s module imported and every other command a stub.

    With `helping` (the command line asks for --help), a command whose extra is not
    installed gets a stub that says so, instead of failing to import.
    """
    parser = argparse.ArgumentParser(
        prog="redis-scaffold",
        description=DESCRIPTION,
        epilog=epilog(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"redis-scaffold {version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for entry in COMMANDS:
        if entry is command:
            if helping and entry.extra and not _installed(entry):
                _missing_extra_stub(sub, entry)
            else:
                importlib.import_module(entry.module).add_parser(sub)
        else:
            sub.add_parser(entry.name, help=entry.help)
    return parser


def _installed(command: Command) -> bool:
    return all(importlib.util.find_spec(module) is not None for module in command.requires)


def _missing_extra_stub(sub: argparse._SubParsersAction, command: Command) -> None:
    """`COMMAND [anything] --help` without the command's extra: what to install, exit 0."""
    from redis_scaffold.errors import EXTRAS

    parser = sub.add_parser(
        command.name,
        help=command.help,
        description=(
            f"{command.help[0].upper()}{command.help[1:]}.\n\n"
            f"This command needs the {command.extra} extra, which is not installed here:\n"
            f"  pip install '{EXTRAS[command.extra]}'\n"
            "Its options are listed here once it is installed."
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("words", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


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
    helping = any(a in ("-h", "--help") for a in argv)
    try:
        parser = build_parser(command, helping)
        prog = _prog(parser, argv)
        if helping and command and command.extra and not _installed(command):
            parser.parse_args([command.name, "--help"])  # the stub's page; exits 0
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
        if command and prog == f"redis-scaffold {command.name}" and argv[1:2]:
            # the module did not import, so its parser could not name the action
            prog += f" {argv[1]}" if not argv[1].startswith("-") else ""
        missing = missing_dependency(error, prog, command.extra if command else None)
        print(f"{prog}: {missing}", file=sys.stderr)
        return missing.exit_code


if __name__ == "__main__":
    sys.exit(main())
