"""Read what the sandbox's servers say about themselves, and wait for a state, bounded.

`StateReader` asks each redis (INFO replication) and each sentinel (SENTINEL MASTER);
errors become strings, and the password never appears in what it returns.
`wait_until` polls a predicate until it holds or a time limit passes.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

import redis

from redis_scaffold.sandbox.nodes import Node, TopologyError

T = TypeVar("T")


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

    def __init__(self, nodes: list[Node], master_set: str, password: str) -> None:
        self.nodes = nodes
        self.master_set = master_set
        self.password = password

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

    def status(self) -> dict:
        """Role and view of every process; errors as strings (never the password)."""
        return {
            node.host: self._redis_view(node) | {"sentinel": self._sentinel_view(node)}
            for node in self.nodes
        }

    def _redis_view(self, node: Node) -> dict:
        try:
            with self.client(node, timeout=0.5) as r:
                info = r.info("replication")
        except redis.RedisError as exc:
            return {"role": f"down ({type(exc).__name__})"}
        if info["role"] == "master":
            replicas = sorted(
                v["ip"]
                for k, v in info.items()
                if k.startswith("slave") and isinstance(v, dict) and v.get("state") == "online"
            )
            return {"role": "master", "replicas": replicas}
        return {
            "role": info["role"],
            "master": info.get("master_host"),
            "link": info.get("master_link_status"),
        }

    def _sentinel_view(self, node: Node) -> dict | str:
        try:
            with self.client(node, "sentinel", timeout=0.5) as s:
                m = s.sentinel_master(self.master_set)
        except redis.RedisError as exc:
            return f"down ({type(exc).__name__})"
        return {
            "master": m.get("ip"),
            "down": bool(m.get("is_sdown") or m.get("is_odown")),
            "replicas": m.get("num-slaves"),
            "other_sentinels": m.get("num-other-sentinels"),
        }

    def is_ready(self) -> bool:
        """One master with every other node an in-sync replica, and every sentinel agreeing
        on it, seeing all replicas and all other sentinels."""
        st = self.status()
        n = len(self.nodes)
        masters = [h for h, e in st.items() if e["role"] == "master"]
        if len(masters) != 1 or len(st[masters[0]]["replicas"]) != n - 1:
            return False
        master = masters[0]
        for host, e in st.items():
            if host != master and (
                e["role"] != "slave" or e["master"] != master or e["link"] != "up"
            ):
                return False
            s = e["sentinel"]
            if not isinstance(s, dict) or s["master"] != master or s["down"]:
                return False
            if s["replicas"] != n - 1 or s["other_sentinels"] != n - 1:
                return False
        return True
