"""The generated Redis Cluster, run from its own ConfigMap files as real processes.

Story: a team that outgrew Sentinel answers `topology: cluster` and generates its
repository. Its config/ (redis.conf, start, health and bootstrap scripts) runs on six
loopback "pods" (3 masters x 1 replica, the defaults); the generated bootstrap forms the
cluster. The app writes continuously through the GENERATED client snippet
(RedisCluster). A master is SIGKILLed: its replica takes over its slots and the app
keeps writing; nothing that WAIT confirmed on the master's replica is lost. The old
master restarts and rejoins, as a replica, with its own identity (nodes.conf). The
bootstrap runs again and changes nothing; on a cluster where one pod came back on an
empty volume it refuses to touch anything.

Fast timing: cluster-node-timeout 1000 ms through EXTRA_CONF (the generated files keep
15000). Every wait is a bounded poll; nothing here asserts how fast a recovery is
(`python -m benchmarks failover --topology cluster` measures that).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import redis

from redis_scaffold.sandbox.cluster import LocalCluster
from redis_scaffold.sandbox.load import ClusterWriteLoad
from tests.fixtures.topology import generate_repo

pytestmark = pytest.mark.slow

NODE_TIMEOUT_MS = 1000
READY_S = 30
RECOVERY_S = 60
ACKS = 30


@pytest.fixture(scope="module", params=["redis", "valkey"])
def cluster_repo(request, template_src, tmp_path_factory):
    dst = tmp_path_factory.mktemp(f"cluster-repo-{request.param}") / "svc"
    return generate_repo(template_src, dst, {"topology": "cluster", "engine": request.param})


@pytest.fixture
def cluster(cluster_repo, tmp_path):
    with LocalCluster(cluster_repo, tmp_path / "cluster", node_timeout_ms=NODE_TIMEOUT_MS) as c:
        formed = c.bootstrap(timeout_s=30)
        assert formed.returncode == 0, formed.stderr
        c.wait_until_ready(READY_S)
        yield c


def node_ids(cluster) -> dict[str, str]:
    """host -> node ID, as each node says of itself."""
    return {n.host: cluster.view(n)["me"]["id"] for n in cluster.nodes}


def probe(cluster, node, mode: str) -> int:
    """The generated probe script, run as the kubelet would (exit status)."""
    env = cluster.stage.env(node, cluster.nodes)
    return subprocess.run(
        ["sh", str(cluster.stage.script("health-redis.sh")), mode],
        env=env,
        capture_output=True,
        timeout=10,
    ).returncode


def test_the_bootstrap_forms_the_cluster_and_a_rerun_changes_nothing(cluster, cluster_repo):
    # 3 masters with 1 replica each, every slot served, every probe passes.
    roles = sorted(s.role for s in cluster.status().values())
    assert roles == ["master"] * 3 + ["slave"] * 3
    for node in cluster.nodes:
        assert probe(cluster, node, "readiness") == 0
    ids = node_ids(cluster)

    again = cluster.bootstrap(timeout_s=10)

    assert again.returncode == 0, again.stderr
    assert "nothing to do" in again.stderr
    assert node_ids(cluster) == ids
    # Nodes announce their names (here: loopback addresses), for MOVED and CLUSTER SLOTS.
    with cluster.client(cluster.nodes[0]) as r:
        endpoints = {shard[2][0] for shard in r.execute_command("CLUSTER", "SLOTS")}
    assert endpoints <= {n.host for n in cluster.nodes}


def test_master_killed_its_replica_takes_over_the_app_keeps_writing_and_it_rejoins(
    cluster, cluster_repo
):
    app = cluster.app()
    replicas = cluster.rendered.replicas_per_master
    old = cluster.masters()[0]
    old_id = cluster.view(old)["me"]["id"]
    successor = next(n for n in cluster.nodes if cluster.view(n)["me"]["master"] == old_id)
    with ClusterWriteLoad(app, "sigkill", wait_replicas=replicas) as load:
        assert load.wait_for_acks(ACKS, after=0, timeout=RECOVERY_S)

        killed_at = time.monotonic()
        cluster.kill(old, signal.SIGKILL)
        assert probe(cluster, old, "liveness") != 0
        # Its replica is promoted; the writer (same client) keeps writing on every slot.
        cluster.wait_until(
            lambda: cluster.status()[successor.host].role == "master",
            RECOVERY_S,
            "the killed master's replica promoted",
        )
        assert load.wait_for_acks(ACKS, after=killed_at, timeout=RECOVERY_S), dict(load.errors)

        # The pod restarts: same volume, same node ID, now a replica of its successor.
        cluster.restart(old)
        cluster.wait_until_ready(READY_S)
        assert cluster.view(old)["me"]["id"] == old_id
        assert cluster.view(old)["me"]["master"] == cluster.view(successor)["me"]["id"]
        assert load.wait_for_acks(ACKS, after=time.monotonic(), timeout=RECOVERY_S)

    # Accounting, as in the Sentinel fault tests: every write WAIT confirmed on the
    # master's replica survives; acknowledged-only writes lost in the failover are counted.
    confirmed = load.confirmed
    unconfirmed = [a for a in load.acks if a.replicas < replicas]
    assert len(confirmed) > ACKS
    assert load.missing(app, confirmed) == [], "confirmed writes lost"
    lost = load.missing(app, unconfirmed)
    print(
        f"\n{load.prefix}: {load.acknowledged} acknowledged, {len(confirmed)} confirmed, "
        f"acknowledged but unconfirmed and lost: {len(lost)}"
    )
    # The bootstrap, run again after all that, changes nothing.
    ids = node_ids(cluster)
    again = cluster.bootstrap(timeout_s=10)
    assert again.returncode == 0 and "nothing to do" in again.stderr, again.stderr
    assert node_ids(cluster) == ids

    # The password stayed out of the generated repository and every log line; the
    # runtime configs that hold it are readable by their owner only.
    for path in [*cluster_repo.rglob("*"), *cluster.workdir.rglob("*.log")]:
        if path.is_file():
            assert cluster.password not in path.read_text(errors="replace"), path.name
    for node in cluster.nodes:
        for conf in node.run_dir.glob("*.conf"):
            assert conf.stat().st_mode & 0o077 == 0, conf


def test_the_bootstrap_touches_nothing_when_a_pod_comes_back_empty(cluster):
    replica = next(n for n in cluster.nodes if cluster.status()[n.host].role == "slave")
    cluster.kill(replica, signal.SIGKILL)
    shutil.rmtree(replica.data_dir)  # a lost volume
    replica.data_dir.mkdir()
    cluster.restart(replica)
    cluster.wait_until(lambda: cluster.view(replica), READY_S, "the emptied pod to answer")
    others = [n for n in cluster.nodes if n != replica]
    before = {
        n.host: sorted((k["id"], k["master"]) for k in cluster.view(n)["nodes"]) for n in others
    }

    result = cluster.bootstrap(timeout_s=10)

    assert result.returncode == 3, result.stderr
    assert "partly formed" in result.stderr and "Nothing changed" in result.stderr
    assert cluster.view(replica)["me"]["slots"] == []
    assert len(cluster.view(replica)["nodes"]) == 1  # still alone: nobody met it
    after = {
        n.host: sorted((k["id"], k["master"]) for k in cluster.view(n)["nodes"]) for n in others
    }
    assert after == before  # the formed nodes' membership and roles: untouched


def test_a_planned_stop_of_a_master_hands_its_slots_to_its_replica_first(cluster):
    app = cluster.app()
    master = cluster.masters()[0]
    master_id = cluster.view(master)["me"]["id"]
    replica = next(n for n in cluster.nodes if cluster.view(n)["me"]["master"] == master_id)
    with ClusterWriteLoad(app, "prestop", wait_replicas=1) as load:
        assert load.wait_for_acks(ACKS, after=0, timeout=RECOVERY_S)

        result = cluster.handover(master, timeout_s=15)

        assert result.returncode == 0, result.stderr
        assert "slots handed to" in result.stderr
        assert cluster.role(master) == "slave" and cluster.role(replica) == "master"
        assert load.wait_for_acks(ACKS, after=time.monotonic(), timeout=RECOVERY_S)
    # A coordinated failover: nothing acknowledged is lost, confirmed or not.
    assert load.missing(app) == []
    # A replica's preStop has nothing to hand over.
    again = cluster.handover(master, timeout_s=5)
    assert again.returncode == 0 and "nothing to hand over" in again.stderr


def test_every_pod_restarts_and_the_cluster_comes_back_as_it_was(cluster):
    app = cluster.app()
    for i in range(200):
        app.set(f"cart:{i}", i)
    ids, roles = node_ids(cluster), {h: s.role for h, s in cluster.status().items()}
    app.close()

    cluster.stop()  # every pod at once (a full restart), volumes kept
    cluster.start()
    cluster.wait_until_ready(READY_S)

    assert node_ids(cluster) == ids  # each pod rejoined as itself (nodes.conf)
    assert {h: s.role for h, s in cluster.status().items()} == roles
    app = cluster.app()
    assert [app.get(f"cart:{i}") for i in range(200)] == [str(i).encode() for i in range(200)]
    again = cluster.bootstrap(timeout_s=10)
    assert again.returncode == 0 and "nothing to do" in again.stderr


def seed_dump(cluster, node) -> None:
    """Leave an AOF holding one key on `node`'s volume, written by the engine's own server
    (standalone, before the pod starts): data from before the cluster existed. (An AOF:
    with `appendonly yes` and no AOF, the server ignores a dump.rdb and starts empty.)"""
    env = cluster.stage.env(node, cluster.nodes)
    server = shutil.which(env["SERVER_COMMAND"], path=env["PATH"])
    node.data_dir.mkdir(parents=True, exist_ok=True)
    args = ["--bind", node.host, "--port", str(node.redis_port), "--dir", str(node.data_dir)]
    proc = subprocess.Popen(
        [server, *args, "--save", "", "--appendonly", "yes"], stdout=subprocess.DEVNULL
    )
    try:
        r = redis.Redis(host=node.host, port=node.redis_port, socket_timeout=1)
        cluster.wait_until(lambda: _pings(r), READY_S, "the standalone server")
        r.set("order:1", "kept")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _pings(r) -> bool:
    try:
        return r.ping()
    except redis.RedisError:
        return False


def test_the_bootstrap_never_forms_a_cluster_over_data(cluster_repo, tmp_path):
    c = LocalCluster(cluster_repo, tmp_path / "c", node_timeout_ms=NODE_TIMEOUT_MS)
    try:
        holder = c.nodes[4]
        seed_dump(c, holder)
        c.start()
        c.wait_until(lambda: all(c.view(n) for n in c.nodes), READY_S, "every pod to answer")
        # Not ready before the cluster is formed: no Service sends clients there yet.
        assert all(probe(c, n, "readiness") != 0 for n in c.nodes)
        assert all(probe(c, n, "liveness") == 0 for n in c.nodes)

        result = c.bootstrap(timeout_s=30)

        assert result.returncode == 4, result.stderr
        assert f"hold keys: {holder.host}" in result.stderr and "Nothing changed" in result.stderr
        assert all(len(c.view(n)["nodes"]) == 1 for n in c.nodes)  # nobody met anybody
        with c.client(holder) as r:
            assert r.dbsize() == 1  # its data untouched (GET: the cluster is down)
    finally:
        c.close()


# ----------------------------------------------------- redis-scaffold cluster check
REPO_ROOT = Path(__file__).resolve().parents[1]


def check_cli(repo: Path, *args: str, password: str | None, timeout: float = 60):
    """The real command, as a user runs it; the password only in the environment."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_PASSWORD", "REDIS_SEEDS")}
    if password is not None:
        env["REDIS_PASSWORD"] = password
    return subprocess.run(
        [sys.executable, "-m", "redis_scaffold", "cluster", "check", str(repo), *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def seed_args(cluster) -> list[str]:
    return ["--seed", f"{cluster.nodes[0].host}:{cluster.nodes[0].redis_port}"]


def test_cluster_check_passes_on_a_healthy_cluster_and_names_what_is_wrong(cluster, cluster_repo):
    ok = check_cli(cluster_repo, *seed_args(cluster), "--strict", password=cluster.password)
    assert ok.returncode == 0, ok.stderr
    assert "16384 of 16384 slots served" in ok.stdout
    assert "3 masters, replicas per master: 1, 1, 1" in ok.stdout
    assert ok.stdout.count("SET, GET, DEL") == 3  # one key on every master
    assert cluster.password not in ok.stdout + ok.stderr

    wrong = check_cli(cluster_repo, *seed_args(cluster), "--strict", password="not-it")
    assert wrong.returncode == 35, wrong.stderr
    assert "authentication failed" in wrong.stderr

    nopass = check_cli(cluster_repo, *seed_args(cluster), "--strict", password=None)
    assert nopass.returncode == 39, nopass.stderr

    # A replica dies: its master has no replica left, so losing one more pod would lose
    # slots. The check says which node fails (once the cluster marks it failed).
    replica = next(n for n in cluster.nodes if cluster.status()[n.host].role == "slave")
    cluster.kill(replica, signal.SIGKILL)
    cluster.wait_until(
        lambda: any("fail" in k["flags"] for k in cluster.view(cluster.nodes[0])["nodes"]),
        RECOVERY_S,
        "the dead replica marked failed",
    )
    failing = check_cli(cluster_repo, *seed_args(cluster), "--strict", password=cluster.password)
    assert failing.returncode == 34, failing.stdout + failing.stderr
    assert f"{replica.host}:{replica.redis_port}" in failing.stderr


def test_cluster_check_without_a_cluster_warns_or_fails_with_strict(cluster_repo, tmp_path):
    # Nothing listens on the rendered seed (the in-cluster name does not resolve here).
    seed = ["--seed", "127.0.0.1:1", "--timeout", "2"]
    loose = check_cli(cluster_repo, *seed, password="x")
    assert loose.returncode == 0 and "may not exist yet" in loose.stderr
    strict = check_cli(cluster_repo, *seed, "--strict", password="x")
    assert strict.returncode == 31 and "unreachable" in strict.stderr
