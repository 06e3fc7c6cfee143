"""`redis-scaffold cluster check PROJECT_DIR`: the command-line side of service/cluster.py.

Reads what the generated repository rendered (the seed the app uses, the pod count and
the replicas per master) and the password (REDIS_PASSWORD, or the AWS secret named in
terraform.tfvars.json), runs the check and prints its report. The password is never
printed.

Exit codes: 0 healthy (or unreachable without --strict: a warning), 2 usage, 30-37 one
per ClusterCheckError kind (see service/cluster.py), 39 no password. The report goes
to stdout, warnings to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TextIO

from redis_scaffold.errors import UsageError
from redis_scaffold.project import ClusterDeployment, app_env, cluster_deployment
from redis_scaffold.service import cluster, sentinel, sentinel_cmd

SEEDS_ENV = "REDIS_SEEDS"


class PasswordUnavailable(cluster.ClusterCheckError):
    exit_code = 39
    kind = "no password for the check"


def seeds_for(
    project: Path, seeds: list[str] | None
) -> tuple[list[sentinel.Address], ClusterDeployment]:
    """Default seed: the app's own REDIS_HOST:REDIS_PORT (the redis-env component)."""
    try:
        env = app_env(project)
        rendered = cluster_deployment(project)
        port = int(env["REDIS_PORT"])
        if seeds:
            return [sentinel.parse_address(s, port) for s in seeds], rendered
        return [(env["REDIS_HOST"], port)], rendered
    except KeyError as exc:
        raise UsageError(
            f"{project} does not say {exc}: is it a repository generated with topology cluster?"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None


def password(project: Path, password_from: str, environ: Mapping[str, str]) -> str:
    try:
        if password_from == "env":
            return sentinel_cmd.password_from_env(environ)
        return sentinel_cmd.password_from_secret(project)
    except sentinel_cmd.PasswordUnavailable as exc:
        raise PasswordUnavailable(str(exc)) from None


def run(
    project: Path,
    seeds: list[str] | None,
    timeout: float,
    strict: bool,
    password_from: str,
    environ: Mapping[str, str],
    out: TextIO,
    err: TextIO,
) -> int:
    """Check the cluster; print the report on `out` and warnings on `err`."""
    addresses, rendered = seeds_for(project, seeds)
    tried = ", ".join(map(sentinel.fmt, addresses))
    try:
        secret = password(project, password_from, environ)
    except PasswordUnavailable:
        if not sentinel.reachable(addresses, timeout):
            return unreachable(
                cluster.Unreachable(f"no cluster node accepts connections; tried: {tried}", []),
                strict,
                err,
            )
        raise
    print(
        f"checking the cluster through {tried}: {rendered.masters} masters with "
        f"{rendered.replicas} replica(s) each (timeout {timeout:g} s)",
        file=out,
    )
    try:
        report = cluster.check(addresses, secret, rendered.masters, rendered.replicas, timeout)
    except cluster.Unreachable as exc:
        return unreachable(exc, strict, err)
    print(report.text(), file=out)
    print("ok: every slot served, every master replicated, a round trip on each.", file=out)
    return 0


def unreachable(error: cluster.Unreachable, strict: bool, err: TextIO) -> int:
    """With --strict a failure (exit 31); otherwise a warning: the cluster may not exist yet."""
    if strict:
        raise error
    print(
        f"warning: {error}. The cluster may not exist yet; run `make check` "
        "(redis-scaffold cluster check . --strict) once it is deployed.",
        file=err,
    )
    return 0


def _main(args: argparse.Namespace) -> int:
    seeds = args.seed or [s for s in os.environ.get(SEEDS_ENV, "").split(",") if s.strip()]
    return run(
        args.project,
        seeds,
        args.timeout,
        args.strict,
        args.password_from,
        os.environ,
        sys.stdout,
        sys.stderr,
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("cluster", help="check a running Redis Cluster deployment")
    sub = group.add_subparsers(dest="cluster_command", required=True, metavar="ACTION")
    parser = sub.add_parser(
        "check",
        help="slot coverage, masters and replicas, node states and a round trip per master",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "project", type=Path, metavar="PROJECT_DIR", help="the generated repository"
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
    parser.add_argument(
        "--password-from",
        choices=("env", "secret"),
        default="env",
        help="REDIS_PASSWORD (default), or the AWS secret named in terraform/terraform.tfvars.json",
    )
    parser.set_defaults(func=_main)
