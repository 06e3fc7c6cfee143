"""Run a generated repository's own Redis Cluster as real processes on loopback hosts.

The sibling of sentinel.LocalSentinel for `topology: cluster`. Each "pod" of the
generated StatefulSet runs the generated `manifest/redis/base/config/start-redis.sh` on
its own loopback address (127.x.0.11, .12, ...), with the environment the pod gives it
(config/common.sh); `bootstrap()` runs the generated `bootstrap-cluster.sh` as the Job
would. The same parts as LocalSentinel: AddressBlock, ConfigStage (config/ as the
ConfigMap mount, EXTRA_CONF), Supervisor and Faults (kill, restart).

Fast timing for tests: `node_timeout_ms` goes to every node through EXTRA_CONF
(cluster-node-timeout); the generated files are not edited.

    with LocalCluster(repo, workdir, node_timeout_ms=1000) as cluster:
        cluster.bootstrap()
        cluster.wait_until_ready(30)
        app = cluster.app()                  # the generated client/python/redis_client.py
        cluster.kill(cluster.masters()[0])   # SIGKILL a master: its replica takes over
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import weakref
from dataclasses import dataclass
from pathlib import Path

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_scaffold.project import TOTAL_SLOTS, app_env, cluster_deployment
from redis_scaffold.sandbox.addresses import AddressBlock
from redis_scaffold.sandbox.app import load_client, with_password_file
from redis_scaffold.sandbox.engines import programs_dir
from redis_scaffold.sandbox.faults import Faults
from redis_scaffold.sandbox.nodes import TopologyError
from redis_scaffold.sandbox.processes import Supervisor
from redis_scaffold.sandbox.staging import ConfigStage, Timing
from redis_scaffold.sandbox.state import render, wait_until
from redis_scaffold.sandbox.tls import CertificateAuthority, client_tls
from redis_scaffold.service.cluster import parse_nodes

__all__ = ["ClusterNode", "LocalCluster"]


@dataclass(frozen=True)
class ClusterNode:
    """One "pod" of the cluster: a redis on one loopback address."""

    index: int
    host: str
    redis_port: int
    bus_port: int
    data_dir: Path
    run_dir: Path

    @property
    def redis_address(self) -> tuple[str, int]:
        return (self.host, self.redis_port)


@dataclass(frozen=True)
class ClusterNodeState:
    """What one node says of itself (CLUSTER INFO, CLUSTER NODES)."""

    role: str  # "master", "slave", or "down" when it does not answer
    state: str | None = None  # cluster_state: "ok" or "fail"
    master: str | None = None  # a replica: its master's node id ("-" for a master)

    def __str__(self) -> str:
        return self.role if self.role == "down" else f"{self.role}, cluster_state {self.state}"


class ClusterStage(ConfigStage):
    """config/ staged for cluster nodes: their env, and cluster-node-timeout in EXTRA_CONF."""

    def __init__(self, *args, node_timeout_ms: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.node_timeout_ms = node_timeout_ms

    def prepare(self, nodes: list[ClusterNode]) -> None:
        super().prepare(nodes)
        if self.node_timeout_ms is not None:
            with self.extra_conf("redis").open("a") as extra:
                extra.write(f"cluster-node-timeout {self.node_timeout_ms}\n")

    def env(self, node: ClusterNode, nodes: list[ClusterNode], role: str = "redis") -> dict:
        """What the StatefulSet gives the redis container (it holds the password)."""
        return self.base_env(nodes) | {
            "ANNOUNCE_HOST": node.host,
            "BIND_ADDRESS": node.host,
            "ANNOUNCE_IP": node.host,
            "CLUSTER_BUS_PORT": str(node.bus_port),
            "DATA_DIR": str(node.data_dir),
            "RUN_DIR": str(node.run_dir),
            "EXTRA_CONF": str(self.extra_conf(role)),
            **self.tls_env(node),
        }

    def base_env(self, nodes: list[ClusterNode]) -> dict[str, str]:
        """What every script needs (the bootstrap Job gets only this, and CLUSTER_REPLICAS)."""
        path = os.environ.get("PATH", "/usr/bin:/bin")
        if self.bin_dir:
            path = f"{self.bin_dir}:{path}"
        return {
            **self.commands,
            "PATH": path,
            "LANG": "C",
            "REDIS_PASSWORD": self.password,
            "REDIS_PASSWORD_PREVIOUS": self.previous_password,
            "PASSWORD_FILE": str(self.secret_volume.path),
            "PEER_HOSTS": " ".join(n.host for n in nodes),
            "REDIS_PORT": str(nodes[0].redis_port),
            "CONFIG_DIR": str(self.config_dir),
            "CLI_TIMEOUT": "1",
        }


class LocalCluster:
    """The generated Redis Cluster as real processes on loopback.

    repo: the generated repository (topology cluster); workdir: config copy, data, logs.
    node_timeout_ms: optional fast cluster-node-timeout (see the module docstring).
    password: default a fresh random one; only ever passed through the environment.
    """

    def __init__(
        self,
        repo: Path,
        workdir: Path,
        *,
        node_timeout_ms: int | None = None,
        password: str | None = None,
        bin_dir: Path | None = None,
        tls_ca: CertificateAuthority | None = None,
    ) -> None:
        self.repo = Path(repo)
        self.workdir = Path(workdir)
        self.rendered = cluster_deployment(repo)
        self.password = password or secrets.token_urlsafe(24)
        count = self.rendered.pods
        ports = [self.rendered.redis_port, self.rendered.bus_port]
        self.block = AddressBlock.reserve(count, ports)
        self._released = weakref.finalize(self, self.block.release)
        self.nodes = [
            ClusterNode(
                i,
                host,
                self.rendered.redis_port,
                self.rendered.bus_port,
                self.workdir / f"node{i}" / "data",
                self.workdir / f"node{i}" / "run",
            )
            for i, host in enumerate(self.block.hosts)
        ]
        commands = self.rendered.commands
        # tls: every node's certificate from one CA (given, or made in the work dir)
        self.tls_ca = (
            (tls_ca or CertificateAuthority.create(self.workdir / "ca"))
            if self.rendered.tls
            else None
        )
        self.stage = ClusterStage(
            self.repo,
            self.workdir,
            "",
            self.password,
            Timing(),
            bin_dir or programs_dir(commands, self.workdir),
            commands,
            self.tls_ca,
            node_timeout_ms=node_timeout_ms,
        )
        self.supervisor = Supervisor()
        self.faults = Faults(self.stage, self.supervisor, self.nodes)
        self._client_module = None
        # how the app and the tools speak TLS here (their certificate where asked for one)
        self.tls = client_tls(self.repo, self.workdir, self.tls_ca)

    def set_secret(self, password: str, previous: str = "") -> None:
        """What the Kubernetes Secret now holds (a rotation's delivery refreshed): nodes
        started from now on get it; running ones keep it in their env, as in a pod, and
        the mounted Secret volume (PASSWORD_FILE) changes in place for all."""
        self.password = password
        self.stage.set_secret(password, previous)

    # ----------------------------------------------------------------- lifecycle
    def __enter__(self) -> LocalCluster:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()

    def start(self) -> LocalCluster:
        """Stage the config and start every node (data directories are kept)."""
        try:
            self.stage.prepare(self.nodes)
            for node in self.nodes:
                self.faults.start(node, "redis")
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self.supervisor.stop()

    def close(self) -> None:
        self.stop()
        self._released()

    def bootstrap(self, timeout_s: int = 60) -> subprocess.CompletedProcess:
        """Run the generated bootstrap-cluster.sh as the bootstrap Job would."""
        env = (
            self.stage.base_env(self.nodes)
            | self.stage.tls_env(self.nodes[0])
            | {
                "CLUSTER_REPLICAS": str(self.rendered.replicas_per_master),
                "BOOTSTRAP_TIMEOUT": str(timeout_s),
            }
        )
        return subprocess.run(
            ["sh", str(self.stage.script("bootstrap-cluster.sh"))],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s * 2 + 150,
            check=False,
        )

    # ------------------------------------------------------------- pods, faults
    def kill(self, node: ClusterNode, sig: int = signal.SIGKILL) -> None:
        self.faults.kill(node, sig)

    def restart(self, node: ClusterNode) -> None:
        self.faults.restart(node)

    def handover(self, node: ClusterNode, timeout_s: int = 30) -> subprocess.CompletedProcess:
        """Run the generated preStop hook (pre-stop.sh) for the node, as the kubelet would."""
        return self.faults.handover(node, timeout_s)

    def log_path(self, node: ClusterNode) -> Path:
        return self.stage.log_path(node, "redis")

    def node_at(self, host: str) -> ClusterNode:
        for node in self.nodes:
            if node.host == host:
                return node
        raise TopologyError(f"no node at {host}")

    # ------------------------------------------------------------------ queries
    def client(self, node: ClusterNode, timeout: float = 1.0) -> redis.Redis:
        """A plain client on one node (no redirections followed)."""
        return redis.Redis(
            host=node.host,
            port=node.redis_port,
            password=self.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=True,
            retry=Retry(NoBackoff(), 0),  # a dead node answers at once: no retry
            **(self.tls.redis_kwargs() if self.tls else {}),
        )

    def view(self, node: ClusterNode) -> dict | None:
        """The node's own view: cluster_state, its role and the nodes it knows."""
        try:
            with self.client(node, timeout=0.5) as r:
                info = r.execute_command("CLUSTER", "INFO")
                nodes = r.execute_command("CLUSTER", "NODES")
        except redis.RedisError:
            return None
        info = info if isinstance(info, dict) else _info_dict(info)
        known = _parse_nodes(nodes)
        me = next((n for n in known if "myself" in n["flags"]), None)
        return {"state": info.get("cluster_state"), "me": me, "nodes": known}

    def status(self) -> dict[str, ClusterNodeState]:
        """host -> its role (master, slave or down) and cluster_state; never the password."""
        out = {}
        for node in self.nodes:
            v = self.view(node)
            out[node.host] = (
                ClusterNodeState("down")
                if v is None
                else ClusterNodeState(_role(v["me"]), v["state"], v["me"]["master"])
            )
        return out

    def role(self, node: ClusterNode) -> str:
        """master or slave by the node's own account (ROLE), or down."""
        try:
            with self.client(node, timeout=0.5) as r:
                return r.execute_command("ROLE")[0]
        except redis.RedisError:
            return "down"

    def masters(self) -> list[ClusterNode]:
        """The nodes that are masters now (by their own account)."""
        return [self.node_at(h) for h, s in self.status().items() if s.role == "master"]

    def slots_of(self, node: ClusterNode) -> list[tuple[int, int]]:
        """The slot ranges `node` serves as a master, as the cluster says."""
        with self.client(node) as r:
            me = next(
                n
                for n in _parse_nodes(r.execute_command("CLUSTER", "NODES"))
                if "myself" in n["flags"]
            )
        return me["slots"]

    def is_ready(self) -> bool:
        """Every node answers and says ok; masters as rendered, each with its replicas
        attached, every slot served."""
        views = [self.view(n) for n in self.nodes]
        if any(v is None or v["state"] != "ok" for v in views):
            return False
        known = views[0]["nodes"]
        masters = [n for n in known if "master" in n["flags"] and n["slots"]]
        if len(masters) != self.rendered.masters or any("fail" in n["flags"] for n in known):
            return False
        if sum(b - a + 1 for m in masters for a, b in m["slots"]) != TOTAL_SLOTS:
            return False
        for m in masters:
            linked = [n for n in known if n["master"] == m["id"] and n["link"] == "connected"]
            if len(linked) < self.rendered.replicas_per_master:
                return False
        return all(
            v["me"]["master"] == "-" or _link_up(self.client(n))
            for n, v in zip(self.nodes, views, strict=True)
        )

    def wait_until(self, predicate, timeout: float, what: str, interval: float = 0.1):
        return wait_until(predicate, timeout, what, lambda: render(self.status()), interval)

    def wait_until_ready(self, timeout: float = 30) -> LocalCluster:
        for (index, role), code in self.supervisor.exited():
            raise TopologyError(f"{role} of node {index} exited ({code}); see its log")
        self.wait_until(self.is_ready, timeout, "every slot served, masters with their replicas")
        return self

    # ------------------------------------------------------------------ the app
    def app_env(self, password_file: Path | None = None) -> dict[str, str]:
        """What the generated redis-env component gives the app, on these loopback pods
        (password_file: the app's mounted Secret, a secret_volume.SecretVolume's path;
        without it the app reads REDIS_PASSWORD only)."""
        return with_password_file(
            app_env(self.repo)
            | {
                "REDIS_HOST": ",".join(n.host for n in self.nodes),
                "REDIS_PORT": str(self.rendered.redis_port),
                "REDIS_PASSWORD": self.password,
                **(self.tls.env() if self.tls else {}),
            },
            password_file,
        )

    def app(self, password_file: Path | None = None):
        """The generated client snippet's client(), set up from app_env(password_file)."""
        if self._client_module is None:
            self._client_module = load_client(self.repo)
        module = self._client_module
        return module.client(module.settings_from_env(self.app_env(password_file)))


def _info_dict(text: str) -> dict[str, str]:
    return dict(
        line.split(":", 1)
        for line in str(text).splitlines()
        if ":" in line and not line.startswith("#")
    )


def _parse_nodes(reply) -> list[dict]:
    """CLUSTER NODES -> [{id, address, flags, master, link, slots: [(a, b)]}], parsed by
    the cluster check's own parser."""
    return [
        {
            "id": n.id,
            "address": n.address,
            "flags": set(n.flags),
            "master": n.master_id,
            "link": n.link,
            "slots": list(n.slots),
        }
        for n in parse_nodes(str(reply))
    ]


def _role(me: dict) -> str:
    return "master" if "master" in me["flags"] else "slave"


def _link_up(client: redis.Redis) -> bool:
    try:
        with client as r:
            return r.info("replication").get("master_link_status") == "up"
    except redis.RedisError:
        return False
