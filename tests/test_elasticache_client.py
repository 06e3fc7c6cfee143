"""The GENERATED ElastiCache client snippet, imported from a generated repository.

Story: an app with `topology: elasticache` writes through the primary endpoint and
reads through the reader endpoint, both over TLS, signing in as its ElastiCache user
with an IAM token that botocore signs from the app's credentials (here the AWS
emulator's dummy ones). Stand-ins (tests/fixtures/tls.py): two redis-server processes
with TLS only, a primary and its replica, on two loopback addresses with the same
port, as ElastiCache's endpoints; a certificate from a CA made for the session; an ACL
user named as the ElastiCache user that accepts any password, because IAM itself cannot
be verified here. The primary is SIGKILLed and restarted in place, as a failover moves
the primary endpoint's name: a write issued meanwhile lands once it is back.
"""

from __future__ import annotations

import re
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs

import pytest

from redis_scaffold.project import app_env
from redis_scaffold.sandbox.app import load_client
from tests.fixtures.aws import assert_absent
from tests.fixtures.tls import HOSTS, free_port

ELASTICACHE = {
    "topology": "elasticache",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0,subnet-0fedcba9876543210",
    "app_security_group_id": "sg-0123456789abcdef0",
    "service_name": "cart",
}
POLL_LIMIT = 30.0  # seconds: a bound on waiting for replication, not an expectation


# The emulator's dummy secret key is "testing", which is also its access key id (and so
# in every token's X-Amz-Credential): a distinct one shows the secret never leaks.
SECRET_KEY = "secret-key-that-must-never-appear-1234"


@pytest.fixture
def aws_env(aws_env, monkeypatch):
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    return aws_env


@pytest.fixture
def repo(generate) -> Path:
    return generate(ELASTICACHE)


def wait_for(predicate, what: str) -> None:
    end = time.monotonic() + POLL_LIMIT
    while not predicate():
        if time.monotonic() > end:
            pytest.fail(f"{what} did not happen within {POLL_LIMIT} s")
        time.sleep(0.05)


def token_params(token: str) -> dict[str, str]:
    host, _, query = token.partition("/?")
    return {"host": host} | {k: v[0] for k, v in parse_qs(query, strict_parsing=True).items()}


def test_the_snippet_reads_the_component_env_and_insists_on_tls(repo):
    client = load_client(repo)
    env = app_env(repo)  # the literal values; the endpoints come from the ConfigMap
    assert env == {
        "REDIS_PORT": "6379",
        "REDIS_TLS": "true",
        "REDIS_USER": "cart-app",
        "REDIS_CACHE_NAME": "cart-redis",
        "REDIS_AWS_REGION": "us-east-1",
    }
    endpoints = {"REDIS_PRIMARY_HOST": "p.example", "REDIS_READER_HOST": "r.example"}
    settings = client.settings_from_env(env | endpoints)
    assert (settings.primary_host, settings.reader_host, settings.port) == (
        "p.example",
        "r.example",
        6379,
    )
    with pytest.raises(RuntimeError, match="REDIS_PRIMARY_HOST"):
        client.settings_from_env(env)
    with pytest.raises(RuntimeError, match="REDIS_TLS"):
        client.settings_from_env(env | endpoints | {"REDIS_TLS": "false"})


def test_the_token_is_signed_by_botocore_and_again_before_it_expires(repo, aws_env):
    client = load_client(repo)
    now = [1000.0]
    signed: list[str] = []

    class Recording(client.IAMAuthToken):
        def sign(self) -> str:
            signed.append(super().sign())
            return signed[-1]

    provider = Recording("cart-app", "cart-redis", "us-east-1", clock=lambda: now[0])
    assert client.REFRESH_SECONDS < client.TOKEN_SECONDS == 900

    user, token = provider.get_credentials()
    assert user == "cart-app" and len(signed) == 1
    params = token_params(token)
    assert params["host"] == "cart-redis"
    assert (params["Action"], params["User"]) == ("connect", "cart-app")
    assert params["X-Amz-Expires"] == "900"
    assert re.fullmatch(
        r"testing/\d{8}/us-east-1/elasticache/aws4_request", params["X-Amz-Credential"]
    )
    assert re.fullmatch(r"[0-9a-f]{64}", params["X-Amz-Signature"])

    now[0] += client.REFRESH_SECONDS - 1
    assert provider.get_credentials() == (user, token) and len(signed) == 1
    now[0] += 1  # 10 minutes old: a new token, long before the 15 minutes run out
    assert provider.get_credentials()[0] == "cart-app" and len(signed) == 2


def test_writes_reach_the_primary_reads_the_reader_over_tls_through_a_primary_restart(
    repo, aws_env, tls_redis, tls_ca
):
    client = load_client(repo)
    port = free_port()
    primary = tls_redis("cart-app", host=HOSTS[1], port=port)
    replica = tls_redis("cart-app", host=HOSTS[2], port=port, replica_of=primary)
    env = app_env(repo) | {
        "REDIS_PRIMARY_HOST": primary.host,
        "REDIS_READER_HOST": replica.host,
        "REDIS_PORT": str(port),
        "REDIS_CA_CERTS": str(tls_ca.cert),
    }
    settings = client.settings_from_env(env)
    tokens: list[str] = []

    class Recording(client.IAMAuthToken):
        def get_credentials(self):
            user, token = super().get_credentials()
            tokens.append(token)
            return user, token

    token = Recording(settings.user, settings.cache_name, settings.region)
    writer, reader = client.writer(settings, token=token), client.reader(settings, token=token)

    writer.set("cart:42", "3 items")
    assert writer.acl_whoami() == "cart-app"  # signed in as the ElastiCache user
    assert writer.connection_pool.connection_kwargs["ssl_check_hostname"] is True
    wait_for(lambda: reader.get("cart:42") == b"3 items", "the read on the reader endpoint")
    assert reader.execute_command("ROLE")[0] == b"slave"
    assert tokens and token_params(tokens[0])["User"] == "cart-app"
    connections_before = len(tokens)

    primary.kill()
    outcome: dict[str, object] = {}

    def write_during_the_outage() -> None:
        try:
            outcome["result"] = writer.set("cart:43", "written while the primary was down")
        except Exception as exc:  # noqa: BLE001 - reported below
            outcome["error"] = exc

    during = threading.Thread(target=write_during_the_outage)
    during.start()
    time.sleep(0.3)  # let the write meet the dead primary and start retrying
    primary.start()  # the same name and port, its data from the append-only file
    during.join(timeout=120)

    assert not during.is_alive() and "error" not in outcome, outcome
    assert outcome["result"] is True
    assert writer.get("cart:42") == b"3 items"  # nothing lost: persistence survived the kill
    wait_for(
        lambda: reader.get("cart:43") == b"written while the primary was down",
        "the replica catching up with the restarted primary",
    )
    assert len(tokens) > connections_before  # the reconnection signed in with a token again
    for value in tokens:
        assert_absent(SECRET_KEY, value, "the IAM token")
