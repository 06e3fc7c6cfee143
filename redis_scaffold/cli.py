"""The `redis-scaffold` command: one subcommand group per hook module.

Every module listed in COMMANDS exposes ``add_parser(subparsers)``; the parser it
adds sets ``func`` to a callable taking the parsed args and returning an exit code.
"""

from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = (
    "redis_scaffold.service.secret_cmd",
    "redis_scaffold.service.sentinel_cmd",
    "redis_scaffold.sandbox.demo",
    "redis_scaffold.service.post_copy",
    "redis_scaffold.service.update",
    "redis_scaffold.service.adopt",
    "redis_scaffold.portal.export",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redis-scaffold",
        description="Hooks for repositories generated from the Redis Sentinel template.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(name).add_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
