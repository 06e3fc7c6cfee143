"""The GENERATED client adapters, imported from the generated repo (with the libraries).

Story: a service gets its settings from the env the redis-env component renders, and
never shows the password. (The snippet against real Sentinel, a master SIGKILL
included, is the story of tests/test_failover.py.)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from redis_scaffold.project import app_env
from redis_scaffold.sandbox.app import GeneratedApp, load_client, loopback_env
from redis_scaffold.sandbox.secret_volume import SecretVolume


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
        "REDIS_PASSWORD_FILE": "/etc/redis-password/password",
    }
    settings = client.settings_from_env(env)
    assert settings.sentinels == [("shopping-cart-redis.redis.svc.cluster.local", 26379)]
    assert "never-shown" not in repr(settings)
    with pytest.raises(RuntimeError, match="REDIS_PASSWORD"):
        client.settings_from_env({k: v for k, v in env.items() if k != "REDIS_PASSWORD"})


def test_the_sandbox_app_gets_the_component_env_with_loopback_hosts(repo):
    hosts = ["127.9.0.11", "127.9.0.12", "127.9.0.13"]
    env = loopback_env(repo, hosts, 6379, 26379, "never-shown")
    rendered = {k: v for k, v in app_env(repo).items() if k != "REDIS_PASSWORD_FILE"}
    assert env == rendered | {"REDIS_HOST": ",".join(hosts), "REDIS_PASSWORD": "never-shown"}
    # With the app's mounted Secret: its file instead of the pod's path.
    with_file = loopback_env(repo, hosts, 6379, 26379, "never-shown", password_file="/x/password")
    assert with_file == env | {"REDIS_PASSWORD_FILE": "/x/password"}

    app = GeneratedApp(repo, env)
    assert app.settings.sentinels == [(h, 26379) for h in hosts]
    assert (
        app.with_env(REDIS_HOST="127.0.0.1", REDIS_READ_PORT="7000").settings.hosts[0]
        == "127.0.0.1"
    )


def test_the_node_snippet_reads_the_same_env_and_never_shows_the_password(generate, tmp_path):
    from redis_scaffold.sandbox.node_app import NodeApp

    repo = generate({"client_languages": ["node"]})
    env = {k: v for k, v in app_env(repo).items() if k != "REDIS_PASSWORD_FILE"}
    env |= {"REDIS_PASSWORD": "never-shown"}
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
        "passwordFile": None,  # REDIS_PASSWORD only (test_the_password_file_... below)
    }
    assert has_password == "true" and "never-shown" not in result.stdout
    assert "REDIS_PASSWORD" in missing


def test_the_python_adapter_reads_the_password_file_again_when_the_kubelet_swaps_it(repo, tmp_path):
    """REDIS_PASSWORD_FILE: the password comes from the mounted Secret, and a swap of its
    ..data symlink (sandbox.secret_volume, as the kubelet does it) is seen on the next
    poll; the clients' listeners run then. Never the password in a repr or an error."""
    from redis_service_client import PasswordFile

    volume = SecretVolume(tmp_path / "mount")
    volume.write("first-never-shown")
    env = app_env(repo) | {
        "REDIS_PASSWORD": "env-never-shown",
        "REDIS_PASSWORD_FILE": str(volume.path),
    }
    settings = load_client(repo).settings_from_env(env)
    assert settings.password_file == str(volume.path)
    provider = PasswordFile(settings.password_file, poll_s=3600)  # polled by hand here
    try:
        heard = []
        provider.on_change(lambda: heard.append(provider.get_credentials()) or True)
        assert provider.get_credentials() == ("first-never-shown",)
        assert provider.check() is False and heard == []
        volume.write("second-never-shown")
        assert provider.check() is True
        assert provider.get_credentials() == ("second-never-shown",) and provider.changes == 1
        for _ in range(PasswordFile.SETTLE_POLLS + 3):
            provider.check()
        # the change, then SETTLE_POLLS more polls: the connections a busy thread gave back
        assert len(heard) == PasswordFile.SETTLE_POLLS + 1
        assert "never-shown" not in repr(provider) + repr(settings)
    finally:
        provider.close()
    with pytest.raises(RuntimeError, match="REDIS_PASSWORD_FILE") as missing:
        PasswordFile(str(tmp_path / "absent"))
    assert str(tmp_path / "absent") in str(missing.value)


def test_the_node_adapter_reads_the_password_file_again_when_the_kubelet_swaps_it(
    generate, tmp_path
):
    from redis_scaffold.sandbox.node_app import NodeApp

    repo = generate({"client_languages": ["node"]})
    volume = SecretVolume(tmp_path / "mount")
    volume.write("first-never-shown")
    env = app_env(repo) | {
        "REDIS_PASSWORD": "env-never-shown",
        "REDIS_PASSWORD_FILE": str(volume.path),
    }
    app = NodeApp(repo, env, Path(__file__).parent / "node" / "node_modules")
    # The script swaps the volume itself (a kubelet's update) through a Python child, so
    # the order is certain; the file is polled by hand (check()).
    swap = (
        "import sys; sys.path.insert(0, sys.argv[1]);"
        "from redis_scaffold.sandbox.secret_volume import SecretVolume;"
        "SecretVolume(sys.argv[2]).write('second-never-shown')"
    )
    script = (
        "const c = require(process.argv[1]); const s = c.settingsFromEnv();"
        "const f = c.passwordFile(s.passwordFile); const heard = [];"
        "f.listeners.add((p) => heard.push(p === 'second-never-shown'));"
        "console.log(String(s.password === 'first-never-shown'), String(f.check()));"
        "require('child_process').execFileSync(process.argv[2], ['-c', process.argv[3], process.argv[4], process.argv[5]]);"
        "console.log(String(f.check()), String(s.password === 'second-never-shown'), JSON.stringify(heard), f.changes);"
        "console.log(JSON.stringify(s));"
        "try { new c.PasswordFile(process.argv[6]); } catch (e) { console.log(e.message); }"
        "f.close();"
    )
    absent = tmp_path / "absent"
    args = [sys.executable, swap, str(Path(__file__).parents[1]), str(volume.root), str(absent)]
    result = app.run("-e", script, str(app.snippet), *args)
    assert result.returncode == 0, result.stderr[-500:]
    first, second, shown, missing = result.stdout.splitlines()
    assert first == "true false"
    assert second == "true true [true] 1"
    assert json.loads(shown)["passwordFile"] == str(volume.path)
    assert "REDIS_PASSWORD_FILE" in missing and str(absent) in missing
    assert "never-shown" not in result.stdout + result.stderr
