"""Sentinel clients for a service's Redis (redis-py): reads through the Service, writes to the master.

Reads go to the read Service (REDIS_HOST:REDIS_READ_PORT), which spreads connections
over every pod, the master included; a read may therefore lag a write by a little.
Writes go to the master that the majority of sentinels names (REDIS_HOST:REDIS_SENTINEL_PORT,
master set REDIS_MASTER_SET), found again the moment a sentinel announces a failover.
The password (REDIS_PASSWORD) is needed by the sentinels too. With REDIS_TLS=true every
connection, to the sentinels included, speaks TLS, verifying the server's certificate
against REDIS_TLS_CA_FILE and its name (hostname check on); REDIS_TLS_CERT_FILE and
REDIS_TLS_KEY_FILE give a client certificate where the servers ask for one (mutual
TLS). With REDIS_PASSWORD_FILE (the Secret mounted as a file, which the kubelet
refreshes) the password is read from that file, and read again when it changes: the
next connections sign in with the new password, so a rotation needs no restart
(redis_service_client.password). Outside Kubernetes,
REDIS_HOST may be a comma-separated list of hosts: writer() asks each of them, reader()
reads from the first that answers.

The service's own values (its down-after-milliseconds, its replica count) come from the
adapter the template generates (client/python/redis_client.py); this library holds the
logic, versioned with the template and installed by the app as a pinned requirement.

    from redis_service_client import reader, settings_from_env, write_confirmed, writer
    settings = settings_from_env(down_after_ms=5000, replicas=2)
    w = writer(settings)                           # once per process; w.close() at exit
    w.set("cart:42", "3 items")                    # idempotent: safe to retry
    write_confirmed(writer(settings, retries=0), "INCR", "cart:42:version")
    reader(settings).get("cart:42")

How the writer follows a failover:
- SwitchWatcher subscribes to `+switch-master` and `+odown` on every sentinel, each in
  a thread that reconnects on its own (off a write's path: they sleep in select); an
  announcement drops the writer's connections at once and wakes its retries.
- FollowingSentinel asks every sentinel it knows, not the first that answers: a sentinel
  cut off with the old master keeps naming it, while the majority elected a new one
  under a newer config epoch. It follows the newest epoch, and refuses a master that a
  majority reports down.
- The writer treats READONLY (a demoted master) and NOREPLICAS (a master without
  replicas: isolated, or just promoted) as "find the master again", and retries.
"""

from __future__ import annotations

import math
import os
import socket
import ssl
import threading
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache

import redis
from redis.backoff import AbstractBackoff
from redis.connection import Connection, SSLConnection
from redis.exceptions import ConnectionError, ResponseError, TimeoutError
from redis.retry import Retry
from redis.sentinel import MasterNotFoundError, Sentinel, SentinelManagedConnection

from redis_service_client.password import (  # noqa: F401 - re-exported (PasswordFile)
    PASSWORD_FILE_ENV,
    PasswordFile,
    close_idle,
    follow,
    password_file,
)

ENV_VARS = (
    "REDIS_HOST",
    "REDIS_READ_PORT",
    "REDIS_SENTINEL_PORT",
    "REDIS_MASTER_SET",
    "REDIS_PASSWORD",
)
# Optional: TLS (the redis-env component sets the first two when the service has tls).
TLS_ENV_VARS = ("REDIS_TLS", "REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE")

# Sentinel waits down-after-milliseconds (Settings.down_after_ms: the service's own,
# given by its adapter) before it starts a failover, which then takes a second or two.
# A write keeps retrying for twice that, so a write issued while the master dies lands
# on the new master. The retries wait 10 ms three times, then 20 ms, 40 ms, ... up to
# 250 ms, and a sentinel's announcement of the new master ends the wait at once and
# starts the steps again (the new master refuses writes, NOREPLICAS, until a replica
# has attached: tens of ms).
BACKOFF_BASE, BACKOFF_CAP = 0.01, 0.25
CONFIRM_TIMEOUT_MS = 500
SWITCH_CHANNEL = "+switch-master"  # <set> <old ip> <old port> <new ip> <new port>
DOWN_CHANNEL = "+odown"  # master <set> <ip> <port> #quorum <n>/<q>: a quorum finds it down


