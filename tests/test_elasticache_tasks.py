"""The post-copy hook with `topology: elasticache`: the ElastiCache check, never a secret.

Story: a team whose replication group already exists (in the AWS emulator) asks for the
check at copy time. Copier's task runs hooks/post_copy.py with --check-elasticache,
which runs `redis-scaffold elasticache check`: the group and the user are described, the
endpoint is out of reach from here (as it is outside the VPC), and the copy still
succeeds with a warning saying what to run later. No secret is created.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from redis_scaffold.sandbox.emulator import aws_env, reset
from tests.fixtures.generation import TEMPLATE_ROOT, TEMPLATE_TAG

pytestmark = pytest.mark.slow

ELASTICACHE = [
    "topology=elasticache",
    "vpc_id=vpc-0123456789abcdef0",
    "subnet_ids=subnet-0123456789abcdef0,subnet-0fedcba9876543210",
    "app_security_group_id=sg-0123456789abcdef0",
    "service_name=cart",
]


@pytest.fixture
def emulator_env(moto_server: str, tmp_path: Path) -> dict[str, str]:
    """The process env pointed at the emptied emulator, with a replication group and user."""
    import boto3

    reset(moto_server)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env |= aws_env(moto_server)
    client = boto3.client(
        "elasticache",
        region_name="us-east-1",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_replication_group(
        ReplicationGroupId="cart-redis",
        ReplicationGroupDescription="cart",
        Engine="redis",
        CacheNodeType="cache.t4g.small",
        NumCacheClusters=3,
        AutomaticFailoverEnabled=True,
        MultiAZEnabled=True,
        TransitEncryptionEnabled=True,
    )
    client.create_user(
        UserId="cart-app",
        UserName="cart-app",
        Engine="redis",
        AccessString="on ~* +@all",
        AuthenticationMode={"Type": "iam"},
    )
    return env


def test_the_hook_runs_the_elasticache_check_and_never_fails_the_copy(generate, emulator_env):
    project = generate({item.split("=")[0]: item.split("=", 1)[1] for item in ELASTICACHE})
    ran = subprocess.run(
        [sys.executable, str(TEMPLATE_ROOT / "hooks/post_copy.py"), str(project),
         "--check-elasticache"],
        env=emulator_env,
        capture_output=True,
        text=True,
        timeout=300,
    )  # fmt: skip

    assert ran.returncode == 0, ran.stderr[-2000:]
    output = ran.stdout + ran.stderr
    assert "replication group cart-redis: available" in output
    assert "automatic failover enabled, Multi-AZ enabled, TLS on" in output
    assert "ElastiCache answers only inside its VPC" in output  # the warning, exit 0
    assert "secret" not in output.lower()


def test_copier_runs_the_elasticache_check_when_asked(template_src, tmp_path, emulator_env):
    dst = tmp_path / "cart"
    args = [sys.executable, "-m", "copier", "copy", "--trust", "--defaults"]
    for item in [*ELASTICACHE, "check_elasticache=true"]:
        args += ["--data", item]
    ran = subprocess.run(
        [*args, "--vcs-ref", TEMPLATE_TAG, str(template_src), str(dst)],
        env=emulator_env,
        capture_output=True,
        text=True,
        timeout=300,
    )

    assert ran.returncode == 0, ran.stderr[-2000:]
    assert (dst / "terraform" / "elasticache.tf").is_file()
    output = ran.stdout + ran.stderr
    assert "replication group cart-redis: available" in output
    assert "ElastiCache answers only inside its VPC" in output
    assert "secret ensure" not in output
