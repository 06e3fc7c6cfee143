"""Redis clients for {{ service_name }}: reads through the Service, writes to the master.

Reads go to REDIS_HOST:REDIS_READ_PORT, the Service that spreads connections over
every pod, the master included; a read may therefore lag a write by a little.
Writes go to the master that Sentinel names: ask any sentinel on
REDIS_HOST:REDIS_SENTINEL_PORT for master set REDIS_MASTER_SET, and ask again after
a failover. The password (REDIS_PASSWORD) is needed by the sentinels too.

The manifest/components/redis-env component sets these variables on the app's
container. Outside Kubernetes, REDIS_HOST may be a comma-separated list of hosts:
writer() asks each of them for the master, reader() reads from the first.

    from redis_client import reader, writer
    writer().set("cart:42", "3 items")
    reader().get("cart:42")
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

import redis
from redis.backoff import ExponentialBackoff
from redis.exceptions import ConnectionError, TimeoutError
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

ENV_VARS = ("REDIS_HOST", "REDIS_READ_PORT", "REDIS_SENTINEL_PORT", "REDIS_MASTER_SET", "REDIS_PASSWORD")

# Sentinel waits down-after-milliseconds ({{ down_after_ms }} ms for this Redis) before
# it starts a failover, which then takes a second or two. writer() keeps retrying for
# twice that, so a write issued while the master dies lands on the new master.
# Retrying a write that is not idempotent (INCR, LPUSH) may apply it twice: pass
# retries=0 to writer() for those and handle the error yourself.
FAILOVER_SECONDS = 2 * {{ down_after_ms }} / 1000
BACKOFF_CAP, BACKOFF_BASE = 0.5, 0.05
DEFAULT_RETRIES = math.ceil(FAILOVER_SECONDS / BACKOFF_CAP) + 3


@dataclass(frozen=True)
class Settings:
    hosts: tuple[str, ...]
    read_port: int
    sentinel_port: int
    master_set: str
    password: str = field(repr=False)
    socket_timeout: float = 1.0

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [(host, self.sentinel_port) for host in self.hosts]


def settings_from_env(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the settings from `environ` (the process env by default)."""
    missing = [name for name in ENV_VARS if not environ.get(name)]
    if missing:
        raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
    return Settings(
        hosts=tuple(h.strip() for h in environ["REDIS_HOST"].split(",") if h.strip()),
        read_port=int(environ["REDIS_READ_PORT"]),
        sentinel_port=int(environ["REDIS_SENTINEL_PORT"]),
        master_set=environ["REDIS_MASTER_SET"],
        password=environ["REDIS_PASSWORD"],
    )


def _timeouts(settings: Settings) -> dict[str, float]:
    return {"socket_timeout": settings.socket_timeout, "socket_connect_timeout": settings.socket_timeout}


def reader(settings: Settings | None = None) -> redis.Redis:
    """A client on the read Service (any pod). Use it for reads only."""
    settings = settings or settings_from_env()
    return redis.Redis(
        host=settings.hosts[0], port=settings.read_port, password=settings.password,
        retry=Retry(ExponentialBackoff(BACKOFF_CAP, BACKOFF_BASE), 3),
        retry_on_error=[ConnectionError, TimeoutError],
        **_timeouts(settings),
    )


class MasterFollowingConnection(SentinelManagedConnection):
    """Asks Sentinel for the master on every (re)connect, retries included.

    redis-py's retry reconnects to the address the connection already had, so after a
    failover it would keep retrying the dead master until the retries run out
    (redis/redis-py#3874). Asking again costs one sentinel round trip per reconnect.
    """

    def _connect(self):
        if self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        return super()._connect()


def writer(settings: Settings | None = None, retries: int = DEFAULT_RETRIES) -> redis.Redis:
    """A client on the current master, found through Sentinel and found again after a failover."""
    settings = settings or settings_from_env()
    sentinel = Sentinel(
        settings.sentinels,
        # Sentinels ask for the password too; without it discovery fails with "No master found".
        # No retry on a sentinel: a dead one is skipped for the next instead of retried.
        sentinel_kwargs={"password": settings.password, "retry": None, **_timeouts(settings)},
        password=settings.password,
        **_timeouts(settings),
    )
    return sentinel.master_for(
        settings.master_set,
        connection_class=MasterFollowingConnection,
        retry=Retry(ExponentialBackoff(BACKOFF_CAP, BACKOFF_BASE), retries),
        retry_on_error=[ConnectionError, TimeoutError],
    )


if __name__ == "__main__":
    # python redis_client.py: write a key through the master, read it back through the Service.
    import uuid

    key = f"{{ service_name }}:example:{uuid.uuid4().hex}"
    writer().set(key, "hello", ex=60)
    print(f"wrote {key} on the master; read back: {reader().get(key)!r}")
