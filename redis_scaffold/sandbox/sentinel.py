"""Run a generated repository's own Redis Sentinel as real processes on loopback hosts.

`LocalSentinel` starts, for each pod of the generated StatefulSet, the generated
`manifest/redis/base/config/start-redis.sh` and `start-sentinel.sh` with the environment
contract the pod gives them (config/common.sh), each "pod" on its own loopback address
of a block it reserves (127.x.0.11, .12, .13 ...). So the processes run the ConfigMap
contents and scripts themselves, unchanged. It is assembled from one part per job:

    addresses.AddressBlock   a free block of loopback addresses, reserved across processes
    staging.ConfigStage      config/ staged as a ConfigMap mount, per-pod dirs, env, EXTRA_CONF
    processes.Supervisor     the processes: spawn, signal, stop (TERM, then KILL)
    faults.Faults            kill / hang / restart a pod's server, run its preStop hook
    partition.Partition      cut a pod off from its peers (nftables; each pod speaks from its address)
    state.StateReader        roles, the sentinels' view, readiness; state.wait_until polls
    app.GeneratedApp         the generated client snippet with the env the app gets

Fast timing for tests: `down_after_ms` / `failover_timeout_ms` go to the sentinels
through EXTRA_CONF (see staging.py); the generated files are not edited.

    with LocalSentinel(repo, workdir, down_after_ms=1000, failover_timeout_ms=2000) as topo:
        topo.wait_until_ready(30)
        writer = topo.app().writer()
        topo.kill(topo.node_at(topo.master_address()[0]))   # SIGKILL the master's redis
        ...
"""

from __future__ import annotations

import secrets
import signal
import subprocess
import weakref
from pathlib import Path

import redis

from redis_scaffold.project import deployment
from redis_scaffold.sandbox.addresses import AddressBlock
from redis_scaffold.sandbox.app import GeneratedApp, load_client, loopback_env
from redis_scaffold.sandbox.engines import programs_dir
from redis_scaffold.sandbox.faults import Faults
from redis_scaffold.sandbox.nodes import Node, TopologyError
from redis_scaffold.sandbox.partition import Partition
from redis_scaffold.sandbox.processes import Supervisor
from redis_scaffold.sandbox.staging import ROLES, ConfigStage, Timing
from redis_scaffold.sandbox.state import NodeState, StateReader, wait_until
from redis_scaffold.sandbox.tls import CertificateAuthority, client_tls

__all__ = ["ROLES", "LocalSentinel", "Node", "TopologyError"]


