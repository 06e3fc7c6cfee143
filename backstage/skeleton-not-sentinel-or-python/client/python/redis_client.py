{% from '.portal-context.jinja' import cluster_masters, cluster_node_timeout_ms, down_after_ms, engine_name, master_set, redis_replicas, service_name, topology with context %}{% if topology == 'sentinel' %}{% with %}"""{{ engine_name }} clients for {{ service_name }}: this service's settings for redis-service-client.

The logic (majority vote, failover announcements, confirmed writes) is the
redis-service-client library, released with the template; README.md says how the app
installs it, follows its fixes, or vendors it. This file holds only what is this
service's own: the environment the redis-env component sets, the master set, the timing.

    from redis_client import reader, writer, write_confirmed
    w = writer()                                   # once per process; w.close() at exit
    w.set("cart:42", "3 items")                    # idempotent: safe to retry
    write_confirmed(writer(retries=0), "INCR", "cart:42:version")  # not idempotent; WAIT-confirmed
    reader().get("cart:42")
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import redis_service_client as _lib
from redis_service_client import MasterNotFoundError, NotConfirmed, Settings, write_confirmed  # noqa: F401

# REDIS_HOST, REDIS_READ_PORT, REDIS_SENTINEL_PORT, REDIS_MASTER_SET ({{ master_set }}), REDIS_PASSWORD
ENV_VARS = _lib.ENV_VARS
DOWN_AFTER_MS = {{ down_after_ms }}  # the sentinels' down-after-milliseconds: retries last twice that
REPLICAS = {{ redis_replicas - 1 }}  # every replica of the {{ redis_replicas }} pods: a confirmed write survives a failover
SOCKET_TIMEOUT_S = 1.0


def settings_from_env(environ: Mapping[str, str] = os.environ) -> Settings:
    return _lib.settings_from_env(
        environ, ENV_VARS, down_after_ms=DOWN_AFTER_MS, replicas=REPLICAS, socket_timeout=SOCKET_TIMEOUT_S
    )


def reader(settings: Settings | None = None):
    """A client on the read Service (any pod). Use it for reads only."""
    return _lib.reader(settings or settings_from_env())


def writer(settings: Settings | None = None, retries: int | None = None):
    """A client on the master the majority of sentinels names; close() it at exit."""
    return _lib.writer(settings or settings_from_env(), retries)


if __name__ == "__main__":
    # python redis_client.py: write a key through the master, read it back through the Service.
    print(_lib.example(settings_from_env(), "{{ service_name }}"))
{% endwith %}{% elif topology == 'cluster' %}{% with %}"""{{ engine_name }} Cluster client for {{ service_name }} (redis-py RedisCluster).

The keyspace is sharded over {{ cluster_masters }} masters. client() connects to the seed
REDIS_HOST:REDIS_PORT once, reads the slot map and then sends each command to the
master that owns its key's slot, by the pod's stable name; it follows MOVED (a slot now
lives elsewhere) and ASK (a slot being migrated) redirections by itself, and reloads the
slot map after a failover. The password (REDIS_PASSWORD) is needed by every node.
With REDIS_PASSWORD_FILE (the Secret mounted as a file, which the kubelet refreshes,
set by the redis-env component) the password is read from that file, and again when it
changes: every node's idle connections are then closed and the next ones sign in with
the new password, so a rotation needs no restart. The file is followed by the
redis-service-client library's PasswordFile (the one the template's other clients use),
installed by the app as a pinned requirement (README.md).
With REDIS_TLS=true every connection speaks TLS, verified against REDIS_TLS_CA_FILE,
hostname check on (the certificate names every pod's stable name); with
REDIS_TLS_CERT_FILE and REDIS_TLS_KEY_FILE it presents that client certificate too
(servers with tls-auth-clients yes).

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
from redis_service_client.password import PASSWORD_FILE_ENV, close_idle, follow, password_file

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
    tls: bool = False
    tls_ca_file: str | None = None
    tls_cert_file: str | None = None
    tls_key_file: str | None = None
    # REDIS_PASSWORD_FILE: the password is read from this file (and again when it
    # changes) instead of `password`, which is then only what the env said at start.
    password_file: str | None = None

    def credentials(self) -> dict:
        """How a connection signs in: the file's password provider, or the env's password."""
        if self.password_file:
            return {"credential_provider": password_file(self.password_file)}
        return {"password": self.password}

    def tls_kwargs(self) -> dict:
        if not self.tls:
            return {}
        kwargs = {"ssl": True, "ssl_ca_certs": self.tls_ca_file, "ssl_check_hostname": True}
        if self.tls_cert_file:  # a client certificate, for tls-auth-clients yes
            kwargs |= {"ssl_certfile": self.tls_cert_file, "ssl_keyfile": self.tls_key_file}
        return kwargs

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
        tls=environ.get("REDIS_TLS", "").lower() == "true",
        tls_ca_file=environ.get("REDIS_TLS_CA_FILE") or None,
        tls_cert_file=environ.get("REDIS_TLS_CERT_FILE") or None,
        tls_key_file=environ.get("REDIS_TLS_KEY_FILE") or None,
        password_file=environ.get(PASSWORD_FILE_ENV) or None,
    )


