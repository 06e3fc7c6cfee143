"""The GENERATED Python client snippet, imported from the generated repo.

Story: a service gets its settings from the env the redis-env component renders, and
never shows the password. (The snippet against real Sentinel, a master SIGKILL
included, is the story of tests/test_failover.py.)
"""

from __future__ import annotations

from pathlib import Path

import pytest

from redis_scaffold.project import app_env
from redis_scaffold.sandbox.app import GeneratedApp, load_client, loopback_env


@pytest.fixture
def repo(topology_repo: Path) -> Path:
    return topology_repo


def test_settings_come_from_the_component_env(repo):
    client = load_client(repo)
    env = app_env(repo) | {"REDIS_PASSWORD": "never-shown"}
    assert env == {
        "REDIS_HOST": "shopping-cart-redis.redis.svc.cluster.local",
        "REDIS_READ_PORT": "6379",
        "REDIS_SENTINEL_PORT": "26379",
        "REDIS_MASTER_SET": "shopping-cart-redis",
        "REDIS_PASSWORD": "never-shown",
    }
    settings = client.settings_from_env(env)
    assert settings.sentinels == [("shopping-cart-redis.redis.svc.cluster.local", 26379)]
    assert "never-shown" not in repr(settings)
    with pytest.raises(RuntimeError, match="REDIS_PASSWORD"):
        client.settings_from_env({k: v for k, v in env.items() if k != "REDIS_PASSWORD"})


def test_the_sandbox_app_gets_the_component_env_with_loopback_hosts(repo):
    hosts = ["127.9.0.11", "127.9.0.12", "127.9.0.13"]
    env = loopback_env(repo, hosts, 6379, 26379, "never-shown")
    assert env == app_env(repo) | {"REDIS_HOST": ",".join(hosts), "REDIS_PASSWORD": "never-shown"}

    app = GeneratedApp(repo, env)
    assert app.settings.sentinels == [(h, 26379) for h in hosts]
    assert (
        app.with_env(REDIS_HOST="127.0.0.1", REDIS_READ_PORT="7000").settings.hosts[0]
        == "127.0.0.1"
    )
