"""`redis-scaffold elasticache check PROJECT_DIR`: the command-line side of service/elasticache.py.

Reads what the generated repository rendered for the app (manifest/components/redis-env:
REDIS_CACHE_NAME, REDIS_USER, REDIS_AWS_REGION, REDIS_PORT), asks the ElastiCache API
about the replication group and the user, and, when the primary endpoint answers from
here, signs in with an IAM token and does a write/read round trip over TLS. No password
exists or is printed.

Exit codes: 0 healthy (or the endpoint unreachable without --strict: a warning), 2
usage, 40-48 one per ElastiCacheCheckError kind (see service/elasticache.py). The report
goes to stdout, warnings to stderr.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from redis_scaffold.errors import UsageError
from redis_scaffold.project import app_env
from redis_scaffold.service import elasticache


def target_for(project: Path) -> elasticache.Target:
    """The replication group, user, region and port the app uses (the redis-env component)."""
    try:
        env = app_env(project)
        return elasticache.Target(
            cache_name=env["REDIS_CACHE_NAME"],
            user=env["REDIS_USER"],
            region=env["REDIS_AWS_REGION"],
            port=int(env["REDIS_PORT"]),
        )
    except KeyError as exc:
        raise UsageError(
            f"{project} does not say {exc}: is it a repository generated with topology "
            "elasticache (regenerate it or run `redis-scaffold update`)?"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def parse_endpoint(text: str, default_port: int) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    try:
        return host, int(port) if port else default_port
    except ValueError:
        raise UsageError(f"--endpoint must be HOST or HOST:PORT (got {text!r})") from None


def run(
    project: Path,
    timeout: float,
    strict: bool,
    endpoint: str | None,
    ca_certs: str | None,
    out: TextIO,
    err: TextIO,
) -> int:
    """Check the deployment; print the report on `out` and warnings on `err`."""
    target = target_for(project)
    override = parse_endpoint(endpoint, target.port) if endpoint else None
    print(
        f"checking ElastiCache replication group {target.cache_name!r} in {target.region} "
        f"as user {target.user!r} (timeout {timeout:g} s)",
        file=out,
    )
    report, unreachable = elasticache.check(target, timeout, override, ca_certs)
    print(report.text(), file=out)
    if unreachable is not None:
        if strict:
            raise unreachable
        print(
            f"warning: {unreachable}. ElastiCache answers only inside its VPC: run `make check` "
            "(redis-scaffold elasticache check . --strict) from there, or through a tunnel "
            "with --endpoint HOST:PORT.",
            file=err,
        )
        print("ok: the replication group's settings and the IAM user are as expected.", file=out)
        return 0
    print(
        "ok: replication group available, automatic failover, Multi-AZ, TLS, IAM user, "
        "and a write/read round trip all work.",
        file=out,
    )
    return 0


def _main(args: argparse.Namespace) -> int:
    return run(
        args.project,
        args.timeout,
        args.strict,
        args.endpoint,
        args.ca_certs,
        sys.stdout,
        sys.stderr,
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("elasticache", help="check an ElastiCache deployment")
    sub = group.add_subparsers(dest="elasticache_command", required=True, metavar="ACTION")
    parser = sub.add_parser(
        "check",
        help="describe the replication group and user; a TLS round trip with an IAM token",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "project", type=Path, metavar="PROJECT_DIR", help="the generated repository"
    )
    parser.add_argument(
        "--timeout", type=float, default=10.0, metavar="S", help="overall time limit (default 10)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail (exit 45) when the endpoint does not answer"
    )
    parser.add_argument(
        "--endpoint",
        metavar="HOST[:PORT]",
        help="connect here instead of the primary endpoint the API names (a tunnel)",
    )
    parser.add_argument(
        "--ca-certs",
        metavar="FILE",
        help="CA bundle for the TLS connection (default: the system's, which trust ElastiCache)",
    )
    parser.set_defaults(func=_main)
