"""`redis-scaffold secret ensure PROJECT_DIR`: create the secret, never change its value.

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


def add_parser(subparsers) -> None:
    secret = subparsers.add_parser("secret", help="create the AWS Secrets Manager secret")
    actions = secret.add_subparsers(dest="action", required=True, metavar="ACTION")
    parser = actions.add_parser(
        "ensure",
        help="Create the secret when absent; otherwise check it and mend tag drift.",
        description=(
            "Create the project's Secrets Manager secret, holding {KEY: password}, when "
            "it is absent. When it exists, its value is never changed: it is checked and "
            "only drift in description and tags is mended. Credentials come from the "
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