@dataclass(frozen=True)
class Settings:
    """Where the service's Redis is, and the service's own timing.

    down_after_ms: its sentinels' down-after-milliseconds (the writer's retries last
    about twice that); replicas: how many replicas a confirmed write waits for (all of
    them: then whichever replica Sentinel promotes holds it)."""

    hosts: tuple[str, ...]
    read_port: int
    sentinel_port: int
    master_set: str
    password: str = field(repr=False)
    socket_timeout: float = 1.0
    down_after_ms: int = 30_000
    replicas: int = 1
    tls: bool = False
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    # REDIS_PASSWORD_FILE: the password is read from this file (and again when it
    # changes) instead of `password`, which is then only what the env said at start.
    password_file: str | None = None

    @property
    def sentinels(self) -> list[tuple[str, int]]:
        return [(host, self.sentinel_port) for host in self.hosts]

    @property
    def failover_seconds(self) -> float:
        return 2 * self.down_after_ms / 1000

    @property
    def default_retries(self) -> int:
        return math.ceil(self.failover_seconds / BACKOFF_CAP) + 5


def settings_from_env(
    environ: Mapping[str, str] = os.environ, env_vars: tuple[str, ...] = ENV_VARS, **service
) -> Settings:
    """Read the settings from `environ` (the process env by default).

    env_vars names the host, read port, sentinel port, master set and password
    variables, in that order; `service` sets the other Settings fields (down_after_ms,
    replicas, socket_timeout)."""
    missing = [name for name in env_vars if not environ.get(name)]
    if missing:
        raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
    host, read_port, sentinel_port, master_set, password = (environ[name] for name in env_vars)
    tls, ca_file, cert_file, key_file = (environ.get(name, "") for name in TLS_ENV_VARS)
    password_file = environ.get(PASSWORD_FILE_ENV, "")
    if tls.lower() not in ("", "true", "false"):
        raise RuntimeError(f"REDIS_TLS must be true or false (got {tls!r})")
    return Settings(
        hosts=tuple(h.strip() for h in host.split(",") if h.strip()),
        read_port=int(read_port),
        sentinel_port=int(sentinel_port),
        master_set=master_set,
        password=password,
        tls=tls.lower() == "true",
        tls_ca_file=ca_file or None,
        tls_cert_file=cert_file or None,
        tls_key_file=key_file or None,
        password_file=password_file or None,
        **service,
    )


# ------------------------------------------------------------------ the password
def _credentials(settings: Settings) -> dict:
    """How a connection signs in: the file's password provider, or the env's password."""
    if settings.password_file:
        return {"credential_provider": password_file(settings.password_file)}
    return {"password": settings.password}


def _refresh_on_change(settings: Settings, target, refresh) -> None:
    """With a password file: call refresh(target) when the password changes (password.follow)."""
    if settings.password_file:
        follow(password_file(settings.password_file), target, refresh)


def _timeouts(settings: Settings) -> dict[str, float]:
    return {
        "socket_timeout": settings.socket_timeout,
        "socket_connect_timeout": settings.socket_timeout,
    }


def _tls(settings: Settings) -> dict:
    """The SSLConnection arguments (none without TLS): the CA, the hostname check (on:
    redis-py 5 defaults it off), and a client certificate when one is given."""
    if not settings.tls:
        return {}
    return {
        "ssl_ca_certs": settings.tls_ca_file,
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_certfile": settings.tls_cert_file,
        "ssl_keyfile": settings.tls_key_file,
    }


