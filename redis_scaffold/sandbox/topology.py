"""Run a generated repository's own Redis Sentinel as real processes on loopback hosts.

`LocalTopology` starts, for each pod of the generated StatefulSet, the generated
`manifest/redis/base/config/start-redis.sh` and `start-sentinel.sh` with the same
environment contract the pod gives them (see config/common.sh), each "pod" on its own
loopback address (127.0.0.11, .12, .13 ... by default):

    ANNOUNCE_HOST = BIND_ADDRESS = the node's address, PEER_HOSTS = every node's address,
    CONFIG_DIR = a copy of config/ with mode 0555 (what the ConfigMap mount looks like),
    DATA_DIR, RUN_DIR = per-node directories under the work dir,
    REDIS_PASSWORD = a random password, passed in the environment only.

So the processes run the ConfigMap contents and scripts themselves, unchanged.

Fast timing for tests: `down_after_ms` / `failover_timeout_ms` are written to a small
file passed to the sentinels as EXTRA_CONF, which the start script appends to its runtime
config (later lines win). The generated files are not edited, and the override survives
sentinel restarts.

    with LocalTopology(repo, workdir, down_after_ms=1000, failover_timeout_ms=2000) as topo:
        topo.wait_until_ready(30)
        host, port = topo.master_address()
        topo.kill(topo.node_at(host))          # SIGKILL the master's redis
        ...
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
import weakref
from dataclasses import dataclass
from pathlib import Path

import redis

from redis_scaffold.project import read_answers  # noqa: F401  (re-exported for callers)

CONFIG_SUBDIR = Path("manifest/redis/base/config")
ROLES = ("redis", "sentinel")


class TopologyError(RuntimeError):
    """The local topology could not be started, or did not reach the expected state."""


@dataclass(frozen=True)
class Node:
    """One "pod": a redis and a sentinel on one loopback address."""

    index: int
    host: str
    redis_port: int
    sentinel_port: int
    data_dir: Path
    run_dir: Path

    @property
    def redis_address(self) -> tuple[str, int]:
        return (self.host, self.redis_port)

    @property
    def sentinel_address(self) -> tuple[str, int]:
        return (self.host, self.sentinel_port)


def loopback_hosts(host_base: str, count: int) -> list[str]:
    """`count` consecutive addresses from host_base (127.0.0.11 -> .11, .12, .13)."""
    *prefix, last = host_base.split(".")
    if len(prefix) != 3 or prefix[0] != "127" or int(last) + count > 255:
        raise TopologyError(f"host_base must be a 127.x.y.z address with room for {count} hosts")
    return [".".join([*prefix, str(int(last) + i)]) for i in range(count)]


def addresses_free(hosts: list[str], ports: list[int]) -> bool:
    """True when every (host, port) can be bound now."""
    for host in hosts:
        for port in ports:
            with socket.socket() as s:
                try:
                    s.bind((host, port))
                except OSError:
                    return False
    return True


def find_free_host_base(count: int, ports: list[int], seed: int | None = None) -> str:
    """A 127.x.y.11 base whose `count` hosts have all `ports` free (for side-by-side runs)."""
    start = (os.getpid() if seed is None else seed) % 250
    for k in range(250):
        base = f"127.{(start + k) % 250 + 1}.0.11"
        if addresses_free(loopback_hosts(base, count), ports):
            return base
    raise TopologyError("no free loopback block found")


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: the server gets SIGTERM if the Python process dies without cleaning up
    (kept across the start script's `exec`)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _stop_processes(procs: dict) -> None:
    """Stop every process in procs (also used as the finalizer): TERM, then KILL."""
    live = [p for p in procs.values() if p.poll() is None]
    for p in live:
        for sig in (signal.SIGCONT, signal.SIGTERM):
            try:
                p.send_signal(sig)
            except ProcessLookupError:
                pass
    deadline = time.monotonic() + 5
    for p in live:
        try:
            p.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
    procs.clear()


class LocalTopology:
    """The generated Redis Sentinel topology as real processes on loopback.

    repo: the generated repository; workdir: where config copy, data, run dirs and logs go.
    replicas, redis_port, sentinel_port: default to the repository's answers.
    host_base: the first node's address; nodes take consecutive addresses.
    down_after_ms, failover_timeout_ms: optional fast timing (see the module docstring).
    password: default a fresh random one; only ever passed through the environment.
    """

    def __init__(
        self,
        repo: Path,
        workdir: Path,
        *,
        replicas: int | None = None,
        host_base: str = "127.0.0.11",
        redis_port: int | None = None,
        sentinel_port: int | None = None,
        down_after_ms: int | None = None,
        failover_timeout_ms: int | None = None,
        password: str | None = None,
        bin_dir: Path | None = None,
    ) -> None:
        answers = read_answers(repo)
        self.repo = Path(repo)
        self.workdir = Path(workdir)
        self.master_set: str = answers["master_set"]
        count = int(replicas or answers["redis_replicas"])
        self.redis_port = int(redis_port or answers["redis_port"])
        self.sentinel_port = int(sentinel_port or answers["sentinel_port"])
        self.password = password or secrets.token_urlsafe(24)
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        self.bin_dir = bin_dir
        self.config_dir = self.workdir / "config"
        self.nodes: list[Node] = [
            Node(
                index=i,
                host=host,
                redis_port=self.redis_port,
                sentinel_port=self.sentinel_port,
                data_dir=self.workdir / f"node{i}" / "data",
                run_dir=self.workdir / f"node{i}" / "run",
            )
            for i, host in enumerate(loopback_hosts(host_base, count))
        ]
        self._procs: dict[tuple[int, str], subprocess.Popen] = {}
        self._finalizer = weakref.finalize(self, _stop_processes, self._procs)

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> "LocalTopology":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> "LocalTopology":
        """Prepare the directories, start every redis, then (once the master lists its
        replicas, bounded) every sentinel. Data directories of a previous run are kept."""
        try:
            self._prepare()
            for node in self.nodes:
                self._spawn(node, "redis")
            self._wait_for_replicas_listed(timeout=10)
            for node in self.nodes:
                self._spawn(node, "sentinel")
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_for_replicas_listed(self, timeout: float) -> None:
        """Wait (bounded; no error) until a master lists every other node as its replica.

        Sentinels read a master's replicas from INFO every 10 s; starting them once the
        replicas are attached lets them know all replicas at once (in a pod the sentinels
        may start first; they then simply learn the replicas 10 s later)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for node in self.nodes:
                try:
                    with self.client(node, timeout=0.5) as r:
                        info = r.info("replication")
                except redis.RedisError:
                    continue
                if info.get("role") == "master" and info.get("connected_slaves", 0) >= len(self.nodes) - 1:
                    return
            time.sleep(0.05)

    def stop(self) -> None:
        """Stop every process this topology started (TERM, then KILL after 5 s)."""
        _stop_processes(self._procs)

    def _prepare(self) -> None:
        src = self.repo / CONFIG_SUBDIR
        if not src.is_dir():
            raise TopologyError(f"{src} not found")
        if self.config_dir.exists():
            shutil.rmtree(self.config_dir)
        self.config_dir.mkdir(parents=True)
        for f in src.iterdir():
            if f.is_file():
                shutil.copyfile(f, self.config_dir / f.name)
                (self.config_dir / f.name).chmod(0o555)  # the ConfigMap's defaultMode
        overrides = []
        if self.down_after_ms is not None:
            overrides.append(f"sentinel down-after-milliseconds {self.master_set} {self.down_after_ms}")
        if self.failover_timeout_ms is not None:
            overrides.append(f"sentinel failover-timeout {self.master_set} {self.failover_timeout_ms}")
        self._sentinel_extra = None
        if overrides:
            self._sentinel_extra = self.workdir / "sentinel-extra.conf"
            self._sentinel_extra.write_text("\n".join(overrides) + "\n")
        for node in self.nodes:
            node.data_dir.mkdir(parents=True, exist_ok=True)
            node.run_dir.mkdir(parents=True, exist_ok=True)
            node.run_dir.chmod(0o700)

    def env(self, node: Node, role: str = "redis") -> dict[str, str]:
        """The environment a pod gives `role`'s container (it holds the password)."""
        path = os.environ.get("PATH", "/usr/bin:/bin")
        if self.bin_dir:
            path = f"{self.bin_dir}{os.pathsep}{path}"
        env = {
            "PATH": path,
            "LANG": "C",
            "REDIS_PASSWORD": self.password,
            "ANNOUNCE_HOST": node.host,
            "BIND_ADDRESS": node.host,
            "PEER_HOSTS": " ".join(n.host for n in self.nodes),
            "REDIS_PORT": str(node.redis_port),
            "SENTINEL_PORT": str(node.sentinel_port),
            "CONFIG_DIR": str(self.config_dir),
            "DATA_DIR": str(node.data_dir),
            "RUN_DIR": str(node.run_dir),
            "CLI_TIMEOUT": "1",
        }
        if role == "sentinel" and self._sentinel_extra is not None:
            env["EXTRA_CONF"] = str(self._sentinel_extra)
        return env

    def log_path(self, node: Node | int, role: str = "redis") -> Path:
        node = self._node(node)
        return self.workdir / f"node{node.index}" / f"{role}.log"

    def _spawn(self, node: Node, role: str) -> subprocess.Popen:
        script = self.config_dir / ("start-redis.sh" if role == "redis" else "start-sentinel.sh")
        with open(self.log_path(node, role), "ab") as log:
            proc = subprocess.Popen(
                ["sh", str(script)],
                env=self.env(node, role),
                cwd=node.data_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, and we stop them in order
                preexec_fn=_die_with_parent,
            )
        self._procs[(node.index, role)] = proc
        return proc

    # ------------------------------------------------------------------- faults
    def _node(self, node: Node | int) -> Node:
        return self.nodes[node] if isinstance(node, int) else node

    def node_at(self, host: str) -> Node:
        """The node announcing `host`."""
        for node in self.nodes:
            if node.host == host:
                return node
        raise TopologyError(f"no node at {host}")

    def process(self, node: Node | int, role: str = "redis") -> subprocess.Popen | None:
        return self._procs.get((self._node(node).index, role))

    def kill(self, node: Node | int, sig: int = signal.SIGKILL, role: str = "redis") -> None:
        """Send `sig` to the node's redis (or sentinel); wait for it if the signal ends it."""
        proc = self.process(node, role)
        if proc is None or proc.poll() is not None:
            raise TopologyError(f"{role} of node {self._node(node).index} is not running")
        proc.send_signal(sig)
        if sig in (signal.SIGKILL, signal.SIGTERM, signal.SIGINT):
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def restart(self, node: Node | int, role: str = "redis") -> None:
        """Start the node's redis (or sentinel) again, stopping it first if it runs.

        Like a container restart: same data and run dirs, start script run afresh."""
        node = self._node(node)
        proc = self.process(node, role)
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGCONT)
            self.kill(node, signal.SIGTERM, role)
        self._spawn(node, role)

    def handover(self, node: Node | int, timeout_s: int = 30) -> subprocess.CompletedProcess:
        """Run the generated preStop hook (pre-stop.sh) for the node's redis."""
        node = self._node(node)
        env = self.env(node) | {"PRESTOP_TIMEOUT": str(timeout_s)}
        return subprocess.run(
            ["sh", str(self.config_dir / "pre-stop.sh")],
            env=env, capture_output=True, text=True, timeout=timeout_s + 15,
        )

    # ------------------------------------------------------------------ queries
    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [n.sentinel_address for n in self.nodes]

    @property
    def redis_addresses(self) -> list[tuple[str, int]]:
        return [n.redis_address for n in self.nodes]

    def client(self, node: Node | int, role: str = "redis", timeout: float = 1.0) -> redis.Redis:
        """A redis-py client to the node's redis (or sentinel), authenticated."""
        node = self._node(node)
        port = node.redis_port if role == "redis" else node.sentinel_port
        return redis.Redis(
            host=node.host, port=port, password=self.password,
            socket_timeout=timeout, socket_connect_timeout=timeout, decode_responses=True,
        )

    def master_address(self) -> tuple[str, int]:
        """The master as the first answering sentinel names it."""
        for node in self.nodes:
            try:
                with self.client(node, "sentinel", timeout=0.5) as s:
                    addr = s.sentinel_get_master_addr_by_name(self.master_set)
            except redis.RedisError:
                continue
            if addr:
                return (addr[0], int(addr[1]))
        raise TopologyError("no sentinel names a master")

    def status(self) -> dict:
        """Role and view of every process; errors as strings (never the password)."""
        out: dict = {}
        for node in self.nodes:
            entry: dict = {}
            try:
                with self.client(node, timeout=0.5) as r:
                    info = r.info("replication")
                entry["role"] = info["role"]
                if info["role"] == "master":
                    entry["replicas"] = sorted(
                        v["ip"] for k, v in info.items()
                        if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online"
                    )
                else:
                    entry["master"] = info.get("master_host")
                    entry["link"] = info.get("master_link_status")
            except redis.RedisError as exc:
                entry["role"] = f"down ({type(exc).__name__})"
            try:
                with self.client(node, "sentinel", timeout=0.5) as s:
                    m = s.sentinel_master(self.master_set)
                entry["sentinel"] = {
                    "master": m.get("ip"),
                    "down": bool(m.get("is_sdown") or m.get("is_odown")),
                    "replicas": m.get("num-slaves"),
                    "other_sentinels": m.get("num-other-sentinels"),
                }
            except redis.RedisError as exc:
                entry["sentinel"] = f"down ({type(exc).__name__})"
            out[node.host] = entry
        return out

    def is_ready(self) -> bool:
        """One master with every other node an in-sync replica, and every sentinel agreeing
        on it, seeing all replicas and all other sentinels."""
        st = self.status()
        n = len(self.nodes)
        masters = [h for h, e in st.items() if e["role"] == "master"]
        if len(masters) != 1:
            return False
        master = masters[0]
        if len(st[master]["replicas"]) != n - 1:
            return False
        for host, e in st.items():
            if host != master and (e["role"] != "slave" or e["master"] != master or e["link"] != "up"):
                return False
            s = e["sentinel"]
            if not isinstance(s, dict) or s["master"] != master or s["down"]:
                return False
            if s["replicas"] != n - 1 or s["other_sentinels"] != n - 1:
                return False
        return True

    def wait_until(self, predicate, timeout: float, what: str, interval: float = 0.1):
        """Poll predicate() until truthy (returned) or `timeout` seconds pass (TopologyError)."""
        deadline = time.monotonic() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if time.monotonic() >= deadline:
                raise TopologyError(f"timed out after {timeout}s waiting for {what}: {self.status()}")
            time.sleep(interval)

    def wait_until_ready(self, timeout: float = 30) -> "LocalTopology":
        """Block (at most `timeout` s) until is_ready(); raise TopologyError otherwise."""
        for key, proc in self._procs.items():
            if proc.poll() is not None:
                raise TopologyError(f"{key[1]} of node {key[0]} exited ({proc.returncode}); see its log")
        self.wait_until(self.is_ready, timeout, "one master, synced replicas, agreeing sentinels")
        return self
