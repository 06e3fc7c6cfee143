"""`redis-scaffold secret ensure PROJECT_DIR`: create the secret, never change its password.
`redis-scaffold secret rotate PROJECT_DIR`: rotate it with no downtime (service/rotate.py);
`redis-scaffold secret rotate --from-env --wait SECONDS`: the same, as the scheduled
in-cluster runner does it (the secret and the pods from its CronJob's environment).

Reads the generated project's terraform/terraform.tfvars.json (project.load_spec: the
contract the Terraform also reads), builds a client from the standard AWS chain, runs
service/secret.py's ensure(), prints a short report on stdout. Failures are
`SecretError`s, which the command line (redis_scaffold.cli) writes as one paragraph on
stderr, exiting with the kind's code.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from redis_scaffold.errors import UsageError
from redis_scaffold.project import SecretSpec, load_spec
from redis_scaffold.service.check import add_tls_options
from redis_scaffold.service.secret import ensure, make_client

EXIT_CODES = """exit codes:
  0   the secret exists (created, or found and checked)
  10  other AWS error
  11  no AWS credentials
  12  access denied
  13  Secrets Manager endpoint unreachable
  14  secret scheduled for deletion
  15  existing value is not JSON or lacks the key
  16  project files missing or incomplete
  3   a package is missing (reinstall redis-scaffold)"""


def run(args: argparse.Namespace) -> int:
    spec = load_spec(Path(args.project_dir))
    if args.region:
        spec = dataclasses.replace(spec, region=args.region)
    client = make_client(region=spec.region, profile=args.profile)
    report = ensure(client, spec, dry_run=args.dry_run)
    print("\n".join(report.lines()))
    return 0


ROTATE_EXIT_CODES = """exit codes:
  0   the rotation is over (or advanced as far as --steps allows)
  2   usage: PROJECT_DIR or --from-env, and with --from-env a variable missing (named)
  30  the servers disagree or refused a step (nothing beyond the last step was changed)
  31  a pod or sentinel does not answer (named); nothing was changed in this run
  32  waiting: clients still hold connections opened with the old password; run again
      (with --wait: they still did when the wait was over)
  10-16  as for ensure"""

# --from-env: what the scheduled runner's CronJob sets (manifest/components/redis-rotation).
ROTATION_ENV = (
    "REDIS_SECRET_NAME",
    "REDIS_SECRET_KEY",
    "REDIS_SECRET_REGION",
    "PEER_HOSTS",
    "REDIS_PORT",
)


@dataclass(frozen=True)
class RotationTarget:
    """What one rotation run needs, from a project directory or from the environment."""

    spec: SecretSpec
    endpoints: list
    master_set: str
    tls_on: bool  # the repository's tls answer, or REDIS_TLS=true


def endpoints(project: Path, hosts: list[str]) -> tuple[list, str]:
    """Every pod's redis and sentinel of the project (or of --host), and the master set."""
    from redis_scaffold.project import STATEFULSET, _container_env, read_answers

    _, env = _container_env(project / STATEFULSET, "StatefulSet")
    hosts = hosts or env["PEER_HOSTS"].split()
    sentinel_port, master_set = 0, ""
    if read_answers(project).get("topology", "sentinel") == "sentinel":
        from redis_scaffold.project import deployment

        d = deployment(project)
        sentinel_port, master_set = d.sentinel_port, d.master_set
    return _endpoints(hosts, int(env["REDIS_PORT"]), sentinel_port), master_set


def _endpoints(hosts: list[str], redis_port: int, sentinel_port: int) -> list:
    from redis_scaffold.service.rotate import Endpoint

    out = [Endpoint(h, redis_port, "redis") for h in hosts]
    if sentinel_port:
        out += [Endpoint(h, sentinel_port, "sentinel") for h in hosts]
    return out


def target_from_project(project: Path, hosts: list[str]) -> RotationTarget:
    from redis_scaffold.project import read_answers

    eps, master_set = endpoints(project, hosts)
    return RotationTarget(
        load_spec(project), eps, master_set, bool(read_answers(project).get("tls"))
    )


def target_from_env(environ: Mapping[str, str], hosts: list[str]) -> RotationTarget:
    """The runner's target from the variables its CronJob sets (no project directory in
    the image): the secret, the pods' names and ports, the master set (Sentinel)."""
    missing = [name for name in ROTATION_ENV if not environ.get(name, "").strip()]
    if environ.get("SENTINEL_PORT") and not environ.get("MASTER_SET"):
        missing.append("MASTER_SET")
    if missing:
        raise UsageError(
            f"--from-env: {', '.join(missing)} not set (the rotation CronJob sets "
            f"{', '.join(ROTATION_ENV)}, and SENTINEL_PORT with MASTER_SET on Sentinel)"
        )
    ports = {}
    for name in ("REDIS_PORT", "SENTINEL_PORT"):
        value = environ.get(name, "").strip()
        if value and not (value.isdigit() and 1 <= int(value) <= 65535):
            raise UsageError(
                f"--from-env: {name} must be a port number from 1 to 65535 (got '{value}')"
            )
        ports[name] = int(value or 0)
    spec = SecretSpec(
        name=environ["REDIS_SECRET_NAME"],
        key=environ["REDIS_SECRET_KEY"],
        region=environ["REDIS_SECRET_REGION"],
    )
    eps = _endpoints(
        hosts or environ["PEER_HOSTS"].split(), ports["REDIS_PORT"], ports["SENTINEL_PORT"]
    )
    tls_on = environ.get("REDIS_TLS", "").lower() in ("1", "true", "yes")
    return RotationTarget(spec, eps, environ.get("MASTER_SET", ""), tls_on)