def _sentinel_tls(settings: Settings) -> dict:
    """The same for a sentinel's redis.Redis, which picks its connection class by `ssl`.
    (redis-py's Sentinel passes only socket_* options on to sentinel connections: ssl,
    the CA and the password must be given to them again.)"""
    return {"ssl": True, **_tls(settings)} if settings.tls else {}


# ----------------------------------------------------------------------- reads
class HostListConnection(Connection):
    """Connects to the first of `hosts` that answers, starting after the last one that failed.

    In a cluster REDIS_HOST is one Service name and this is a plain connection; outside
    one, REDIS_HOST may list the pods, and a read then survives the loss of any of them."""

    def __init__(self, hosts: tuple[str, ...] = (), **kwargs):
        super().__init__(**kwargs)
        self.hosts = hosts or (self.host,)

    def _connect(self):
        error = None
        for _ in self.hosts:
            try:
                return super()._connect()
            except (ConnectionError, TimeoutError, OSError) as exc:
                error = exc
                self.host = self.hosts[(self.hosts.index(self.host) + 1) % len(self.hosts)]
        raise error


@lru_cache(maxsize=8)
def _ssl_context(ca_file, cert_file, key_file, check_hostname: bool) -> ssl.SSLContext:
    """One client context per TLS setting, for the process's life."""
    context = ssl.create_default_context(cafile=ca_file)
    context.check_hostname = check_hostname
    if cert_file:
        context.load_cert_chain(cert_file, key_file)
    return context


class CachedContextSSLConnection(SSLConnection):
    """redis-py's SSLConnection, with one SSLContext per setting instead of one per
    connection. redis-py makes each with ssl.create_default_context(), which loads the
    system's CA store, about 30 ms here: a writer reconnects several times through a
    failover (every NOREPLICAS drops the connection), and that was most of what TLS added
    to it (docs/performance.md, "Failover over TLS"). The CA, client certificate and
    hostname check are the connection's own arguments (ssl_ca_certs, ssl_certfile,
    ssl_keyfile, ssl_check_hostname), verification always required; the other SSL
    options (ca_path, ca_data, OCSP, ciphers) are not used by this library."""

    def _connect(self):
        sock = Connection._connect(self)  # the TCP connection, with its socket options
        context = _ssl_context(
            self.ca_certs, self.certfile, self.keyfile, bool(self.check_hostname)
        )
        try:
            return context.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


class HostListSSLConnection(HostListConnection, CachedContextSSLConnection):
    """HostListConnection over TLS."""


def reader(settings: Settings | None = None) -> redis.Redis:
    """A client on the read Service (any pod). Use it for reads only."""
    settings = settings or settings_from_env()
    pool = redis.ConnectionPool(
        connection_class=HostListSSLConnection if settings.tls else HostListConnection,
        hosts=settings.hosts,
        host=settings.hosts[0],
        port=settings.read_port,
        **_credentials(settings),
        retry=Retry(GrowingBackoff(), 3),
        retry_on_error=[ConnectionError, TimeoutError],
        **_timeouts(settings),
        **_tls(settings),
    )
    _refresh_on_change(settings, pool, close_idle)
    return redis.Redis(connection_pool=pool)


# ---------------------------------------------------- writes: the master to use
def _flags(state: dict) -> set[str]:
    flags = state.get("flags", "")
    return set(flags.split(",")) if isinstance(flags, str) else set(flags)


# "disconnected" is not one: a sentinel names the new master before its own link to it is up.
DOWN_FLAGS = {"s_down", "o_down", "failover_in_progress"}


