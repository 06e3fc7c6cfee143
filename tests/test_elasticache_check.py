"""`redis-scaffold elasticache check` and the IAM token, against the AWS emulator.

Story: a team with `topology: elasticache` runs `make check`. The command asks the
ElastiCache API (moto in server mode, over HTTP, through boto3's credential chain) for
the replication group and the app's IAM user, signs an IAM token with botocore, and,
where the primary endpoint answers, signs in with it over TLS and does a round trip.
moto's endpoints are names that resolve nowhere, so the round trip goes to a local
TLS redis-server through `--endpoint` (tests/fixtures/tls.py says what that proves).
"""

from __future__ import annotations

import re
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs

import botocore.session
import pytest

from redis_scaffold.project import app_env
from redis_scaffold.service import elasticache
from tests.fixtures.aws import assert_absent

pytestmark = pytest.mark.slow

ELASTICACHE = {
    "topology": "elasticache",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
    "app_security_group_id": "sg-0123456789abcdef0",
}


# The emulator's dummy secret key is "testing", which is also its access key id (and so
# in every token's X-Amz-Credential): a distinct one shows the secret never leaks.
SECRET_KEY = "secret-key-that-must-never-appear-1234"


@pytest.fixture
def aws_env(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    return aws_env


@pytest.fixture
def repo(generate) -> Path:
    return generate(ELASTICACHE | {"service_name": "cart"})


def create_group(aws_env, name: str = "cart-redis", **overrides) -> dict:
    """A replication group as the generated Terraform asks for it (moto emulates it)."""
    settings = {
        "ReplicationGroupId": name,
        "ReplicationGroupDescription": "cart",
        "Engine": "redis",
        "EngineVersion": "7.1",
        "CacheNodeType": "cache.t4g.small",
        "NumCacheClusters": 3,
        "AutomaticFailoverEnabled": True,
        "MultiAZEnabled": True,
        "TransitEncryptionEnabled": True,
        "AtRestEncryptionEnabled": True,
        "Port": 6379,
    } | overrides
    return aws_env.client("elasticache").create_replication_group(**settings)


def create_user(aws_env, user_id: str = "cart-app", iam: bool = True) -> None:
    mode = {"Type": "iam"} if iam else {"Type": "password", "Passwords": ["a-password-1234567"]}
    aws_env.client("elasticache").create_user(
        UserId=user_id,
        UserName=user_id,
        Engine="redis",
        AccessString="on ~* +@all",
        AuthenticationMode=mode,
    )


def check(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "redis_scaffold", "elasticache", "check", str(repo), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


# ------------------------------------------------------------------ the IAM token
def test_the_iam_token_has_the_shape_elasticache_documents(aws_env):
    session = botocore.session.get_session()  # the emulator's dummy credentials, from env
    token = elasticache.iam_token(session, "cart-app", "cart-redis", "eu-west-1")

    assert not token.startswith(("http://", "https://"))
    host, _, query = token.partition("/?")
    assert host == "cart-redis"
    params = {k: v[0] for k, v in parse_qs(query, strict_parsing=True).items()}
    assert params["Action"] == "connect"
    assert params["User"] == "cart-app"
    assert params["X-Amz-Algorithm"] == "AWS4-HMAC-SHA256"
    assert re.fullmatch(
        r"testing/\d{8}/eu-west-1/elasticache/aws4_request", params["X-Amz-Credential"]
    )
    assert re.fullmatch(r"\d{8}T\d{6}Z", params["X-Amz-Date"])
    assert params["X-Amz-Date"][:8] == params["X-Amz-Credential"].split("/")[1]
    assert params["X-Amz-Expires"] == "900"
    assert params["X-Amz-SignedHeaders"] == "host"
    assert re.fullmatch(r"[0-9a-f]{64}", params["X-Amz-Signature"])
    assert_absent(SECRET_KEY, token, "the token")
    # Another user is another signature: the user is part of what is signed.
    other = elasticache.iam_token(session, "cart-admin", "cart-redis", "eu-west-1")
    assert parse_qs(other.partition("/?")[2])["X-Amz-Signature"] != [params["X-Amz-Signature"]]


def test_without_credentials_the_token_is_not_signed(aws_env, monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    with pytest.raises(elasticache.AwsUnavailable, match="no AWS credentials"):
        elasticache.iam_token(botocore.session.get_session(), "u", "g", "us-east-1")


# ------------------------------------------------------------------------ the check
def test_the_check_reads_what_the_app_is_given(repo):
    env = app_env(repo)
    target = elasticache.Target(
        cache_name=env["REDIS_CACHE_NAME"],
        user=env["REDIS_USER"],
        region=env["REDIS_AWS_REGION"],
        port=int(env["REDIS_PORT"]),
    )
    assert target == elasticache.Target("cart-redis", "cart-app", "us-east-1", 6379)


def test_a_healthy_group_out_of_reach_is_a_warning_and_with_strict_a_failure(repo, aws_env):
    create_group(aws_env)
    create_user(aws_env)

    ran = check(repo, "--timeout", "20")
    assert ran.returncode == 0, ran.stderr
    assert "replication group cart-redis: available" in ran.stdout
    assert "automatic failover enabled, Multi-AZ enabled, TLS on" in ran.stdout
    assert "warning:" in ran.stderr and "does not answer" in ran.stderr

    strict = check(repo, "--timeout", "20", "--strict")
    assert strict.returncode == elasticache.Unreachable.exit_code, strict.stderr
    assert "unreachable:" in strict.stderr


def test_a_round_trip_over_tls_with_an_iam_token(repo, aws_env, tls_redis, tls_ca):
    create_group(aws_env)
    create_user(aws_env)
    server = tls_redis("cart-app")
    tunnel = ["--endpoint", f"localhost:{server.port}", "--ca-certs", str(tls_ca.cert)]

    ran = check(repo, "--strict", "--timeout", "20", *tunnel)

    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert f"round trip on localhost:{server.port} as 'cart-app' over TLS: ok" in ran.stdout
    assert "write/read round trip" in ran.stdout
    assert server.client().keys("redis-scaffold:check:*") == []  # it cleans up after itself
    assert_absent(SECRET_KEY, ran.stdout + ran.stderr, "output")


def test_a_server_that_refuses_the_user_is_an_authentication_failure(
    repo, aws_env, tls_redis, tls_ca
):
    create_group(aws_env)
    create_user(aws_env)
    server = tls_redis("someone-else")  # the group's ACL knows no cart-app
    tunnel = ["--endpoint", f"localhost:{server.port}", "--ca-certs", str(tls_ca.cert)]

    ran = check(repo, "--strict", "--timeout", "20", *tunnel)

    assert ran.returncode == elasticache.AuthFailed.exit_code, ran.stdout + ran.stderr
    assert "authentication failed:" in ran.stderr and "'cart-app'" in ran.stderr


def test_a_server_whose_certificate_is_not_trusted_does_not_get_the_token(repo, aws_env, tls_redis):
    create_group(aws_env)
    create_user(aws_env)
    server = tls_redis("cart-app")  # the client trusts only the system's CAs here

    ran = check(repo, "--strict", "--timeout", "20", "--endpoint", f"localhost:{server.port}")

    assert ran.returncode == elasticache.Unreachable.exit_code, ran.stdout + ran.stderr
    assert "certificate verify failed" in ran.stderr


@pytest.mark.parametrize(
    ("setup", "code", "message"),
    [
        (lambda aws: None, elasticache.NotFound.exit_code, "not found:"),
        (
            lambda aws: (
                create_group(aws, AutomaticFailoverEnabled=False, MultiAZEnabled=False),
                create_user(aws),
            ),
            elasticache.Misconfigured.exit_code,
            "AutomaticFailover is 'disabled'; MultiAZ is 'disabled'",
        ),
        (
            lambda aws: (create_group(aws, TransitEncryptionEnabled=False), create_user(aws)),
            elasticache.Misconfigured.exit_code,
            "TransitEncryptionEnabled is false",
        ),
        (
            lambda aws: (create_group(aws), create_user(aws, iam=False)),
            elasticache.Misconfigured.exit_code,
            "authenticates with 'password', not 'iam'",
        ),
        (lambda aws: create_group(aws), elasticache.NotFound.exit_code, "user 'cart-app'"),
    ],
    ids=["no group", "no failover", "no TLS", "password user", "no user"],
)
def test_what_is_wrong_has_its_own_exit_code(repo, aws_env, setup, code, message):
    setup(aws_env)
    ran = check(repo, "--timeout", "20")
    assert ran.returncode == code, ran.stdout + ran.stderr
    assert message in ran.stderr


def test_an_aws_endpoint_that_does_not_answer_is_bounded(repo, aws_env, monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # discard: nothing listens
    ran = check(repo, "--timeout", "3")
    assert ran.returncode == elasticache.AwsUnavailable.exit_code, ran.stdout + ran.stderr
    assert "AWS API unavailable:" in ran.stderr


def test_a_sentinel_repository_is_a_usage_error(generate):
    project = generate({"service_name": "cart"})
    ran = check(project, "--timeout", "3")
    assert ran.returncode == 2
    assert "topology elasticache" in ran.stderr
    assert f"check it with `redis-scaffold sentinel check {project}`" in ran.stderr


@pytest.mark.parametrize("other", ["sentinel", "cluster"])
def test_another_check_on_this_repository_names_the_elasticache_check(repo, other):
    ran = subprocess.run(
        [sys.executable, "-m", "redis_scaffold", other, "check", str(repo), "--strict"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert ran.returncode == 2, ran.stdout + ran.stderr
    assert ran.stderr == (
        f"redis-scaffold {other} check: {repo} is a repository of topology elasticache, "
        f"not topology {other}: check it with `redis-scaffold elasticache check {repo}`.\n"
    )


def test_an_endpoint_that_accepts_but_never_answers_is_bounded(repo, aws_env):
    create_group(aws_env)
    create_user(aws_env)
    with socket.socket() as silent:  # listens, so connect succeeds; never speaks TLS
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        endpoint = f"127.0.0.1:{silent.getsockname()[1]}"
        ran = check(repo, "--strict", "--timeout", "3", "--endpoint", endpoint)

    assert ran.returncode in (
        elasticache.Unreachable.exit_code,
        elasticache.DeadlineExceeded.exit_code,
    ), ran.stdout + ran.stderr
    assert endpoint in ran.stderr or "time" in ran.stderr
