"""What the topology benchmarks share: a generated repository and its topology on loopback."""

from __future__ import annotations

import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import copier
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel

from benchmarks import REPO_ROOT
from redis_scaffold.sandbox.load import WriteLoad
from redis_scaffold.sandbox.node_app import NodeApp, NodeWriteLoad
from redis_scaffold.sandbox.sentinel import LocalSentinel
from redis_scaffold.sandbox.snapshot import TEMPLATE_TAG, snapshot_template

TAG = TEMPLATE_TAG
READY_S = 60


@contextmanager
def generated_repo(answers: dict | None = None) -> Iterator[Path]:
    """The working tree's template, snapshotted and tagged, copied with the default answers."""
    with tempfile.TemporaryDirectory(prefix="bench-repo-") as tmp:
        src = Path(tmp) / "template"
        src.mkdir()
        snapshot_template(src, TAG)
        repo = Path(tmp) / "svc"
        copier.run_copy(
            str(src),
            repo,
            data=answers or {},
            defaults=True,
            unsafe=True,
            quiet=True,
            vcs_ref=TAG,
            skip_tasks=True,
        )
        yield repo


@contextmanager
def running_topology(repo: Path, **kwargs) -> Iterator[LocalSentinel]:
    """A started, ready LocalSentinel of `repo` (on a loopback block it reserves); closed on exit."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-topology-") as work,
        LocalSentinel(repo, Path(work), **kwargs) as topo,
    ):
        topo.wait_until_ready(READY_S)
        yield topo


# ------------------------------------------------ the clients under measurement
NODE_MODULES = REPO_ROOT / "tests" / "node" / "node_modules"  # npm ci in scripts/bootstrap.sh
CLIENTS = ("python", "node", "baseline")
WAIT_MS = 10  # WAIT <replicas> WAIT_MS per write: short, so it adds little to a recovery
BASELINE_PAUSE_S = 0.05  # the baseline application's retry loop


def baseline_writer(topo: LocalSentinel):
    """Plain redis-py: Sentinel.master_for with no retry of its own (the application
    loop retries every 50 ms: WriteLoad's error pause). What a team writes by hand."""
    no_retry = Retry(NoBackoff(), 0)
    # With TLS: the sentinel connections need ssl, the CA (and a client certificate where
    # the servers ask for one) and the password given again.
    tls = topo.tls.redis_kwargs() if topo.tls else {}
    sentinel = Sentinel(
        topo.sentinels,
        sentinel_kwargs={
            "password": topo.password,
            "socket_timeout": 1.0,
            "retry": no_retry,
            **tls,
        },
        password=topo.password,
        socket_timeout=1.0,
        socket_connect_timeout=1.0,
        **tls,
    )
    return sentinel.master_for(topo.master_set, retry=no_retry)


class ClientLoads:
    """One write load per client, all writing at once through the same faults.

    python    the generated client/python writer() (in this process, a thread)
    node      the generated client/node writer() (node, NODE_MODULES from the lockfile)
    baseline  plain redis-py master_for and a 50 ms application retry loop
    """

    def __init__(
        self, topo: LocalSentinel, tag: str, clients=CLIENTS, confirm: bool = True
    ) -> None:
        replicas = len(topo.nodes) - 1 if confirm else 0  # 0: bare SETs, no WAIT
        self.loads: dict = {}
        self._closers = []
        for name in clients:
            prefix = f"{tag}-{name}"
            if name == "python":
                writer = topo.app().writer()
                self._closers.append(writer.close)
                load = WriteLoad(writer, prefix, wait_replicas=replicas, wait_ms=WAIT_MS)
            elif name == "node":
                app = NodeApp(topo.repo, topo.app_env(), NODE_MODULES)
                load = NodeWriteLoad(app, prefix, wait_replicas=replicas, wait_ms=WAIT_MS)
            else:
                writer = baseline_writer(topo)
                self._closers.append(writer.close)
                load = WriteLoad(
                    writer,
                    prefix,
                    wait_replicas=replicas,
                    wait_ms=WAIT_MS,
                    error_pause_s=BASELINE_PAUSE_S,
                )
            self.loads[name] = load

    def __enter__(self) -> ClientLoads:
        for load in self.loads.values():
            load.start()
        return self

    def __exit__(self, *exc_info) -> None:
        for load in self.loads.values():
            load.stop()
        for close in self._closers:
            close()

    def wait_writing(self, count: int = 30, timeout: float = 30) -> None:
        for name, load in self.loads.items():
            if not load.wait_for_acks(count, after=0, timeout=timeout):
                raise RuntimeError(f"the {name} writer does not write: {dict(load.errors)}")


class MasterClock:
    """Polls every sentinel (every 10 ms) and records when the first names another master
    (named_at), then that master's INFO (every 5 ms) until it counts a replica in sync
    (writable_at: min_slaves_good_slaves >= 1; before that it refuses writes, NOREPLICAS,
    under min-replicas-to-write). writable_at is the floor of any client's recovery."""

    def __init__(self, topo: LocalSentinel, old_host: str, interval: float = 0.01) -> None:
        self.topo = topo
        self.clients = [topo.client(n, "sentinel", timeout=0.2) for n in topo.nodes]
        self.master_set, self.old_host, self.interval = topo.master_set, old_host, interval
        self.named_at: float | None = None
        self.writable_at: float | None = None
        self.new_host: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="master-clock")

    def _named(self) -> bool:
        for client in self.clients:
            try:
                host, _ = client.sentinel_get_master_addr_by_name(self.master_set)
            except (redis.RedisError, TypeError):
                continue
            if host != self.old_host:
                self.named_at, self.new_host = time.monotonic(), host
                return True
        return False

    def _writable(self, master: redis.Redis) -> bool:
        try:
            info = master.info("replication")
        except redis.RedisError:
            return False
        if info.get("role") == "master" and int(info.get("min_slaves_good_slaves", 1)) >= 1:
            self.writable_at = time.monotonic()
            return True
        return False

    def _run(self) -> None:
        while not self._stop.is_set() and not self._named():
            self._stop.wait(self.interval)
        if self.new_host is None:
            return
        with self.topo.client(self.topo.node_at(self.new_host), timeout=0.2) as master:
            while not self._stop.is_set() and not self._writable(master):
                self._stop.wait(self.interval / 2)

    def __enter__(self) -> MasterClock:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for client in self.clients:
            client.close()
