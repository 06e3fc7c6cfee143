"""Read what the sandbox's servers say about themselves, and wait for a state, bounded.

`StateReader` asks each redis (INFO replication) and each sentinel (SENTINEL MASTER)
and returns typed views (`NodeState`: `RedisState`, `SentinelState`); a process that
does not answer is a view with `role == "down"` (or `error` set) naming the error's
type. Text is made only at the edge (`str()`, `render`); the password never appears.
`wait_until` polls a predicate until it holds or a time limit passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar

import redis

from redis_scaffold.sandbox.nodes import Node, TopologyError
from redis_scaffold.service.check import TlsFiles

T = TypeVar("T")


@dataclass(frozen=True)
class RedisState:
    """What a pod's redis says of itself (INFO replication)."""

    role: str  # "master", "slave", or "down" when it does not answer
    error: str = ""  # down: the type of the error, such as "ConnectionError"
    replicas: tuple[str, ...] = ()  # a master: the hosts of its online replicas
    master: str | None = None  # a replica: its master's host
    link: str | None = None  # a replica: master_link_status ("up" or "down")

    def __str__(self) -> str:
        if self.role == "down":
            return f"down ({self.error})"
        if self.role == "master":
            return f"master of {', '.join(self.replicas) or 'no replica'}"
        return f"{self.role} of {self.master} (link {self.link})"


@dataclass(frozen=True)
class SentinelState:
    """What a pod's sentinel says of the master set (SENTINEL MASTER)."""

    error: str = ""  # the type of the error when it does not answer
    master: str | None = None  # the master's host it names
    down: bool = False  # it flags that master subjectively or objectively down
    replicas: int | None = None  # replicas it knows of
    other_sentinels: int | None = None  # sentinels it knows of, itself excluded

    @property
    def answers(self) -> bool:
        return not self.error

    def __str__(self) -> str:
        if self.error:
            return f"down ({self.error})"
        flagged = ", flagged down" if self.down else ""
        return (
            f"names {self.master}{flagged}, {self.replicas} replicas, "
            f"{self.other_sentinels} other sentinels"
        )


@dataclass(frozen=True)
class NodeState:
    """One pod: its redis and its sentinel."""

    redis: RedisState
    sentinel: SentinelState

    @property
    def role(self) -> str:
        return self.redis.role

    def __str__(self) -> str:
        return f"redis {self.redis}; sentinel {self.sentinel}"


def render(status: Mapping[str, object]) -> str:
    """host: state, one per pod, for messages."""
    return "; ".join(f"{host}: {state}" for host, state in status.items())


class StateError(TopologyError):
    """The expected state was not reached (or nobody answered)."""


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    what: str,
    describe: Callable[[], object] | None = None,
    interval: float = 0.1,
) -> T:
    """Poll predicate() until truthy (returned) or `timeout` seconds pass (StateError,
    with describe() in the message)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            detail = f": {describe()}" if describe else ""
            raise StateError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(interval)


class StateReader:
    """The view of a topology's nodes from outside, as a client has it."""

    def __init__(
        self, nodes: list[Node], master_set: str, password: str, tls: TlsFiles | None = None
    ) -> None:
        self.nodes = nodes
        self.master_set = master_set
        self.password = password
        self.tls = tls  # tls: connections verify the node's certificate (and present one)

    def client(self, node: Node, role: str = "redis", timeout: float = 1.0) -> redis.Redis:
        """A redis-py client to the node's redis (or sentinel), authenticated."""
        port = node.redis_port if role == "redis" else node.sentinel_port
        return redis.Redis(
            host=node.host,
            port=port,
            password=self.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            decode_responses=True,
            **(self.tls.redis_kwargs() if self.tls else {}),
        )

    def replication(self, node: Node, timeout: float = 0.5) -> dict | None:
        """INFO replication of the node's redis, or None when it does not answer."""
        try:
            with self.client(node, timeout=timeout) as r:
                return r.info("replication")
        except redis.RedisError:
            return None

    def replicas_listed(self) -> bool:
        """Some redis is a master that lists every other node as its replica."""
        for node in self.nodes:
            info = self.replication(node)
            if (
                info
                and info.get("role") == "master"
                and info.get("connected_slaves", 0) >= len(self.nodes) - 1
            ):
                return True
        return False

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
        raise StateError("no sentinel names a master")

    def status(self) -> dict[str, NodeState]:
        """host -> what its redis and its sentinel say (never the password)."""
        return {
            node.host: NodeState(self._redis_view(node), self._sentinel_view(node))
            for node in self.nodes
        }

    def describe(self) -> str:
        return render(self.status())

    def _redis_view(self, node: Node) -> RedisState:
        try:
            with self.client(node, timeout=0.5) as r:
                info = r.info("replication")
        except redis.RedisError as exc:
            return RedisState("down", error=type(exc).__name__)
        if info["role"] == "master":
            replicas = sorted(
                v["ip"]
                for k, v in info.items()
                if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online"
            )
            return RedisState("master", replicas=tuple(replicas))
        return RedisState(
            info["role"], master=info.get("master_host"), link=info.get("master_link_status")
        )

    def _sentinel_view(self, node: Node) -> SentinelState:
        try:
            with self.client(node, "sentinel", timeout=0.5) as s:
                m = s.sentinel_master(self.master_set)
        except redis.RedisError as exc:
            return SentinelState(error=type(exc).__name__)
        return SentinelState(
            master=m.get("ip"),
            down=bool(m.get("is_sdown") or m.get("is_odown")),
            replicas=m.get("num-slaves"),
            other_sentinels=m.get("num-other-sentinels"),
        )

    def is_ready(self) -> bool:
        """One master with every other node an in-sync replica, and every sentinel agreeing
        on it, seeing all replicas and all other sentinels."""
        st = self.status()
        n = len(self.nodes)
        masters = [h for h, e in st.items() if e.role == "master"]
        if len(masters) != 1 or len(st[masters[0]].redis.replicas) != n - 1:
            return False
        master = masters[0]
        for host, e in st.items():
            if host != master and (
                e.role != "slave" or e.redis.master != master or e.redis.link != "up"
            ):
                return False
            s = e.sentinel
            if not s.answers or s.master != master or s.down:
                return False
            if s.replicas != n - 1 or s.other_sentinels != n - 1:
                return False
        return True
