"""Check an ElastiCache replication group: its settings in AWS, then a TLS round trip.

`check(...)` asks the ElastiCache API (boto3, the standard credential chain, its own
retry mode) for the replication group and the app's user, and, when the primary
endpoint is reachable from here, signs in as that user with an IAM token and does a
write/read round trip over TLS. It returns a `Report`; every failure is an
`ElastiCacheCheckError` subclass with its own exit code (40-48). `Unreachable` (the
endpoint does not answer: ElastiCache is reachable only from inside its VPC) is its own
kind, so callers may treat it as a warning. The deadline, name resolution and report
are the shared check kernel's (service/check.py).

The IAM token is what ElastiCache documents: the URL of a `connect` request for the
replication group (`Action=connect&User=<user id>`), presigned with SigV4 for the
`elasticache` service by botocore's own signer, valid 900 s, without its scheme.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlencode

from redis_scaffold.service import check as kernel
from redis_scaffold.service.check import KEY_PREFIX, KEY_TTL_SECONDS, Deadline  # noqa: F401

TOKEN_SECONDS = 900


class ElastiCacheCheckError(kernel.CheckError):
    """The deployment failed a check; `exit_code` tells which kind."""

    exit_code = 40
    kind = "failed"


class AwsUnavailable(ElastiCacheCheckError):
    exit_code = 41
    kind = "AWS API unavailable"


class NotFound(ElastiCacheCheckError):
    exit_code = 42
    kind = "not found"


class NotAvailable(ElastiCacheCheckError):
    exit_code = 43
    kind = "not available"


class Misconfigured(ElastiCacheCheckError):
    exit_code = 44
    kind = "misconfigured"


class Unreachable(ElastiCacheCheckError, kernel.Unreachable):
    exit_code = 45
    kind = "unreachable"


class AuthFailed(ElastiCacheCheckError):
    exit_code = 46
    kind = "authentication failed"


class RoundTripFailed(ElastiCacheCheckError):
    exit_code = 47
    kind = "round trip failed"


class DeadlineExceeded(ElastiCacheCheckError, kernel.TimedOut):
    exit_code = 48
    kind = "deadline exceeded"


def resolve(host: str, port: int, deadline: Deadline) -> None:
    """Resolve `host` within the deadline; the connection then uses the name itself, for
    SNI and the certificate's hostname check."""
    try:
        kernel.resolve((host, port), deadline)
    except OSError as exc:
        raise Unreachable(f"{host}:{port} does not answer: {exc}") from None


def iam_token(session, user: str, cache_name: str, region: str) -> str:
    """An IAM authentication token for `user` on replication group `cache_name`.

    `session` is a botocore session (its credential chain signs). ElastiCache reads the
    host part as the replication group's id, so the URL is http://<cache_name>/ and the
    token is the presigned URL without "http://".
    """
    from botocore.model import ServiceId
    from botocore.signers import RequestSigner

    credentials = session.get_credentials()
    if credentials is None:
        raise AwsUnavailable("no AWS credentials found in the standard chain to sign the token")
    signer = RequestSigner(
        ServiceId("elasticache"),
        region,
        "elasticache",
        "v4",
        credentials,
        session.get_component("event_emitter"),
    )
    query = urlencode({"Action": "connect", "User": user})
    url = signer.generate_presigned_url(
        {
            "method": "GET",
            "url": f"http://{cache_name}/?{query}",
            "body": {},
            "headers": {},
            "context": {},
        },
        operation_name="connect",
        expires_in=TOKEN_SECONDS,
        region_name=region,
    )
    return url.removeprefix("http://")


@dataclass(frozen=True)
class Target:
    """What to check: the app's settings, as the redis-env component renders them."""

    cache_name: str
    user: str
    region: str
    port: int


@dataclass
class Report(kernel.Report):
    group: dict = field(default_factory=dict)
    round_trip: str = ""

    def text(self) -> str:
        g = self.group
        endpoint = primary_endpoint(g)
        lines = [
            f"replication group {g.get('ReplicationGroupId')}: {g.get('Status')}, "
            f"engine {g.get('Engine', '?')}, node type {g.get('CacheNodeType', '?')}, "
            f"{len(g.get('MemberClusters', []))} node(s)",
            f"automatic failover {g.get('AutomaticFailover')}, Multi-AZ {g.get('MultiAZ')}, "
            f"TLS {'on' if g.get('TransitEncryptionEnabled') else 'off'}, "
            f"at rest {'encrypted' if g.get('AtRestEncryptionEnabled') else 'not encrypted'}",
            f"primary endpoint {endpoint[0]}:{endpoint[1]}" if endpoint else "no primary endpoint",
        ]
        if self.round_trip:
            lines.append(self.round_trip)
        lines += [f"  {step.name}: {step.seconds * 1000:.0f} ms" for step in self.steps]
        return "\n".join(lines)


def primary_endpoint(group: dict) -> tuple[str, int] | None:
    for node_group in group.get("NodeGroups") or []:
        endpoint = node_group.get("PrimaryEndpoint")
        if endpoint and endpoint.get("Address"):
            return endpoint["Address"], int(endpoint["Port"])
    return None


def make_client(region: str, deadline: Deadline):
    """An ElastiCache client bounded by the deadline, with boto3's standard retry mode."""
    import boto3
    from botocore.config import Config

    limit = max(1.0, min(10.0, deadline.remaining()))
    config = Config(
        connect_timeout=limit,
        read_timeout=limit,
        retries={"mode": "standard", "max_attempts": 2},
    )
    return boto3.session.Session(region_name=region).client("elasticache", config=config)


