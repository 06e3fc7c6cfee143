{% from '.portal-context.jinja' import cluster_masters, cluster_node_timeout_ms, engine_name, service_name with context %}"""{{ engine_name }} Cluster client for {{ service_name }} (redis-py RedisCluster).

The keyspace is sharded over {{ cluster_masters }} masters. client() connects to the seed
REDIS_HOST:REDIS_PORT once, reads the slot map and then sends each command to the
master that owns its key's slot, by the pod's stable name; it follows MOVED (a slot now
lives elsewhere) and ASK (a slot being migrated) redirections by itself, and reloads the
slot map after a failover. The password (REDIS_PASSWORD) is needed by every node.

The manifest/components/redis-env component sets these variables on the app's
container. Outside Kubernetes, REDIS_HOST may be a comma-separated list of seed hosts.
Keys used together in one command (MGET, a transaction) must share a slot: put the
common part in braces, {cart:42}:items and {cart:42}:total.

    from redis_client import client
    client().set("cart:42", "3 items")
    client().get("cart:42")
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from redis.backoff import ExponentialBackoff
from redis.cluster import ClusterNode, RedisCluster
from redis.retry import Retry

ENV_VARS = ("REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD")

# A master that stops answering is replaced by its replica after cluster-node-timeout
# ({{ cluster_node_timeout_ms }} ms for this {{ engine_name }} Cluster) and an election of a second or so.
# client() keeps retrying for twice that, reloading the slot map on each try, so a write
# issued while a master dies lands on its promoted replica.
# Retrying a write that is not idempotent (INCR, LPUSH) may apply it twice: pass
# retries=0 to client() for those and handle the error yourself.
FAILOVER_SECONDS = 2 * {{ cluster_node_timeout_ms }} / 1000
BACKOFF_CAP, BACKOFF_BASE = 0.5, 0.05
DEFAULT_RETRIES = math.ceil(FAILOVER_SECONDS / BACKOFF_CAP) + 3


@dataclass(frozen=True)
class Settings:
    hosts: tuple[str, ...]
    port: int
    password: str = field(repr=False)
    socket_timeout: float = 1.0

    @property
    def seeds(self) -> list[ClusterNode]:
        return [ClusterNode(host, self.port) for host in self.hosts]


def settings_from_env(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the settings from `environ` (the process env by default)."""
    missing = [name for name in ENV_VARS if not environ.get(name)]
    if missing:
        raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
    return Settings(
        hosts=tuple(h.strip() for h in environ["REDIS_HOST"].split(",") if h.strip()),
        port=int(environ["REDIS_PORT"]),
        password=environ["REDIS_PASSWORD"],
    )


def client(settings: Settings | None = None, retries: int = DEFAULT_RETRIES) -> RedisCluster:
    """A cluster client: each command goes to the master of its key's slot, found again
    after a failover. Create it once and reuse it: it keeps a pool per node."""
    settings = settings or settings_from_env()
    return RedisCluster(
        startup_nodes=settings.seeds,
        password=settings.password,
        # On a connection error or timeout: back off, reload the slot map, try again.
        retry=Retry(ExponentialBackoff(BACKOFF_CAP, BACKOFF_BASE), retries),
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.socket_timeout,
    )


if __name__ == "__main__":
    # python redis_client.py: write a key on the master of its slot and read it back.
    import uuid

    key = f"{{ service_name }}:example:{uuid.uuid4().hex}"
    redis_cluster = client()
    redis_cluster.set(key, "hello", ex=60)
    print(f"wrote {key} on {redis_cluster.get_node_from_key(key).name}; read back: {redis_cluster.get(key)!r}")
