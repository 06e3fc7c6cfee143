"""`redis-scaffold cluster check PROJECT_DIR`: what the Redis Cluster check reads and says.

The seed the app uses, the pod count and the replicas per master come from what the
generated repository rendered; the password from REDIS_PASSWORD or the AWS secret. The
flow is the check kernel's (service/check.py); the steps are service/cluster.py's.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from redis_scaffold.project import ClusterDeployment, app_env, cluster_deployment
from redis_scaffold.service import check as kernel
from redis_scaffold.service import cluster

SEEDS_ENV = "REDIS_SEEDS"

DESCRIPTION = """\
Check a running Redis Cluster of a generated repository (topology cluster):

  1. CLUSTER INFO and CLUSTER NODES from the first seed that answers;
  2. cluster_state ok, and masters without the fail flag serve all 16384 slots;
  3. no node failing; as many masters serving slots as the repository deploys, each
     with its replicas (otherwise losing one pod could lose slots);
  4. a write, read and delete of a throwaway key in the slots of every master,
     connecting to each master directly.

Every network call shares one time limit (--timeout). The password comes from
REDIS_PASSWORD, or from the AWS secret with --password-from secret; it is never printed.
With TLS (--tls, or a repository generated with tls: yes) every connection is verified
against the CA of --tls-ca or $REDIS_TLS_CA_FILE, hostname check on (servers with
tls-auth-clients yes get the client certificate of --tls-cert/--tls-key or
$REDIS_TLS_CERT_FILE/$REDIS_TLS_KEY_FILE). When no node answers (the cluster may not exist yet), that is a warning with exit 0
unless --strict."""

EPILOG = """\
exit codes:
  0   healthy (or no node answers, without --strict: a warning)
  2   usage error, or not a repository of topology cluster (the message names the
      check command for its topology)
  30  other check failure          34  a node is failing
  31  unreachable (with --strict)  35  wrong password
  32  not every slot is served     36  the round trip on a master failed
  33  fewer masters or replicas    37  the time limit ran out
      than the repository deploys  39  no password available
  38  TLS: a node's certificate is not trusted by the CA given (--tls-ca), or does
      not name the node"""


@dataclass(frozen=True)
class ClusterSettings(kernel.PasswordSettings):
    """`cluster check`'s options: the kernel's, and the nodes to ask first."""

    seeds: tuple[str, ...] = ()  # HOST:PORT; empty: the app's own REDIS_HOST:REDIS_PORT


@dataclass(frozen=True)
class Target:
    seeds: list[kernel.Address]
    rendered: ClusterDeployment


class ClusterCheck(kernel.Check):
    topology = "cluster"
    unreachable = cluster.Unreachable
    no_password = cluster.PasswordUnavailable
    members = "cluster node"
    ok = "ok: every slot served, every master replicated, a round trip on each."
    advice = (
        "The cluster may not exist yet; run `make check` "
        "(redis-scaffold cluster check . --strict) once it is deployed."
    )

    def target(self, settings: ClusterSettings) -> Target:
        """Default seed: the app's own REDIS_HOST:REDIS_PORT (the redis-env component)."""
        env = app_env(settings.project)
        rendered = cluster_deployment(settings.project)
        port = int(env["REDIS_PORT"])
        if settings.seeds:
            return Target([kernel.parse_address(s, port) for s in settings.seeds], rendered)
        return Target([(env["REDIS_HOST"], port)], rendered)

    def addresses(self, target: Target) -> list[kernel.Address]:
        return target.seeds

    def header(self, target: Target, settings: ClusterSettings) -> str:
        tried = ", ".join(map(kernel.fmt, target.seeds))
        return (
            f"checking the cluster through {tried}: {target.rendered.masters} masters with "
            f"{target.rendered.replicas_per_master} replica(s) each "
            f"(timeout {settings.timeout:g} s)"
        )

    def check(self, target: Target, password, settings: ClusterSettings):
        rendered = target.rendered
        report = cluster.check(
            target.seeds,
            password,
            rendered.masters,
            rendered.replicas_per_master,
            settings.timeout,
            tls=kernel.tls_for(settings, rendered.tls),
        )
        return report, None


def run(settings: ClusterSettings) -> int:
    """Check the cluster; the report on stdout, warnings on stderr (service/check.py)."""
    return kernel.run(ClusterCheck(), settings)


def _main(args: argparse.Namespace) -> int:
    return run(
        ClusterSettings(
            project=args.project,
            timeout=args.timeout,
            strict=args.strict,
            password_from=args.password_from,
            tls=args.tls,
            tls_ca=args.tls_ca,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            seeds=kernel.from_env_list(args.seed, os.environ, SEEDS_ENV),
        )
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    parser = kernel.add_check_parser(
        subparsers,
        ClusterCheck(),
        group_help="check a running Redis Cluster deployment",
        help="slot coverage, masters and replicas, node states and a round trip per master",
        description=DESCRIPTION,
        epilog=EPILOG,
    )
    parser.add_argument(
        "--seed",
        action="append",
        metavar="HOST:PORT",
        help=f"a node to ask first (repeatable); default ${SEEDS_ENV} (comma-separated), "
        "else the app's own REDIS_HOST:REDIS_PORT from manifest/components/redis-env",
    )
    parser.add_argument(
        "--timeout", type=float, default=5.0, metavar="S", help="overall time limit (default 5)"
    )
    parser.add_argument("--strict", action="store_true", help="fail (exit 31) when no node answers")
    kernel.add_password_option(parser)
    kernel.add_tls_options(parser)
    parser.set_defaults(func=_main)
