"""`copier copy --trust` with the post-copy tasks on: the real copier CLI, the hooks it
runs, the AWS emulator and a local Sentinel topology.

The stories: a newcomer without AWS credentials still gets the repository and is told
what to run later; a team with credentials gets its secret at copy time, and a later
`copier update` leaves it alone; a team whose Redis is already running gets it checked.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
from packaging.version import Version

from redis_scaffold.project import read_answers
from tests.fixtures.copier_cli import other_warnings
from tests.fixtures.generation import TEMPLATE_TAG, git, snapshot_template

# The release after the snapshot's: what `copier update` moves to.
NEXT = Version(TEMPLATE_TAG.lstrip("v"))
NEXT_TAG = f"v{NEXT.major}.{NEXT.minor}.{NEXT.micro + 1}"

AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)


def copier_copy(src: Path, dst: Path, env: dict, *data: str, ref: str = TEMPLATE_TAG):
    args = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults", "--vcs-ref", ref]
    for item in data:
        args += ["--data", item]
    return subprocess.run(
        [*args, str(src), str(dst)], env=env, capture_output=True, text=True, timeout=240
    )


@pytest.fixture
def clean_env(tmp_path: Path) -> dict:
    """The process env without any AWS setting: no credentials anywhere in the chain."""
    env = {k: v for k, v in os.environ.items() if k not in AWS_VARS}
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
    )
    return env


def test_newcomer_without_credentials_still_gets_the_repository(template_src, tmp_path, clean_env):
    dst = tmp_path / "cart"
    result = copier_copy(template_src, dst, clean_env, "create_secret=true")

    assert result.returncode == 0, result.stderr[-2000:]
    assert (dst / "manifest/redis/base/kustomization.yaml").is_file()
    assert "No AWS credentials were found" in result.stderr
    assert "make secret-ensure" in result.stderr  # what to run later
    answers = read_answers(dst)
    assert answers["create_secret"] is True


def test_secret_is_created_at_copy_and_left_alone_by_update(tmp_path, clean_env, moto_server):
    from redis_scaffold.sandbox.emulator import aws_env, reset

    reset(moto_server)
    env = {**clean_env, **aws_env(moto_server)}
    template = snapshot_template(tmp_path / "template")
    dst = tmp_path / "cart"

    result = copier_copy(template, dst, env, "create_secret=true")
    assert result.returncode == 0, result.stderr[-2000:]

    client = boto3.client(
        "secretsmanager",
        region_name="us-east-1",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    value = client.get_secret_value(SecretId="shopping-cart-redis")
    password = json.loads(value["SecretString"])["db-password"]
    assert len(password) >= 32
    assert password not in result.stdout + result.stderr

    # The template moves on; the team updates. Nothing may re-create or touch the secret.
    (template / "template" / "NOTICE.md").write_text(
        "Generated from the Redis Sentinel template.\n"
    )
    git(template, "add", "-A")
    git(
        template,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@example.invalid",
        "commit",
        "-qm",
        "notice",
    )
    git(template, "tag", NEXT_TAG)
    git(dst, "init", "-q")
    git(dst, "add", "-A")
    git(
        dst, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "generated"
    )
    update = subprocess.run(
        [sys.executable, "-m", "copier", "update", "--trust", "--defaults", "--vcs-ref", NEXT_TAG],
        cwd=dst,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert update.returncode == 0, update.stderr[-2000:]
    assert (dst / "NOTICE.md").is_file()
    assert "secret ensure" not in update.stdout + update.stderr
    after = client.get_secret_value(SecretId="shopping-cart-redis")
    assert after["VersionId"] == value["VersionId"]
    assert after["SecretString"] == value["SecretString"]


def test_running_redis_is_checked_at_copy(template_src, tmp_path, clean_env, topology):
    env = {
        **clean_env,
        "REDIS_SENTINELS": ",".join(f"{h}:{p}" for h, p in topology.sentinels),
        "REDIS_PASSWORD": topology.password,
    }
    dst = tmp_path / "cart"
    result = copier_copy(template_src, dst, env, "check_sentinel=true")

    assert result.returncode == 0, result.stderr[-2000:]
    output = result.stdout + result.stderr
    master_host, _ = topology.master_address()
    assert master_host in output
    assert other_warnings(output) == []
    assert topology.password not in output
