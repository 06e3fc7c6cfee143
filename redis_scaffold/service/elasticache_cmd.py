"""`redis-scaffold elasticache check PROJECT_DIR`: what the ElastiCache check reads and says.

The replication group, user, region and port come from what the generated repository
renders for the app (manifest/components/redis-env). The flow is the check kernel's
(service/check.py); the steps are service/elasticache.py's.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from redis_scaffold.errors import UsageError
from redis_scaffold.project import app_env
from redis_scaffold.service import check as kernel
from redis_scaffold.service import elasticache

DESCRIPTION = """\
Check the AWS ElastiCache replication group of a generated repository (topology
elasticache), as the app reaches it:

  1. the ElastiCache API describes the group: available, automatic failover,
     Multi-AZ and TLS on;
  2. the app's ElastiCache user authenticates with IAM;
  3. an IAM authentication token is signed with the standard AWS credential chain;
  4. over TLS, the user signs in with the token on the primary endpoint and writes,
     reads and deletes a throwaway key (60 s TTL).

The API calls and the connection share one time limit (--timeout). ElastiCache answers
only inside its VPC, so an endpoint that does not answer from here is a warning with
exit 0 unless --strict; --endpoint HOST[:PORT] connects through a tunnel instead."""

EPILOG = """\
exit codes:
  0   healthy (or the endpoint does not answer, without --strict: a warning)
  2   usage error, or not a repository of topology elasticache (the message names the
      check command for its topology)
  40  other check failure                  44  failover, Multi-AZ or TLS off, or the
  41  the AWS API cannot be used (no           user does not use IAM
      credentials, access denied, ...)     45  no answer over TLS (with --strict)
  42  the group or the user does not exist 46  the endpoint refused the IAM token
  43  the group is not available           47  the write/read round trip failed
                                           48  the time limit ran out"""


@dataclass(frozen=True)
class ElastiCacheSettings(kernel.CheckSettings):
    """`elasticache check`'s options: the kernel's, and a tunnel to connect through."""

    timeout: float = 10.0
    endpoint: str | None = None  # HOST[:PORT] instead of the primary endpoint
    ca_certs: str | None = None  # the CA bundle that tunnel's certificate needs


def target_for(project) -> elasticache.Target:
    """The replication group, user, region and port the app uses (the redis-env component)."""
    env = app_env(project)
    return elasticache.Target(
        cache_name=env["REDIS_CACHE_NAME"],
        user=env["REDIS_USER"],
        region=env["REDIS_AWS_REGION"],
        port=int(env["REDIS_PORT"]),
    )


def parse_endpoint(text: str, default_port: int) -> tuple[str, int]:
    host, _, port = text.rpartition(":") if ":" in text else (text, "", "")
    try:
        return host, int(port) if port else default_port
    except ValueError:
        raise UsageError(f"--endpoint must be HOST or HOST:PORT (got {text!r})") from None


class ElastiCacheCheck(kernel.Check):
    topology = "elasticache"
    unreachable = elasticache.Unreachable
    ok = (
        "ok: replication group available, automatic failover, Multi-AZ, TLS, IAM user, "
        "and a write/read round trip all work."
    )
    partly_ok = "ok: the replication group's settings and the IAM user are as expected."
    advice = (
        "ElastiCache answers only inside its VPC: run `make check` "
        "(redis-scaffold elasticache check . --strict) from there, or through a tunnel "
        "with --endpoint HOST:PORT."
    )

    def target(self, settings: ElastiCacheSettings) -> elasticache.Target:
        return target_for(settings.project)

    def header(self, target: elasticache.Target, settings: ElastiCacheSettings) -> str:
        return (
            f"checking ElastiCache replication group {target.cache_name!r} in {target.region} "
            f"as user {target.user!r} (timeout {settings.timeout:g} s)"
        )

    def check(self, target: elasticache.Target, password, settings: ElastiCacheSettings):
        override = parse_endpoint(settings.endpoint, target.port) if settings.endpoint else None
        return elasticache.check(target, settings.timeout, override, settings.ca_certs)


def run(settings: ElastiCacheSettings) -> int:
    """Check the group; the report on stdout, warnings on stderr (service/check.py)."""
    return kernel.run(ElastiCacheCheck(), settings)


def _main(args: argparse.Namespace) -> int:
    return run(
        ElastiCacheSettings(
            project=args.project,
            timeout=args.timeout,
            strict=args.strict,
            endpoint=args.endpoint,
            ca_certs=args.ca_certs,
        )
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = kernel.add_check_parser(
        subparsers,
        ElastiCacheCheck(),
        group_help="check an ElastiCache replication group",
        help="describe the replication group and user; a TLS round trip with an IAM token",
        description=DESCRIPTION,
        epilog=EPILOG,
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
