"""`redis-scaffold sentinel check PROJECT_DIR`: what the Sentinel check reads and says.

The sentinels, master set and pod count come from what the generated repository
rendered; the password from REDIS_PASSWORD or the AWS secret. The flow (usage errors,
password, report, warning or failure when nothing answers) is the check kernel's
(service/check.py); the steps are service/sentinel.py's.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from redis_scaffold.project import app_env, deployment
from redis_scaffold.service import check as kernel
from redis_scaffold.service import sentinel

SENTINELS_ENV = "REDIS_SENTINELS"

DESCRIPTION = """\
Check a running Redis Sentinel deployment of a generated repository:

  1. every sentinel names the same master for the master set;
  2. SENTINEL CKQUORUM: the sentinels can agree on a failover;
  3. as many sentinels and replicas as the repository deploys;
  4. the master accepts the password and says its role is master;
  5. a write, read and delete of a throwaway key (60 s TTL) on the master.

Every network call, name resolution included, shares one time limit (--timeout).
The password comes from REDIS_PASSWORD, or from the AWS secret with --password-from
secret; it is never printed. With TLS (--tls, or a repository generated with tls:
yes) every connection is verified against the CA of --tls-ca or $REDIS_TLS_CA_FILE,
hostname check on; servers with tls-auth-clients yes get the client certificate of
--tls-cert/--tls-key or $REDIS_TLS_CERT_FILE/$REDIS_TLS_KEY_FILE. When no sentinel answers (the deployment may not exist
yet), that is a warning with exit 0 unless --strict."""

EPILOG = """\
exit codes:
  0   healthy (or no sentinel answers, without --strict: a warning)
  2   usage error, or not a repository of topology sentinel (the message names the
      check command for its topology)
  20  other check failure          25  wrong password
  21  unreachable (with --strict)  26  the master named does not answer as master
  22  no master, or sentinels      27  the write/read round trip failed
      disagree (a failover?)       28  the time limit ran out
  23  no quorum                    29  no password available
  24  sentinel or replica count differs from the repository
  19  TLS: a server's certificate is not trusted by the CA given (--tls-ca), or does
      not name the server"""


@dataclass(frozen=True)
class SentinelSettings(kernel.PasswordSettings):
    """`sentinel check`'s options: the kernel's, and the sentinels to ask."""

    sentinels: tuple[str, ...] = ()  # HOST:PORT; empty: the app's own sentinel


@dataclass(frozen=True)
class Target:
    """What to check, from what the generated repository rendered."""

    sentinels: list[sentinel.Address]
    master_set: str
    pods: int
    tls: bool = False  # the repository's tls answer (its StatefulSet mounts TLS_DIR)


def target_for(project, sentinels: tuple[str, ...] | list[str] = ()) -> Target:
    """Default sentinel: the one the app uses, REDIS_HOST:REDIS_SENTINEL_PORT of the redis-env component."""
    env = app_env(project)
    port = int(env["REDIS_SENTINEL_PORT"])
    if sentinels:
        addresses = [sentinel.parse_address(s, port) for s in sentinels]
    else:
        addresses = [(env["REDIS_HOST"], port)]
    rendered = deployment(project)
    return Target(
        sentinels=addresses,
        master_set=env["REDIS_MASTER_SET"],
        pods=rendered.pods,
        tls=rendered.tls,
    )


class SentinelCheck(kernel.Check):
    topology = "sentinel"
    unreachable = sentinel.Unreachable
    no_password = sentinel.PasswordUnavailable
    members = "sentinel"
    ok = "ok: Sentinel, quorum, master and a write/read round trip all work."
    advice = (
        "The Sentinel deployment may not exist yet; "
        "run `make check` (redis-scaffold sentinel check . --strict) once it is deployed."
    )

    def target(self, settings: SentinelSettings) -> Target:
        return target_for(settings.project, settings.sentinels)

    def addresses(self, target: Target) -> list[sentinel.Address]:
        return target.sentinels

    def header(self, target: Target, settings: SentinelSettings) -> str:
        tried = ", ".join(map(sentinel.fmt, target.sentinels))
        return (
            f"checking master set {target.master_set!r} through {tried} "
            f"(timeout {settings.timeout:g} s)"
        )

    def check(self, target: Target, password, settings: SentinelSettings):
        report = sentinel.check(
            target.sentinels,
            target.master_set,
            password,
            target.pods,
            settings.timeout,
            tls=kernel.tls_for(settings, target.tls),
        )
        return report, None


def run(settings: SentinelSettings) -> int:
    """Check the deployment; the report on stdout, warnings on stderr (service/check.py)."""
    return kernel.run(SentinelCheck(), settings)


def _main(args: argparse.Namespace) -> int:
    return run(
        SentinelSettings(
            project=args.project,
            timeout=args.timeout,
            strict=args.strict,
            password_from=args.password_from,
            tls=args.tls,
            tls_ca=args.tls_ca,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            sentinels=kernel.from_env_list(args.sentinel, os.environ, SENTINELS_ENV),
        )
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = kernel.add_check_parser(
        subparsers,
        SentinelCheck(),
        group_help="check a running Sentinel deployment",
        help="discover the master, check quorum, members, auth and a write/read round trip",
        description=DESCRIPTION,
        epilog=EPILOG,
    )
    parser.add_argument(
        "--sentinel",
        action="append",
        metavar="HOST:PORT",
        help=f"a sentinel to ask (repeatable); default ${SENTINELS_ENV} (comma-separated), "
        "else the app's own REDIS_HOST:REDIS_SENTINEL_PORT from manifest/components/redis-env",
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="overall time limit (default 5)"
    )
    parser.add_argument(
        "--strict", action="store_true", help="fail (exit 21) when no sentinel answers"
    )
    kernel.add_password_option(parser)
    kernel.add_tls_options(parser)
    parser.set_defaults(func=_main)