def choose_master(answers: list[dict], voters: int) -> tuple[str, int]:
    """The master to write to, from the SENTINEL MASTER answers of several sentinels.

    A failover needs the votes of a majority of sentinels and raises the config epoch,
    so the newest epoch among the sentinels that consider their master up names the
    master the majority chose; a sentinel cut off with the old master still names it,
    under an older epoch. A master that a majority of the `voters` reports down (or
    names another master) is refused: writes to it would be lost after the heal."""
    usable = [a for a in answers if not _flags(a) & DOWN_FLAGS]
    if not usable:
        raise MasterNotFoundError("no sentinel names a master that is up")
    newest = max(int(a.get("config-epoch", 0)) for a in usable)
    named = Counter(
        (a["ip"], int(a["port"])) for a in usable if int(a.get("config-epoch", 0)) == newest
    )
    address = named.most_common(1)[0][0]
    # Answers under an older epoch are outdated, not a vote against (they have not heard
    # of the failover yet); answers as new that name another master or report it down are.
    against = sum(
        1
        for a in answers
        if int(a.get("config-epoch", 0)) >= newest
        and ((a["ip"], int(a["port"])) != address or _flags(a) & DOWN_FLAGS)
    )
    if against >= voters // 2 + 1:
        raise MasterNotFoundError("a majority of sentinels does not name this master")
    return address


class FollowingSentinel(Sentinel):
    """redis-py's Sentinel, asking every sentinel it knows for the master (choose_master).

    Its peers are learnt from the sentinels themselves (SENTINEL SENTINELS): behind one
    Service name, every pod's sentinel is then asked by its own announced name."""

    def __init__(self, sentinels, **kwargs):
        super().__init__(sentinels, **kwargs)
        self.configured = list(sentinels)
        self.peers: set[tuple[str, int]] = set()
        self._ask_pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="sentinel-ask")

    def client_for(self, address: tuple[str, int]) -> redis.Redis:
        for client in self.sentinels:
            kwargs = client.connection_pool.connection_kwargs
            if (kwargs["host"], kwargs["port"]) == address:
                return client
        client = redis.Redis(host=address[0], port=address[1], **self.sentinel_kwargs)
        self.sentinels.append(client)
        return client

    def _ask(self, address: tuple[str, int], service_name: str):
        try:
            pipe = self.client_for(address).pipeline(transaction=False)
            pipe.sentinel_master(service_name)
            pipe.sentinel_sentinels(service_name)
            state, peers = pipe.execute()
        except (ConnectionError, TimeoutError, ResponseError):
            return None
        self.peers.update((p["ip"], int(p["port"])) for p in peers)
        return state

    def _answers(self, addresses, service_name: str) -> list[dict]:
        return [a for a in self._ask_pool.map(lambda s: self._ask(s, service_name), addresses) if a]

    def discover_master(self, service_name):
        learning = not self.peers
        asked = sorted(self.peers) or self.configured
        answers = self._answers(asked, service_name)
        if not answers and asked is not self.configured:
            asked = self.configured  # the pods' own names do not answer: the configured ones may
            answers = self._answers(asked, service_name)
        if not answers:
            raise MasterNotFoundError(f"No sentinel answered for {service_name!r}")
        if learning and self.peers and set(asked) != self.peers:
            return self.discover_master(service_name)  # first call behind a Service: ask the pods
        voters = max(int(a.get("num-other-sentinels", 0)) + 1 for a in answers)
        return choose_master(answers, voters)

    def close(self) -> None:
        self._ask_pool.shutdown(wait=False)
        for client in self.sentinels:
            client.close()


