"""A local AWS emulator: moto in server mode on 127.0.0.1, reached over real HTTP.

Used by the tests, the demo and the benchmarks. Nothing here talks to AWS: the
environment from `aws_env()` points boto3 and Terraform at the emulator and cuts the
credential chain off from the user's real files and from instance metadata.
"""

from __future__ import annotations

import contextlib
import logging
import urllib.request
from collections.abc import Iterator

DUMMY_ACCESS_KEY = "testing"
DUMMY_SECRET_KEY = "testing"


class EmulatorError(RuntimeError):
    """The emulator could not start (moto[server] missing, or no free port)."""


@contextlib.contextmanager
def moto_server(
    host: str = "127.0.0.1", port: int | None = None, *, quiet: bool = True
) -> Iterator[str]:
    """Run a moto ThreadedMotoServer; yields its endpoint URL, stops it on exit.

    quiet: keep werkzeug's one-line-per-request log below WARNING while it runs.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as exc:  # pragma: no cover - depends on the install
        raise EmulatorError(
            "The AWS emulator needs moto in server mode: pip install 'moto[server]'."
        ) from exc
    # Port 0: the kernel picks a free port when the server binds, so no race.
    server = ThreadedMotoServer(ip_address=host, port=port or 0, verbose=False)
    werkzeug_log = logging.getLogger("werkzeug")
    previous_level = werkzeug_log.level
    if quiet:
        werkzeug_log.setLevel(logging.WARNING)
    server.start()
    try:
        bound_host, bound_port = server.get_host_and_port()
        yield f"http://{bound_host}:{bound_port}"
    finally:
        server.stop()
        werkzeug_log.setLevel(previous_level)


def reset(endpoint: str) -> None:
    """Forget every resource the emulator holds (moto's reset API)."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10):
        pass


def aws_env(endpoint: str, region: str = "us-east-1") -> dict[str, str]:
    """Environment variables that send boto3 and Terraform to the emulator only.

    Dummy static credentials come first in the chain; the shared config and
    credentials files are /dev/null and instance metadata is disabled, so no real
    profile or role can be picked up by accident.
    """
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": DUMMY_ACCESS_KEY,
        "AWS_SECRET_ACCESS_KEY": DUMMY_SECRET_KEY,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }


# Variables of the credential chain and endpoint selection that must not leak in
# from the caller's environment when `aws_env()` is applied.
AWS_ENV_TO_CLEAR = (
    "AWS_PROFILE",
    "AWS_DEFAULT_PROFILE",
    "AWS_SESSION_TOKEN",
    "AWS_SECURITY_TOKEN",
    "AWS_ROLE_ARN",
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_STS",
    "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
)


def terraform_override(endpoint: str) -> str:
    """An `emulator_override.tf` that points the aws provider at the emulator."""
    return f"""provider "aws" {{
  endpoints {{
    secretsmanager = "{endpoint}"
    sts            = "{endpoint}"
    iam            = "{endpoint}"
    kms            = "{endpoint}"
    elasticache    = "{endpoint}"
    ec2            = "{endpoint}"
  }}
  skip_credentials_validation = true
  skip_metadata_api_check     = true
  skip_region_validation      = true
  skip_requesting_account_id  = true
}}
"""
