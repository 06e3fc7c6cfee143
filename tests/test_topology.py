"""The generated Redis Sentinel, run from its own ConfigMap files as real processes.

Story: a team generates its repository and starts the topology from the generated
config/ (start scripts, redis.conf, sentinel.conf) on three loopback "pods". One master
and two replicas replicate, the sentinels agree. The master dies: a replica is promoted
and nothing acknowledged is lost; the old master comes back as a replica. A planned
stop of the master (the preStop hook) hands mastership over first.
"""

from __future__ import annotations

import signal
import subprocess

import pytest

pytestmark = pytest.mark.slow

WAIT_S = 20


def roles(topo) -> dict[str, str]:
    return {host: entry.role for host, entry in topo.status().items()}


def probe(topo, node, script: str, mode: str) -> int:
    """Run a generated probe script the way the kubelet would (exit status)."""
    return subprocess.run(
        ["sh", str(topo.config_dir / script), mode],
        env=topo.env(node),
        capture_output=True,
        timeout=10,
    ).returncode


def test_master_dies_replica_takes_over_and_old_master_rejoins(topology_repo, topology):
    # `topology` runs topology_repo's generated config/ on three loopback pods.
    topo = topology

    # One master, two replicas, every sentinel names the same master.
    master_host, _ = topo.master_address()
    assert sorted(roles(topo).values()) == ["master", "slave", "slave"]
    assert roles(topo)[master_host] == "master"
    assert {e.sentinel.master for e in topo.status().values()} == {master_host}
    # ... and the probes the kubelet runs pass on every pod.
    for node in topo.nodes:
        assert probe(topo, node, "health-redis.sh", "readiness") == 0
        assert probe(topo, node, "health-sentinel.sh", "readiness") == 0

    # The sandbox's own line (EXTRA_CONF, not the generated files): a stopping master waits
    # at most 1 s for its replicas, so a teardown never reaches the KILL after 5 s.
    old_master = topo.node_at(master_host)
    with topo.client(old_master) as r:
        assert r.config_get("shutdown-timeout") == {"shutdown-timeout": "1"}

    # Writes reach both replicas (WAIT: acknowledged by 2 replicas).
    with topo.client(old_master) as r:
        for i in range(100):
            r.set(f"order:{i}", i)
        assert r.execute_command("WAIT", 2, 5000) == 2

    # The master is killed: the sentinels promote a replica.
    topo.kill(old_master, signal.SIGKILL)
    assert probe(topo, old_master, "health-redis.sh", "liveness") != 0
    new_host = topo.wait_until(
        lambda: (h := topo.master_address()[0]) != master_host and h, WAIT_S, "a new master"
    )
    new_master = topo.node_at(new_host)

    # Nothing acknowledged was lost, and the new master takes writes (once a replica follows it).
    with topo.client(new_master) as r:
        assert r.dbsize() == 100
        topo.wait_until(
            lambda: _try_set(r, "after-failover", "yes"), WAIT_S, "a write on the new master"
        )

    # The old master restarts: its start script asks the sentinels and it rejoins as a replica.
    topo.restart(old_master)
    topo.wait_until_ready(WAIT_S)
    assert roles(topo)[old_master.host] == "slave"
    with topo.client(old_master) as r:
        assert r.get("after-failover") == "yes"
        assert r.dbsize() == 101
    # Every sentinel recorded the new master on its volume (used after a full restart).
    for node in topo.nodes:
        assert (node.data_dir / "sentinel-last-master").read_text().strip() == new_host

    # The password stayed out of the generated repository and every log line.
    for path in [*topology_repo.rglob("*"), *topo.workdir.rglob("*.log")]:
        if path.is_file():
            assert topo.password not in path.read_text(errors="replace"), (
                f"password found in {path.name}"
            )
    # Runtime configs hold it, readable by their owner only.
    for node in topo.nodes:
        for conf in node.run_dir.glob("*.conf"):
            assert conf.stat().st_mode & 0o077 == 0, conf


def test_planned_stop_of_the_master_hands_over_first(topology):
    master_host, _ = topology.master_address()
    old_master = topology.node_at(master_host)

    result = topology.handover(old_master, timeout_s=15)

    assert result.returncode == 0
    new_host, _ = topology.master_address()
    assert new_host != master_host
    # The old master was demoted at once (its clients get READONLY and look again).
    assert roles(topology)[master_host] == "slave"
    topology.wait_until_ready(WAIT_S)
    # A replica's preStop has nothing to hand over.
    assert topology.handover(old_master, timeout_s=5).returncode == 0
    assert topology.master_address()[0] == new_host


def _try_set(r, key, value) -> bool:
    import redis

    try:
        return bool(r.set(key, value))
    except redis.RedisError:  # NOREPLICAS until a replica follows the new master
        return False