# ------------------------------------------------- writes: hearing of a failover
class SwitchWatcher:
    """Listens for `+switch-master` on every sentinel, each in a thread that reconnects.

    on_switch(new_address) runs on every announcement (`<set> <old ip> <old port> <new
    ip> <new port>`, each sentinel sends its own); wait(timeout) returns early when one
    arrives (the retries sleep in it). It also listens for `+odown`: a quorum of
    sentinels finds the master down, a failover is coming; on_down(address) runs then,
    so that a writer stops writing to a master cut off from the majority before the
    election, not after it."""

    RECONNECT_S = 0.2

    def __init__(self, sentinel: FollowingSentinel, master_set: str, on_switch=None):
        self.sentinel, self.master_set, self.on_switch = sentinel, master_set, on_switch
        self.on_down = None
        self.announcements = 0
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._threads: dict[tuple[str, int], threading.Thread] = {}
        self._renewals = 0

    def renew(self, generation: int) -> None:
        """Open every subscription again (within half a second) when `generation` (the
        password file's count of changes) is new: a connection made with the old password
        must go."""
        self._renewals = generation

    def watch(self, addresses) -> SwitchWatcher:
        for address in addresses:
            if address not in self._threads and not self._stop.is_set():
                thread = threading.Thread(
                    target=self._listen, args=(address,), daemon=True, name=f"switch-{address[0]}"
                )
                self._threads[address] = thread
                thread.start()
        return self

    def _listen(self, address: tuple[str, int]) -> None:
        kwargs = dict(self.sentinel.sentinel_kwargs, health_check_interval=2)
        while not self._stop.is_set():
            renewals = self._renewals
            try:
                with (
                    redis.Redis(host=address[0], port=address[1], **kwargs) as client,
                    client.pubsub() as pubsub,
                ):
                    pubsub.subscribe(SWITCH_CHANNEL, DOWN_CHANNEL)
                    while not self._stop.is_set() and renewals == self._renewals:
                        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5)
                        if message:
                            self._heard(
                                message["channel"].decode(), message["data"].decode().split()
                            )
            except (ConnectionError, TimeoutError, OSError):
                self._stop.wait(self.RECONNECT_S)

    def _heard(self, channel: str, words: list[str]) -> None:
        if channel == SWITCH_CHANNEL and len(words) == 5 and words[0] == self.master_set:
            self._announced((words[3], int(words[4])))
        elif channel == DOWN_CHANNEL and words[:2] == ["master", self.master_set] and self.on_down:
            self.on_down((words[2], int(words[3])))

    def _announced(self, address: tuple[str, int]) -> None:
        if self.on_switch:
            self.on_switch(address)
        with self._changed:
            self.announcements += 1
            self._changed.notify_all()

    def wait(self, timeout: float) -> None:
        seen = self.announcements
        with self._changed:
            self._changed.wait_for(
                lambda: self.announcements != seen or self._stop.is_set(), timeout
            )

    def close(self) -> None:
        self._stop.set()
        with self._changed:
            self._changed.notify_all()


class GrowingBackoff(AbstractBackoff):
    """Back-off: BACKOFF_BASE three times, then doubling up to BACKOFF_CAP, slept in
    watcher.wait(): a failover announcement ends the sleep at once, and the steps start
    again from BACKOFF_BASE after it (the new master may refuse writes for a moment,
    NOREPLICAS, until a replica has attached: poll it closely)."""

    def __init__(
        self,
        watcher: SwitchWatcher | None = None,
        base: float = BACKOFF_BASE,
        cap: float = BACKOFF_CAP,
    ):
        self.watcher, self.base, self.cap = watcher, base, cap
        self._heard, self._since = 0, 0

    def __deepcopy__(self, memo) -> GrowingBackoff:
        return GrowingBackoff(
            self.watcher, self.base, self.cap
        )  # every connection copies its retry

    def reset(self) -> None:
        self._heard, self._since = (self.watcher.announcements if self.watcher else 0), 0

    def compute(self, failures: int) -> float:
        if self.watcher is not None and self.watcher.announcements != self._heard:
            self._heard, self._since = self.watcher.announcements, failures - 1
        delay = min(self.cap, self.base * 2 ** max(0, failures - 3 - self._since))
        if self.watcher is None:
            return delay
        self.watcher.wait(delay)
        return 0