def client(settings: Settings | None = None, retries: int = DEFAULT_RETRIES) -> RedisCluster:
    """A cluster client: each command goes to the master of its key's slot, found again
    after a failover. Create it once and reuse it: it keeps a pool per node."""
    settings = settings or settings_from_env()
    redis_cluster = RedisCluster(
        startup_nodes=settings.seeds,
        **settings.credentials(),
        # On a connection error or timeout: back off, reload the slot map, try again.
        retry=Retry(ExponentialBackoff(BACKOFF_CAP, BACKOFF_BASE), retries),
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.socket_timeout,
        **settings.tls_kwargs(),
    )
    if settings.password_file:
        follow(password_file(settings.password_file), redis_cluster, close_idle_connections)
    return redis_cluster


def close_idle_connections(redis_cluster: RedisCluster) -> None:
    """The password file changed: close the idle connections of every node's pool, so the
    next ones sign in with the new password (a connection busy now is closed on one of
    the polls after, once it is back in its pool)."""
    for node in redis_cluster.get_nodes():
        if node.redis_connection is not None:
            close_idle(node.redis_connection.connection_pool)


if __name__ == "__main__":
    # python redis_client.py: write a key on the master of its slot and read it back.
    import uuid

    key = f"{{ service_name }}:example:{uuid.uuid4().hex}"
    redis_cluster = client()
    redis_cluster.set(key, "hello", ex=60)
    print(f"wrote {key} on {redis_cluster.get_node_from_key(key).name}; read back: {redis_cluster.get(key)!r}")
{% endwith %}{% elif topology == 'elasticache' %}{% with %}"""{{ engine_name }} on ElastiCache for {{ service_name }} (redis-py): writes to the primary, reads from the replicas.

Writes go to REDIS_PRIMARY_HOST, the primary endpoint: ElastiCache points that name at
the new primary after a failover, so reconnecting is all a client has to do. Reads go
to REDIS_READER_HOST, the reader endpoint, spread over the replicas (a read may lag a
write a little). Both use TLS on REDIS_PORT.

There is no password. The app signs in as REDIS_USER with an IAM authentication
token: a SigV4-presigned `connect` request for REDIS_CACHE_NAME in REDIS_AWS_REGION,
signed by botocore with the app's own AWS credentials (its role needs
elasticache:Connect: the Terraform output connect_policy_arn). A token opens
connections for 15 minutes; IAMAuthToken signs a new one every 10.

The manifest/components/redis-env component sets these variables on the app's
container.

    from redis_client import reader, writer
    writer().set("cart:42", "3 items")
    reader().get("cart:42")
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

import botocore.session
import redis
from botocore.model import ServiceId
from botocore.signers import RequestSigner
from redis.backoff import ExponentialBackoff
from redis.credentials import CredentialProvider
from redis.exceptions import ConnectionError, ReadOnlyError, TimeoutError
from redis.retry import Retry

ENV_VARS = (
    "REDIS_PRIMARY_HOST",
    "REDIS_READER_HOST",
    "REDIS_PORT",
    "REDIS_USER",
    "REDIS_CACHE_NAME",
    "REDIS_AWS_REGION",
)

# ElastiCache accepts a token for 15 minutes after it was signed (for new connections;
# an open connection stays signed in). A new one is signed after 10, well before that.
TOKEN_SECONDS = 900
REFRESH_SECONDS = 600

# A Multi-AZ failover promotes a replica and moves the primary endpoint's name to it,
# usually within a minute. writer() keeps retrying that long, reconnecting each time,
# so a write issued while the primary fails lands on the new one. Retrying a write that
# is not idempotent (INCR, LPUSH) may apply it twice: pass retries=0 for those.
FAILOVER_SECONDS = 90
BACKOFF_CAP, BACKOFF_BASE = 1.0, 0.05
DEFAULT_RETRIES = math.ceil(FAILOVER_SECONDS / BACKOFF_CAP) + 3
# A demoted primary answers READONLY until the endpoint's name moves: reconnect then too.
RETRY_ON = [ConnectionError, TimeoutError, ReadOnlyError]


@dataclass(frozen=True)
class Settings:
    primary_host: str
    reader_host: str
    port: int
    user: str
    cache_name: str
    region: str
    ca_certs: str | None = None  # None: the system's CAs, which trust ElastiCache's certificates
    socket_timeout: float = 2.0


def settings_from_env(environ: Mapping[str, str] = os.environ) -> Settings:
    """Read the settings from `environ` (the process env by default)."""
    missing = [name for name in ENV_VARS if not environ.get(name)]
    if missing:
        raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
    if environ.get("REDIS_TLS", "true") != "true":
        raise RuntimeError("REDIS_TLS must be true: ElastiCache requires TLS for IAM authentication")
    return Settings(
        primary_host=environ["REDIS_PRIMARY_HOST"],
        reader_host=environ["REDIS_READER_HOST"],
        port=int(environ["REDIS_PORT"]),
        user=environ["REDIS_USER"],
        cache_name=environ["REDIS_CACHE_NAME"],
        region=environ["REDIS_AWS_REGION"],
        ca_certs=environ.get("REDIS_CA_CERTS") or None,
    )


class IAMAuthToken(CredentialProvider):
    """The (user, token) pair redis-py sends with AUTH on every new connection.

    The token is the URL of a `connect` request for the replication group, presigned by
    botocore's SigV4 signer for the `elasticache` service, without its scheme. It is
    signed again once it is REFRESH_SECONDS old, so a connection opened at any time
    (a reconnect after a failover included) carries a valid one.
    """

    def __init__(
        self,
        user: str,
        cache_name: str,
        region: str,
        session: botocore.session.Session | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.user, self.cache_name, self.region = user, cache_name, region
        self.session = session or botocore.session.get_session()
        self.clock = clock
        self._lock = threading.Lock()
        self._token: str | None = None
        self._signed_at = -math.inf

    def sign(self) -> str:
        """A new token, valid for TOKEN_SECONDS."""
        credentials = self.session.get_credentials()
        if credentials is None:
            raise RuntimeError("no AWS credentials found: the app's role signs the IAM token")
        signer = RequestSigner(
            ServiceId("elasticache"),
            self.region,
            "elasticache",
            "v4",
            credentials,
            self.session.get_component("event_emitter"),
        )
        query = urlencode({"Action": "connect", "User": self.user})
        url = signer.generate_presigned_url(
            {
                "method": "GET",
                "url": f"http://{self.cache_name}/?{query}",
                "body": {},
                "headers": {},
                "context": {},
            },
            operation_name="connect",
            expires_in=TOKEN_SECONDS,
            region_name=self.region,
        )
        return url.removeprefix("http://")

    def get_credentials(self) -> tuple[str, str]:
        with self._lock:
            now = self.clock()
            if self._token is None or now - self._signed_at >= REFRESH_SECONDS:
                self._token, self._signed_at = self.sign(), now
            return self.user, self._token


def _client(settings: Settings, host: str, token: IAMAuthToken, retries: int) -> redis.Redis:
    return redis.Redis(
        host=host,
        port=settings.port,
        ssl=True,
        ssl_ca_certs=settings.ca_certs,
        ssl_check_hostname=True,
        credential_provider=token,
        retry=Retry(ExponentialBackoff(BACKOFF_CAP, BACKOFF_BASE), retries),
        retry_on_error=RETRY_ON,
        socket_timeout=settings.socket_timeout,
        socket_connect_timeout=settings.socket_timeout,
    )


def token_for(settings: Settings) -> IAMAuthToken:
    return IAMAuthToken(settings.user, settings.cache_name, settings.region)


def writer(
    settings: Settings | None = None,
    retries: int = DEFAULT_RETRIES,
    token: IAMAuthToken | None = None,
) -> redis.Redis:
    """A client on the primary endpoint: writes, and reads that must see your own writes."""
    settings = settings or settings_from_env()
    return _client(settings, settings.primary_host, token or token_for(settings), retries)


def reader(settings: Settings | None = None, token: IAMAuthToken | None = None) -> redis.Redis:
    """A client on the reader endpoint (the replicas). Use it for reads only."""
    settings = settings or settings_from_env()
    return _client(settings, settings.reader_host, token or token_for(settings), 3)


if __name__ == "__main__":
    # python redis_client.py: write a key on the primary, read it back from a replica.
    import uuid

    key = f"{{ service_name }}:example:{uuid.uuid4().hex}"
    writer().set(key, "hello", ex=60)
    time.sleep(0.1)  # replication is asynchronous
    print(f"wrote {key} on the primary; read back from a replica: {reader().get(key)!r}")
{% endwith %}{% endif -%}
