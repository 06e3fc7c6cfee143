{% from '.portal-context.jinja' import engine_name, service_name with context %}"""{{ engine_name }} on ElastiCache for {{ service_name }} (redis-py): writes to the primary, reads from the replicas.

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