class LocalSentinel:
    """The generated Redis Sentinel topology as real processes on loopback.

    repo: the generated repository; workdir: where config copy, data, run dirs and logs go.
    pods, redis_port, sentinel_port: default to what the repository rendered (the
        StatefulSet's replicas, master included; the ports of the redis-env component).
    host_base: the first node's address (nodes take consecutive ones); default: a free
        block, reserved until close().
    down_after_ms, failover_timeout_ms: optional fast timing (see the module docstring).
    password: default a fresh random one; only ever passed through the environment.
    """

    def __init__(
        self,
        repo: Path,
        workdir: Path,
        *,
        pods: int | None = None,
        host_base: str | None = None,
        redis_port: int | None = None,
        sentinel_port: int | None = None,
        down_after_ms: int | None = None,
        failover_timeout_ms: int | None = None,
        password: str | None = None,
        bin_dir: Path | None = None,
        tls_ca: CertificateAuthority | None = None,
    ) -> None:
        rendered = deployment(repo)
        self.repo = Path(repo)
        self.workdir = Path(workdir)
        self.master_set: str = rendered.master_set
        count = int(pods or rendered.pods)
        self.redis_port = int(redis_port or rendered.redis_port)
        self.sentinel_port = int(sentinel_port or rendered.sentinel_port)
        self.password = password or secrets.token_urlsafe(24)
        self.timing = Timing(down_after_ms, failover_timeout_ms)
        # tls: every node's certificate from one CA (given, or made in the work dir)
        self.tls_ca = (
            (tls_ca or CertificateAuthority.create(self.workdir / "ca")) if rendered.tls else None
        )
        self.block = (
            AddressBlock.fixed(host_base, count)
            if host_base
            else AddressBlock.reserve(count, [self.redis_port, self.sentinel_port])
        )
        self._released = weakref.finalize(self, self.block.release)
        self.nodes: list[Node] = [
            Node(
                i,
                host,
                self.redis_port,
                self.sentinel_port,
                self.workdir / f"node{i}" / "data",
                self.workdir / f"node{i}" / "run",
            )
            for i, host in enumerate(self.block.hosts)
        ]
        self.stage = ConfigStage(
            self.repo,
            self.workdir,
            self.master_set,
            self.password,
            self.timing,
            bin_dir or programs_dir(rendered.commands, self.workdir),
            rendered.commands,
            self.tls_ca,
        )
        self.supervisor = Supervisor()
        self.faults = Faults(self.stage, self.supervisor, self.nodes)
        # how the app and the tools speak TLS here (their certificate where asked for one)
        self.tls = client_tls(self.repo, self.workdir, self.tls_ca)
        self.state = StateReader(self.nodes, self.master_set, self.password, self.tls)
        self._client_module = None
        self._partitions: list[Partition] = []

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> LocalSentinel:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self) -> LocalSentinel:
        """Stage the config, start every redis, then (once the master lists its replicas,
        bounded) every sentinel. Data directories of a previous start are kept.

        Sentinels read a master's replicas from INFO every 10 s; starting them once the
        replicas are attached lets them know all replicas at once."""
        try:
            self.stage.prepare(self.nodes)
            for node in self.nodes:
                self.faults.start(node, "redis")
            try:
                wait_until(self.state.replicas_listed, 10, "replicas", interval=0.05)
            except TopologyError:
                pass  # the sentinels learn the replicas later; wait_until_ready() judges
            for node in self.nodes:
                self.faults.start(node, "sentinel")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop every process this topology started (TERM; KILL after 5 s). The address
        block stays reserved: start() brings the same pods back."""
        self.supervisor.stop()

    def close(self) -> None:
        """heal(), stop(), and release the address block."""
        try:
            self.heal()
        finally:
            self.stop()
            self._released()

    # ------------------------------------------------------------- pods, faults
    @property
    def down_after_ms(self) -> int | None:
        return self.timing.down_after_ms

    @property
    def failover_timeout_ms(self) -> int | None:
        return self.timing.failover_timeout_ms

    @property
    def config_dir(self) -> Path:
        return self.stage.config_dir

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [n.sentinel_address for n in self.nodes]

    def _node(self, node: Node | int) -> Node:
        return self.nodes[node] if isinstance(node, int) else node

    def node_at(self, host: str) -> Node:
        """The node announcing `host`."""
        for node in self.nodes:
            if node.host == host:
                return node
        raise TopologyError(f"no node at {host}")

    def env(self, node: Node | int, role: str = "redis") -> dict[str, str]:
        """The environment the pod gives `role`'s container (it holds the password)."""
        return self.stage.env(self._node(node), self.nodes, role)

    def log_path(self, node: Node | int, role: str = "redis") -> Path:
        return self.stage.log_path(self._node(node), role)

    def process(self, node: Node | int, role: str = "redis") -> subprocess.Popen | None:
        return self.supervisor.get((self._node(node).index, role))

    def kill(self, node: Node | int, sig: int = signal.SIGKILL, role: str = "redis") -> None:
        self.faults.kill(self._node(node), sig, role)

    def restart(self, node: Node | int, role: str = "redis") -> None:
        self.faults.restart(self._node(node), role)

    def handover(self, node: Node | int, timeout_s: int = 30) -> subprocess.CompletedProcess:
        return self.faults.handover(self._node(node), timeout_s)

    def partition(self, node: Node | int) -> Partition:
        """Cut the node's redis and sentinel off from every other pod (not from the app,
        which speaks from 127.0.0.1), until heal(). Needs nft in a private network
        namespace (partition.partition_unavailable() says why not)."""
        cut = self._node(node)
        others = [n.host for n in self.nodes if n != cut]
        part = Partition(f"{self.block.base}_{cut.index}", [cut.host], others).cut()
        self._partitions.append(part)
        return part

    def heal(self) -> None:
        """Remove every partition drawn with partition()."""
        while self._partitions:
            self._partitions.pop().heal()

    def set_secret(self, password: str, previous: str = "") -> None:
        """What the Kubernetes Secret now holds (a rotation's delivery refreshed): the
        processes started from now on get it; running ones keep it in their env, as in a pod, and
        the mounted Secret volume (PASSWORD_FILE) changes in place for all."""
        self.password = self.state.password = password
        self.stage.set_secret(password, previous)

    # ------------------------------------------------------------------ queries
    def client(self, node: Node | int, role: str = "redis", timeout: float = 1.0) -> redis.Redis:
        return self.state.client(self._node(node), role, timeout)

    def master_address(self) -> tuple[str, int]:
        return self.state.master_address()

    def status(self) -> dict[str, NodeState]:
        """host -> what its redis and its sentinel say (state.NodeState)."""
        return self.state.status()

    def wait_until(self, predicate, timeout: float, what: str, interval: float = 0.1):
        """Poll predicate() until truthy (returned) or `timeout` s pass (TopologyError)."""
        return wait_until(predicate, timeout, what, self.state.describe, interval)

    def wait_until_ready(self, timeout: float = 30) -> LocalSentinel:
        """Block (at most `timeout` s) until is_ready(); raise TopologyError otherwise."""
        for (index, role), code in self.supervisor.exited():
            raise TopologyError(f"{role} of node {index} exited ({code}); see its log")
        self.wait_until(
            self.state.is_ready, timeout, "one master, synced replicas, agreeing sentinels"
        )
        return self

    # ------------------------------------------------------------------ the app
    def app_env(self) -> dict[str, str]:
        """What the generated redis-env component gives the app, on these loopback pods."""
        return loopback_env(
            self.repo,
            [n.host for n in self.nodes],
            self.redis_port,
            self.sentinel_port,
            self.password,
            self.tls,
        )

    def app(self) -> GeneratedApp:
        """The generated client snippet (client/python/redis_client.py), set up from app_env()."""
        if self._client_module is None:
            self._client_module = load_client(self.repo)
        return GeneratedApp(self.repo, self.app_env(), self._client_module)