def rotate(args: argparse.Namespace, environ: Mapping[str, str] | None = None) -> int:
    from redis_scaffold.service.check import PasswordSettings, tls_for
    from redis_scaffold.service.rotate import Rotation, SecretVersions, Servers

    environ = os.environ if environ is None else environ  # the CLI boundary
    if bool(args.project_dir) == bool(args.from_env):
        raise UsageError(
            "give either PROJECT_DIR (a generated repository) or --from-env (the "
            "rotation CronJob's environment), not both"
        )
    if args.from_env:
        target = target_from_env(environ, args.host or [])
        project = Path(".")
    else:
        project = Path(args.project_dir)
        target = target_from_project(project, args.host or [])
    spec = target.spec
    if args.region:
        spec = dataclasses.replace(spec, region=args.region)
    client = make_client(region=spec.region, profile=args.profile)
    tls = tls_for(
        PasswordSettings(
            project=project,
            tls=args.tls,
            tls_ca=args.tls_ca,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
            environ=environ,
        ),
        target.tls_on,
        "REDIS_TLS" if args.from_env else "the repository's tls answer",
    )
    servers = Servers(target.endpoints, target.master_set, tls=tls)
    # Each line as it happens: a CronJob's log (kubectl logs) shows where a run stands.
    rotation = Rotation(
        SecretVersions(client, spec.name, spec.key),
        servers,
        say=lambda line: print(line, flush=True),
    )
    if args.wait is None:
        last = rotation.run(max_steps=args.steps)
    else:
        last = rotation.run_waiting(wait_s=args.wait, poll_s=args.poll)
    print(f"rotation of {spec.name}: {last}")
    return 0


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds < 86400 * 7:
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0 (got '{value}')")
    return seconds


def add_parser(subparsers) -> None:
    secret = subparsers.add_parser(
        "secret", help="create the AWS Secrets Manager secret, or rotate its password"
    )
    actions = secret.add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = actions.add_parser(
        "ensure",
        help="Create the secret when absent; otherwise check it and mend tag drift.",
        description=(
            "Create the project's Secrets Manager secret, holding {KEY: password}, when "
            "it is absent. When it exists, its password is never changed: it is checked, "
            "an empty KEY_previous is added when missing (rotation reads it), and "
            "drift in description and tags is mended. Credentials come from the "
            "standard AWS chain; AWS_ENDPOINT_URL* is honoured."
        ),
        epilog=EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("project_dir", metavar="PROJECT_DIR", help="the generated repository")
    parser.add_argument("--dry-run", action="store_true", help="print the plan; write nothing")
    parser.add_argument("--region", help="AWS region (default: the project's)")
    parser.add_argument("--profile", help="AWS profile of the shared config files")
    parser.set_defaults(func=run)
    rotate_parser = actions.add_parser(
        "rotate",
        help="Rotate the password with no downtime (resumable; run again until done).",
        description=(
            "Rotate the project's Redis password: Secrets Manager's createSecret, "
            "setSecret, testSecret and finishSecret, then, once no client holds a "
            "connection opened with the old password, the retire step that removes it. "
            "Where it stands is read from the staging labels and the servers: run it "
            "again after any interruption. Needs every pod and sentinel reachable on the "
            "project's ports: from inside the cluster by the pods' names (a pod the "
            "NetworkPolicy admits), or through --host addresses that reach each pod."
        ),
        epilog=ROTATE_EXIT_CODES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    rotate_parser.add_argument(
        "project_dir", metavar="PROJECT_DIR", nargs="?", help="the generated repository"
    )
    rotate_parser.add_argument(
        "--from-env",
        action="store_true",
        help=(
            "no repository: the secret and the servers from the environment "
            "(REDIS_SECRET_NAME, REDIS_SECRET_KEY, REDIS_SECRET_REGION, PEER_HOSTS, "
            "REDIS_PORT; SENTINEL_PORT and MASTER_SET on Sentinel; REDIS_TLS and the "
            "REDIS_TLS_*_FILE files), as the rotation CronJob sets them"
        ),
    )
    rotate_parser.add_argument(
        "--wait",
        type=_seconds,
        metavar="SECONDS",
        help=(
            "run every step to the end, and wait at most SECONDS at retire for the "
            "clients to move (exit 32 if they have not); --steps is then ignored"
        ),
    )
    rotate_parser.add_argument(
        "--poll",
        type=_seconds,
        default=30,
        metavar="SECONDS",
        help="with --wait: look at the clients again every SECONDS (default 30)",
    )
    rotate_parser.add_argument(
        "--host", action="append", help="a pod's address (repeatable); default the pods' names"
    )
    rotate_parser.add_argument(
        "--steps", type=int, default=3, help="at most this many steps in this run (default 3)"
    )
    add_tls_options(rotate_parser)
    rotate_parser.add_argument("--region", help="AWS region (default: the project's)")
    rotate_parser.add_argument("--profile", help="AWS profile of the shared config files")
    rotate_parser.set_defaults(func=rotate)