class MasterFollowingConnection(SentinelManagedConnection):
    """Asks for the master on every (re)connect, retries included, and treats READONLY
    and NOREPLICAS as "find the master again".

    redis-py's retry reconnects to the address the connection already had, so after a
    failover it could keep retrying the dead master (redis/redis-py#3874). READONLY (a
    demoted master) already becomes a ConnectionError in redis-py; NOREPLICAS (a master
    that lost its replicas: cut off from them, or promoted a moment ago) is made one
    here, so the retry asks the sentinels again instead of failing the write."""

    def _connect(self):
        if self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        return super()._connect()

    def read_response(self, *args, **kwargs):
        try:
            return super().read_response(*args, **kwargs)
        except ResponseError as exc:
            if self.connection_pool.is_master and str(exc).startswith("NOREPLICAS"):
                self.disconnect()
                raise ConnectionError(
                    "NOREPLICAS: the master has no replica in sync; finding the master again"
                ) from exc
            raise


class MasterFollowingSSLConnection(MasterFollowingConnection, CachedContextSSLConnection):
    """MasterFollowingConnection over TLS (as redis-py's SentinelManagedSSLConnection)."""


def drop_connections(pool: redis.ConnectionPool) -> None:
    """Drop every connection of the pool to the old master, a command in flight included
    (a hung or cut-off master would hold it for socket_timeout): idle ones are closed; the
    sockets of those in use are only shut down, so the thread reading one gets a
    ConnectionError and its retry reconnects to the new master at once (closing a socket
    under a reading thread's feet would raise ValueError there instead)."""
    pool.disconnect(inuse_connections=False)
    for sock in _in_use_sockets(pool):
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _in_use_sockets(pool: redis.ConnectionPool) -> list[socket.socket]:
    """THE ONE PRIVATE HOOK into redis-py: the sockets of the connections in use.

    redis-py has no public way to interrupt a command in flight on a pooled connection
    (ConnectionPool.disconnect(inuse_connections=True) closes the socket under the
    reading thread, which then fails with ValueError instead of a retried
    ConnectionError). Reads ConnectionPool._lock, ConnectionPool._in_use_connections and
    Connection._sock; checked on redis-py 5.0.1 and 8.1.0, the ends of the range this
    package declares. check_redis_py() asserts these names, and the version matrix
    (tests/test_clients_matrix.py) runs it, and every fault story, on both ends.
    (The `_connect` overrides above are the subclass hook redis-py's own connection
    classes use: SSLConnection, UnixDomainSocketConnection. CachedContextSSLConnection
    also reads SSLConnection's ca_certs, certfile, keyfile and check_hostname.)"""
    with pool._lock:
        in_use = list(pool._in_use_connections)
    return [c._sock for c in in_use if c._sock is not None]


def check_redis_py() -> str:
    """Fail loudly when the installed redis-py lacks what _in_use_sockets and the
    `_connect` overrides rely on; returns redis-py's version."""
    pool = redis.ConnectionPool()
    missing = [name for name in ("_lock", "_in_use_connections") if not hasattr(pool, name)]
    connection = Connection()
    missing += [name for name in ("_sock", "_connect") if not hasattr(connection, name)]
    tls = SSLConnection()
    missing += [
        name
        for name in ("ca_certs", "certfile", "keyfile", "check_hostname")
        if not hasattr(tls, name)
    ]
    if missing:
        raise RuntimeError(
            f"redis-py {redis.__version__} lacks {', '.join(missing)}: redis_service_client needs a fix"
        )
    return redis.__version__


class Writer(redis.Redis):
    """The writer's redis.Redis; close() also stops its sentinel watcher."""

    watcher: SwitchWatcher | None = None
    settings: Settings | None = None

    def close(self) -> None:
        if self.watcher is not None:
            self.watcher.close()
            self.watcher.sentinel.close()
        super().close()


