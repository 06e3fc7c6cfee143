"""The GENERATED client adapters, imported from the generated repo (with the libraries).

Story: a service gets its settings from the env the redis-env component renders, and
never shows the password. (The snippet against real Sentinel, a master SIGKILL
included, is the story of tests/test_failover.py.)
"""

from __future__ import annotations

import json
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


def test_the_node_snippet_reads_the_same_env_and_never_shows_the_password(generate, tmp_path):
    from redis_scaffold.sandbox.node_app import NodeApp

    repo = generate({"client_languages": ["node"]})
    env = app_env(repo) | {"REDIS_PASSWORD": "never-shown"}
    app = NodeApp(repo, env, Path(__file__).parent / "node" / "node_modules")
    script = (
        "const c = require(process.argv[1]); const s = c.settingsFromEnv();"
        "console.log(JSON.stringify(s)); console.log(String(s.password === process.env.REDIS_PASSWORD));"
        "try { c.settingsFromEnv({}); } catch (e) { console.log(e.message); }"
    )
    result = app.run("-e", script, str(app.snippet))
    assert result.returncode == 0, result.stderr[-500:]
    shown, has_password, missing = result.stdout.splitlines()
    assert json.loads(shown) == {
        "hosts": ["shopping-cart-redis.redis.svc.cluster.local"],
        "readPort": 6379,
        "sentinelPort": 26379,
        "masterSet": "shopping-cart-redis",
        "downAfterMs": 10000,
        "replicas": 2,
        "timeoutMs": 1000,
        # No REDIS_TLS in the env: plaintext (tests/test_tls.py runs the TLS side).
        "tls": False,
        "tlsCaFile": None,
        "tlsCertFile": None,
        "tlsKeyFile": None,
    }
    assert has_password == "true" and "never-shown" not in result.stdout
    assert "REDIS_PASSWORD" in missing