def _aws_call(call: Callable[[], dict], what: str) -> dict:
    from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

    try:
        return call()
    except NoCredentialsError:
        raise AwsUnavailable(f"{what}: no AWS credentials found in the standard chain") from None
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "")
        if code in ("ReplicationGroupNotFoundFault", "UserNotFound", "UserNotFoundFault"):
            raise NotFound(f"{what}: {code}") from None
        raise AwsUnavailable(f"{what}: {code or exc}") from None
    except BotoCoreError as exc:
        raise AwsUnavailable(f"{what}: {exc}") from None


def check_settings(client, target: Target, report: Report) -> None:
    """The replication group and the user, as the ElastiCache API describes them."""
    with report.step("describe replication group"):
        groups = _aws_call(
            lambda: client.describe_replication_groups(ReplicationGroupId=target.cache_name),
            f"describing replication group {target.cache_name!r}",
        )["ReplicationGroups"]
        if not groups:
            raise NotFound(f"replication group {target.cache_name!r} does not exist")
        group = report.group = groups[0]
    if group.get("Status") != "available":
        raise NotAvailable(
            f"replication group {target.cache_name!r} is {group.get('Status')!r}, not 'available' "
            "(being created, modified or failing over: try again in a few minutes)"
        )
    wrong = [
        f"{name} is {group.get(name)!r}"
        for name, want in (("AutomaticFailover", "enabled"), ("MultiAZ", "enabled"))
        if group.get(name) != want
    ]
    if not group.get("TransitEncryptionEnabled"):
        wrong.append("TransitEncryptionEnabled is false (IAM authentication needs TLS)")
    if wrong:
        raise Misconfigured(f"replication group {target.cache_name!r}: " + "; ".join(wrong))

    with report.step("describe user"):
        users = _aws_call(
            lambda: client.describe_users(UserId=target.user),
            f"describing ElastiCache user {target.user!r}",
        ).get("Users", [])
        if not users:
            raise NotFound(f"ElastiCache user {target.user!r} does not exist")
        auth = (users[0].get("Authentication") or {}).get("Type")
        if auth != "iam":
            raise Misconfigured(
                f"ElastiCache user {target.user!r} authenticates with {auth!r}, not 'iam'"
            )


def round_trip(
    host: str,
    port: int,
    target: Target,
    deadline: Deadline,
    report: Report,
    ca_certs: str | None = None,
    session=None,
) -> None:
    """Sign in as the user with an IAM token over TLS; SET, GET and DEL a throwaway key."""
    import botocore.session
    import redis
    from redis.exceptions import AuthenticationError, RedisError, ResponseError

    with report.step("sign IAM token"):
        token = iam_token(
            session or botocore.session.get_session(), target.user, target.cache_name, target.region
        )
    resolve(host, port, deadline)
    limit = max(0.1, deadline.remaining())
    client = redis.Redis(
        host=host,
        port=port,
        username=target.user,
        password=token,
        ssl=True,
        ssl_ca_certs=ca_certs,
        ssl_check_hostname=True,
        socket_timeout=limit,
        socket_connect_timeout=limit,
        retry_on_timeout=False,
    )
    key = f"{KEY_PREFIX}{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    try:
        started = time.perf_counter()
        try:
            client.ping()
        except AuthenticationError:
            raise AuthFailed(
                f"{host}:{port} refused user {target.user!r} with its IAM token "
                "(does the app's role have elasticache:Connect on the group and the user?)"
            ) from None
        except ResponseError as exc:
            if "WRONGPASS" in str(exc) or "NOAUTH" in str(exc) or "NOPERM" in str(exc):
                raise AuthFailed(f"{host}:{port} refused user {target.user!r}: {exc}") from None
            raise RoundTripFailed(f"{host}:{port}: {exc}") from None
        except (RedisError, OSError) as exc:
            raise Unreachable(f"{host}:{port} does not answer over TLS: {exc}") from None
        report.steps.append(kernel.Step("TLS connect and AUTH", "", time.perf_counter() - started))
        with report.step("write/read round trip"):
            try:
                client.set(key, value, ex=KEY_TTL_SECONDS)
                read = client.get(key)
                client.delete(key)
            except RedisError as exc:
                raise RoundTripFailed(f"write/read on {host}:{port} failed: {exc}") from None
            if read != value.encode():
                raise RoundTripFailed(
                    f"read back {read!r} from {host}:{port}, not what was written"
                )
        report.round_trip = f"round trip on {host}:{port} as {target.user!r} over TLS: ok"
    finally:
        client.close()


def check(
    target: Target,
    timeout: float,
    endpoint: tuple[str, int] | None = None,
    ca_certs: str | None = None,
    client=None,
) -> tuple[Report, Unreachable | None]:
    """Check the group's settings, then the round trip.

    Returns the report and, when the endpoint does not answer, the `Unreachable` error
    (the caller decides whether that fails); raises any other `ElastiCacheCheckError`.
    `endpoint` overrides the primary endpoint the API names (a tunnel, a test server).
    """
    deadline = Deadline(timeout, DeadlineExceeded)
    report = Report()
    check_settings(client or make_client(target.region, deadline), target, report)
    host, port = endpoint or primary_endpoint(report.group) or (None, None)
    if host is None:
        raise Misconfigured(f"replication group {target.cache_name!r} names no primary endpoint")
    try:
        round_trip(host, port, target, deadline, report, ca_certs)
    except Unreachable as exc:
        return report, exc
    return report, None
