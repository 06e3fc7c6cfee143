"""`redis-scaffold secret ensure PROJECT_DIR`: create the secret, never change its password.
`redis-scaffold secret rotate PROJECT_DIR`: rotate it with no downtime (service/rotate.py).

Reads the generated project's terraform/terraform.tfvars.json (project.load_spec: the
contract the Terraform also reads), builds a client from the standard AWS chain, runs
service/secret.py's ensure(), prints a short report on stdout. Failures are
`SecretError`s, which the command line (redis_scaffold.cli) writes as one paragraph on
stderr, exiting with the kind's code.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from redis_scaffold.project import load_spec
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
  30  the servers disagree or refused a step (nothing beyond the last step was changed)
  31  a pod or sentinel does not answer (named); nothing was changed in this run
  32  waiting: clients still hold connections opened with the old password; run again
  10-16  as for ensure"""


def endpoints(project: Path, hosts: list[str]) -> tuple[list, str]:
    """Every pod's redis and sentinel of the project (or of --host), and the master set."""
    from redis_scaffold.project import STATEFULSET, _container_env, read_answers
    from redis_scaffold.service.rotate import Endpoint

    _, env = _container_env(project / STATEFULSET, "StatefulSet")
    hosts = hosts or env["PEER_HOSTS"].split()
    redis_port = int(env["REDIS_PORT"])
    out = [Endpoint(h, redis_port, "redis") for h in hosts]
    master_set = ""
    if read_answers(project).get("topology", "sentinel") == "sentinel":
        from redis_scaffold.project import deployment

        d = deployment(project)
        master_set = d.master_set
        out += [Endpoint(h, d.sentinel_port, "sentinel") for h in hosts]
    return out, master_set


def rotate(args: argparse.Namespace) -> int:
    from redis_scaffold.project import read_answers
    from redis_scaffold.service.check import PasswordSettings, tls_for
    from redis_scaffold.service.rotate import Rotation, SecretVersions, Servers

    project = Path(args.project_dir)
    spec = load_spec(project)
    if args.region:
        spec = dataclasses.replace(spec, region=args.region)
    client = make_client(region=spec.region, profile=args.profile)
    eps, master_set = endpoints(project, args.host or [])
    tls = tls_for(
        PasswordSettings(
            project=project,
            tls=args.tls,
            tls_ca=args.tls_ca,
            tls_cert=args.tls_cert,
            tls_key=args.tls_key,
        ),
        bool(read_answers(project).get("tls")),
    )
    servers = Servers(eps, master_set, tls=tls)
    rotation = Rotation(SecretVersions(client, spec.name, spec.key), servers)
    last = rotation.run(max_steps=args.steps)
    print(f"rotation of {spec.name}: {last}")
    return 0


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
        "project_dir", metavar="PROJECT_DIR", help="the generated repository"
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