def writer(settings: Settings | None = None, retries: int | None = None) -> Writer:
    """A client on the current master, found through Sentinel and found again after a failover.

    Create it once per process and reuse it (it keeps a pool of connections and one
    subscription per sentinel); close() it at exit. retries: how many times a command
    is retried (default: about twice down-after of back-off; 0 for writes that are not
    idempotent)."""
    settings = settings or settings_from_env()
    retries = settings.default_retries if retries is None else retries
    sentinel = FollowingSentinel(
        settings.sentinels,
        # Sentinels ask for the password too; without it discovery fails with "No master found".
        # No retry on a sentinel: a dead one is skipped for the next instead of retried.
        sentinel_kwargs={
            **_credentials(settings),
            "retry": None,
            **_timeouts(settings),
            **_sentinel_tls(settings),
        },
        **_credentials(settings),
        **_timeouts(settings),
        **_tls(settings),
    )
    watcher = SwitchWatcher(sentinel, settings.master_set)
    client = sentinel.master_for(
        settings.master_set,
        redis_class=Writer,
        connection_class=MasterFollowingSSLConnection
        if settings.tls
        else MasterFollowingConnection,
        retry=Retry(GrowingBackoff(watcher), retries),
        retry_on_error=[ConnectionError, TimeoutError],
    )
    client.settings = settings
    pool = client.connection_pool

    def on_switch(address: tuple[str, int]) -> None:
        if pool.master_address != address:
            drop_connections(pool)

    def on_down(address: tuple[str, int]) -> None:
        # The retries then ask the sentinels, whose majority reports this master down:
        # no write goes to it until they name a master again (this one, or a new one).
        if pool.master_address == address:
            drop_connections(pool)

    watcher.on_switch, watcher.on_down = on_switch, on_down
    client.watcher = watcher.watch(settings.sentinels)
    _refresh_on_change(settings, client, _password_changed)
    try:
        sentinel.discover_master(settings.master_set)  # learn the sentinels' own names
    except (ConnectionError, TimeoutError):
        pass  # none answers yet: the first write asks again
    watcher.watch(sorted(sentinel.peers))
    return client


def _password_changed(client: Writer) -> None:
    """The password file changed: close the idle connections to the master and to the
    sentinels (again on the polls after: what a busy thread has given back since), and
    renew the subscriptions once per change."""
    close_idle(client.connection_pool)
    for sentinel in list(client.watcher.sentinel.sentinels):
        close_idle(sentinel.connection_pool)
    client.watcher.renew(password_file(client.settings.password_file).changes)


# ------------------------------------------------------------ confirmed writes
class NotConfirmed(redis.RedisError):
    """The write was applied on the master but fewer replicas than asked confirmed it in time."""


def write_confirmed(
    client: redis.Redis, *command, replicas: int | None = None, timeout_ms: int = CONFIRM_TIMEOUT_MS
):
    """Run one write command, then WAIT until `replicas` replicas hold it.

    Returns the command's reply; raises NotConfirmed when fewer replicas confirmed
    within timeout_ms: the write was applied on the master but may still be lost in a
    failover. The pair is retried like any write of `client`: for a write that is not
    idempotent pass a writer(retries=0), so that an error never means "applied twice".

        write_confirmed(writer(retries=0), "INCR", "orders:count")
        write_confirmed(w, "SET", "cart:42", "3 items", replicas=1)
    """
    if replicas is None:
        settings = getattr(client, "settings", None)
        replicas = settings.replicas if settings is not None else 1
    pipe = client.pipeline(transaction=False)
    pipe.execute_command(*command)
    pipe.execute_command("WAIT", replicas, timeout_ms)
    reply, confirmed = pipe.execute()
    if int(confirmed) < replicas:
        raise NotConfirmed(
            f"{confirmed} of {replicas} replicas confirmed the write within {timeout_ms} ms"
        )
    return reply


def example(settings: Settings, prefix: str) -> str:
    """Write a key through the master (WAIT-confirmed), read it back through the Service."""
    import uuid

    key = f"{prefix}:example:{uuid.uuid4().hex}"
    w = writer(settings)
    try:
        write_confirmed(w, "SET", key, "hello", "EX", 60)
        with reader(settings) as r:
            value = r.get(key)
    finally:
        w.close()
    return f"wrote {key} on the master, confirmed by {settings.replicas} replicas; read back: {value!r}"
