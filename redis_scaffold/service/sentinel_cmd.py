"""`redis-scaffold sentinel check PROJECT_DIR`: the command-line side of service/sentinel.py.

Reads what the generated repository rendered (sentinel addresses, master set, pod count)
and the password (REDIS_PASSWORD, or the AWS secret named in terraform.tfvars.json),
runs the check and prints its report. The password is never printed.

Exit codes: 0 healthy (or unreachable without --strict: a warning), 2 usage,
20-28 one per SentinelCheckError kind (see service/sentinel.py), 29 no
password. Failures are raised as `ScaffoldError`s; the command line (redis_scaffold.cli)
writes them on stderr. The report goes to stdout, warnings to stderr.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from redis_scaffold.errors import UsageError
from redis_scaffold.project import app_env, deployment
from redis_scaffold.service import sentinel

PASSWORD_UNAVAILABLE = 29
SENTINELS_ENV = "REDIS_SENTINELS"


class PasswordUnavailable(sentinel.SentinelCheckError):
    exit_code = PASSWORD_UNAVAILABLE
    kind = "no password for the check"


@dataclass(frozen=True)
class Target:
    """What to check, from the generated repository's answers."""

    sentinels: list[sentinel.Address]
    master_set: str
    pods: int


def target_for(project: Path, sentinels: list[str] | None = None) -> Target:
    """Default sentinel: the one the app uses, REDIS_HOST:REDIS_SENTINEL_PORT of the redis-env component."""
    env = app_env(project)
    port = int(env["REDIS_SENTINEL_PORT"])
    if sentinels:
        addresses = [sentinel.parse_address(s, port) for s in sentinels]
    else:
        addresses = [(env["REDIS_HOST"], port)]
    return Target(
        sentinels=addresses,
        master_set=env["REDIS_MASTER_SET"],
        pods=deployment(project).pods,
    )


def password_from_env(environ: Mapping[str, str]) -> str:
    password = environ.get("REDIS_PASSWORD")
    if not password:
        raise PasswordUnavailable("REDIS_PASSWORD is not set (or use --password-from secret).")
    return password


def password_from_secret(project: Path) -> str:
    """Read the password from the AWS secret named in terraform/terraform.tfvars.json."""
    try:
        from redis_scaffold.service.secret import SecretError, make_client, read_password
        from redis_scaffold.service.secret_cmd import load_spec
    except ModuleNotFoundError as exc:
        raise PasswordUnavailable(
            f"reading the secret needs the Python package {exc.name!r}: pip install redis-scaffold"
        ) from None
    try:
        spec = load_spec(project)
        return read_password(make_client(spec.region or None), spec.name, spec.key)
    except SecretError as exc:  # its messages never hold the value
        raise PasswordUnavailable(str(exc)) from None


def run(
    project: Path,
    sentinels: list[str] | None,
    timeout: float,
    strict: bool,
    password_from: str,
    environ: Mapping[str, str],
    out: TextIO,
    err: TextIO,
) -> int:
    """Check the deployment; print the report on `out` and warnings on `err`.

    Returns 0 (healthy, or unreachable without `strict`); raises a SentinelCheckError
    kind otherwise, or UsageError when the project cannot be read.
    """
    try:
        target = target_for(project, sentinels)
    except KeyError as exc:
        raise UsageError(
            f"{project} does not say {exc}: is it a repository generated from this template "
            "(regenerate it or run `redis-scaffold update`)?"
        ) from None
    except (OSError, ValueError) as exc:
        raise UsageError(str(exc)) from None
    tried = ", ".join(map(sentinel.fmt, target.sentinels))
    try:
        password = (
            password_from_env(environ) if password_from == "env" else password_from_secret(project)
        )
    except PasswordUnavailable:
        # Without a password nothing can be checked; if nothing listens either, that is
        # the usual "the cluster does not exist yet" case, which is only a warning.
        if not sentinel.reachable(target.sentinels, timeout):
            return unreachable(
                sentinel.Unreachable(
                    f"no sentinel accepts connections; tried: {tried}",
                    [sentinel.fmt(a) for a in target.sentinels],
                ),
                strict,
                err,
            )
        raise
    print(
        f"checking master set {target.master_set!r} through {tried} (timeout {timeout:g} s)",
        file=out,
    )
    try:
        report = sentinel.check(target.sentinels, target.master_set, password, target.pods, timeout)
    except sentinel.Unreachable as exc:
        return unreachable(exc, strict, err)
    print(report.text(), file=out)
    print("ok: Sentinel, quorum, master and a write/read round trip all work.", file=out)
    return 0


def unreachable(error: sentinel.Unreachable, strict: bool, err: TextIO) -> int:
    """With --strict a failure (exit 21); otherwise a warning: the cluster may not exist yet."""
    if strict:
        raise error
    print(
        f"warning: {error}. The Sentinel deployment may not exist yet; "
        "run `make check` (redis-scaffold sentinel check . --strict) once it is deployed.",
        file=err,
    )
    return 0


def _main(args: argparse.Namespace) -> int:
    sentinels = args.sentinel or [
        s for s in os.environ.get(SENTINELS_ENV, "").split(",") if s.strip()
    ]
    return run(
        args.project,
        sentinels,
        args.timeout,
        args.strict,
        args.password_from,
        os.environ,
        sys.stdout,
        sys.stderr,
    )


def add_parser(subparsers: argparse._SubParsersAction) -> None:
    group = subparsers.add_parser("sentinel", help="check a running Sentinel deployment")
    sub = group.add_subparsers(dest="sentinel_command", required=True, metavar="ACTION")
    parser = sub.add_parser(
        "check",
        help="discover the master, check quorum, members, auth and a write/read round trip",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "project", type=Path, metavar="PROJECT_DIR", help="the generated repository"
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
    parser.add_argument(
        "--password-from",
        choices=("env", "secret"),
        default="env",
        help="REDIS_PASSWORD (default), or the AWS secret named in terraform/terraform.tfvars.json",
    )
    parser.set_defaults(func=_main)
