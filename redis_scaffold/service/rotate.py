"""Rotate the Redis password with no downtime: Secrets Manager's four rotation steps,
driven against the running pods and sentinels (docs/design.md, "Password rotation").

The secret's JSON holds ``{"<key>": CURRENT, "<key>_previous": PREVIOUS or ""}``; the
start scripts render ``user default on >CURRENT [>PREVIOUS]`` from it, so a server
(re)started at any point accepts both sides. A rotation is, in order:

  createSecret   a new version {key: NEW, key_previous: OLD} labelled AWSPENDING
  setSecret      ACL SETUSER default >NEW on every pod and sentinel (OLD stays valid)
  testSecret     AUTH with NEW on every pod and sentinel; the sentinels name one master;
                 a write and a read on it with NEW
  finishSecret   AWSCURRENT moves to the new version (the old one becomes AWSPREVIOUS);
                 the tag password-current-since records when
  retire         once the clients have moved (checked: no client connection on any pod
                 or sentinel is older than password-current-since): every outgoing
                 credential (masterauth, sentinel auth-pass and sentinel-pass) switched to
                 NEW, then ACL SETUSER default <OLD everywhere, then a new AWSCURRENT
                 version {key: NEW, key_previous: ""}

Outgoing credentials switch only at retire, after the clients: until then every server
accepts both passwords, so a server restarted with either delivery of the Secret (old or
new) is served by its peers and serves them.

`run()` does at most a few steps (a person or a pipeline runs it again);
`run_waiting()` does them all and waits at retire for the clients to move (the scheduled
in-cluster runner, manifest/components/redis-rotation of a generated repository).

Nothing is kept aside: each run reads where the rotation stands from the staging labels
(and that one tag) and the servers, and redoes the current step (every step is
idempotent), so a run killed anywhere is finished by the next. Before any change it
checks that every pod and sentinel answers, and names those that do not.

No password is ever printed, logged or put in an exception message.
"""

from __future__ import annotations

import json
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from redis_scaffold.errors import ScaffoldError
from redis_scaffold.service.check import (
    CERTIFICATE_REQUIRED,
    NOT_TRUSTED,
    TlsFiles,
    tls_refusal,
)
from redis_scaffold.service.secret import aws_errors, new_password, previous_key, put_current

log = logging.getLogger(__name__)

CURRENT, PENDING, PREVIOUS = "AWSCURRENT", "AWSPENDING", "AWSPREVIOUS"
SINCE_TAG = "password-current-since"
CLIENT_NAME = "redis-scaffold-rotate"


class RotationError(ScaffoldError):
    exit_code = 30


class UnreachableError(RotationError):
    exit_code = 31


class ClientsNotMovedError(RotationError):
    """Not a failure: the old password is still in use; run again later."""

    exit_code = 32


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    role: str  # "redis" or "sentinel"

    def __str__(self) -> str:
        return f"{self.role} {self.host}:{self.port}"


# ------------------------------------------------------------------ the secret
@dataclass
class Version:
    id: str
    password: str = field(repr=False)
    previous: str = field(repr=False)


class SecretVersions:
    """The secret's versions that matter, read from the staging labels (always by stage:
    a read without VersionStage may return a stale value while labels move)."""

    def __init__(self, client, name: str, key: str) -> None:
        self.client, self.name, self.key = client, name, key

    def _stages(self) -> dict[str, list[str]]:
        with aws_errors(self.name):
            return self.client.describe_secret(SecretId=self.name).get("VersionIdsToStages", {})

    def _read(self, stage: str) -> Version:
        with aws_errors(self.name):
            got = self.client.get_secret_value(SecretId=self.name, VersionStage=stage)
        value = json.loads(got["SecretString"])
        return Version(got["VersionId"], value[self.key], value.get(previous_key(self.key), ""))

    def current(self) -> Version:
        return self._read(CURRENT)

    def retired(self, current: Version) -> list[str]:
        """The passwords of the last rotation that are no longer current (none before one)."""
        if not any(PREVIOUS in stages for stages in self._stages().values()):
            return []
        previous = self._read(PREVIOUS)
        return sorted({previous.password, previous.previous} - {current.password, ""})

    def pending(self) -> Version | None:
        """The AWSPENDING version, unless it is also AWSCURRENT (a finished rotation)."""
        for stages in self._stages().values():
            if PENDING in stages and CURRENT not in stages:
                return self._read(PENDING)
        return None

    def _value(self, password: str, previous: str) -> str:
        return json.dumps({self.key: password, previous_key(self.key): previous})

    def create_pending(self, current: Version) -> None:
        with aws_errors(self.name):
            self.client.put_secret_value(
                SecretId=self.name,
                ClientRequestToken=str(uuid.uuid4()),
                SecretString=self._value(new_password(), current.password),
                VersionStages=[PENDING],
            )

    def finish(self, pending: Version, current: Version) -> None:
        with aws_errors(self.name):
            self.client.tag_resource(
                SecretId=self.name, Tags=[{"Key": SINCE_TAG, "Value": str(math.ceil(time.time()))}]
            )
            self.client.update_secret_version_stage(
                SecretId=self.name,
                VersionStage=CURRENT,
                MoveToVersionId=pending.id,
                RemoveFromVersionId=current.id,
            )
            self.client.update_secret_version_stage(
                SecretId=self.name, VersionStage=PENDING, RemoveFromVersionId=pending.id
            )

    def current_since(self) -> float:
        with aws_errors(self.name):
            tags = self.client.describe_secret(SecretId=self.name).get("Tags", [])
        since = {t["Key"]: t["Value"] for t in tags}.get(SINCE_TAG, "")
        return float(since) if since.isdigit() else time.time()

    def drop_previous(self, current: Version) -> None:
        with aws_errors(self.name):
            put_current(self.client, self.name, self._value(current.password, ""))


# ----------------------------------------------------------------- the servers
def no_retry() -> Retry:
    """One attempt: a refused password or a silent server is an answer here (redis-py
    >= 6 otherwise retries connection errors, a refused AUTH among them, with backoff)."""
    return Retry(NoBackoff(), 0)


class Servers:
    """Every pod's redis and every sentinel, reached with whichever of the known
    passwords each accepts (a restarted server may accept only one side)."""

    def __init__(
        self,
        endpoints: list[Endpoint],
        master_set: str,
        timeout: float = 2.0,
        tls: TlsFiles | None = None,
    ) -> None:
        self.endpoints, self.master_set, self.timeout = endpoints, master_set, timeout
        self.untrusted: str | None = None  # the last TLS refusal seen (check.tls_refusal)
        # TLS on (the repository's tls answer): verified against its CA, hostname check on.
        self.tls = tls.redis_kwargs() if tls else {}

    def connect(self, ep: Endpoint, passwords: Iterable[str]) -> redis.Redis | None:
        """A client on `ep` authenticated with the first password it accepts (None: none)."""
        for password in passwords:
            client = redis.Redis(
                ep.host,
                ep.port,
                password=password,
                socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                client_name=CLIENT_NAME,
                retry=no_retry(),
                **self.tls,
            )
            try:
                client.ping()
                return client
            except redis.AuthenticationError:
                client.close()
            except redis.RedisError:
                client.close()
                return None
        return None

    def why_not(self, ep: Endpoint) -> str:
        """Why no known password signs in on `ep`, in a few words."""
        if self.reachable(ep):
            return "refuses the password"
        if self.untrusted == NOT_TRUSTED:
            return "its TLS certificate is not trusted by the CA"
        if self.untrusted == CERTIFICATE_REQUIRED:
            return "it asks for a client certificate: give --tls-cert and --tls-key"
        if self.tls and "ssl_certfile" not in self.tls:
            # a server asking for a certificate may close before its alert is read
            return "unreachable; if it asks for a client certificate: give --tls-cert and --tls-key"
        return "unreachable"

    def reachable(self, ep: Endpoint) -> bool:
        client = redis.Redis(
            ep.host,
            ep.port,
            socket_timeout=self.timeout,
            socket_connect_timeout=self.timeout,
            retry=no_retry(),
            **self.tls,
        )
        try:
            client.ping()
        except redis.AuthenticationError:
            return True
        except redis.ResponseError as exc:
            return "NOAUTH" in str(exc) or "auth" in str(exc).lower()
        except redis.RedisError as exc:
            self.untrusted = tls_refusal(exc)
            return False
        finally:
            client.close()
        return True

    def require_all(self, passwords: list[str]) -> dict[Endpoint, redis.Redis]:
        """A client on every endpoint, or UnreachableError naming each that fails."""
        clients, failed = {}, []
        for ep in self.endpoints:
            client = self.connect(ep, passwords)
            if client is None:
                failed.append(f"{ep} ({self.why_not(ep)})")
            else:
                clients[ep] = client
        if failed:
            for client in clients.values():
                client.close()
            raise UnreachableError(
                "Rotation not started or continued: every pod and sentinel must answer, and "
                f"these do not: {', '.join(failed)}. Nothing was changed in this run; bring "
                "them back and run again."
            )
        return clients

    def accepts(self, ep: Endpoint, password: str) -> bool:
        client = self.connect(ep, [password])
        if client is None:
            return False
        client.close()
        return True


def _acl(client: redis.Redis, *rules: str) -> None:
    """ACL SETUSER default RULES. The server's error message quotes the rule, password
    included, so it is replaced by one that names the server only."""
    try:
        client.execute_command("ACL", "SETUSER", "default", *rules)
    except redis.ResponseError:
        kwargs = client.connection_pool.connection_kwargs
        where = f"{kwargs.get('host')}:{kwargs.get('port')}"
        raise RotationError(
            f"ACL SETUSER default failed on {where} (the server's message is not shown: it "
            "quotes the password). Check that the server runs Redis >= 6 or Valkey and "
            "that ACL is not restricted there, then run again."
        ) from None


@dataclass
class Rotation:
    """One run of the rotation: step() does the next step, run() until done or waiting."""

    secret: SecretVersions
    servers: Servers
    say: Callable[[str], None] = print

    # -------------------------------------------------------------- where we are
    def state(self) -> str:
        if self.secret.pending() is not None:
            return "set"  # createSecret done: set (idempotent), test, finish
        if self.secret.current().previous:
            return "retire"
        return "create"

    def step(self) -> str:
        """Do the next step; return its name ("done" when nothing is left)."""
        current = self.secret.current()
        pending = self.secret.pending()
        if pending is not None:
            clients = self.servers.require_all([current.password, pending.password])
            try:
                self.set_secret(clients, pending)
                self.test_secret(pending)
            finally:
                _close(clients)
            self.secret.finish(pending, current)
            self.say("finishSecret: AWSCURRENT is the new password; OLD still accepted")
            return "finishSecret"
        if current.previous:
            self.retire(current)
            return "retire"
        clients = self.servers.require_all([current.password])
        try:
            self.sweep(clients, current)
        finally:
            _close(clients)
        self.secret.create_pending(current)
        self.say("createSecret: new password stored as AWSPENDING")
        return "createSecret"

    def run(self, max_steps: int = 3) -> str:
        """Steps until the rotation is over; ClientsNotMovedError while clients lag."""
        last = "done"
        for _ in range(max_steps):
            last = self.step()
            if last == "retire":
                return "done"
        return last

    def run_waiting(
        self,
        wait_s: float,
        poll_s: float,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> str:
        """Every step to the end in this one run (the scheduled runner): at retire, look
        again every `poll_s` while the clients lag, for at most `wait_s`; then the last
        ClientsNotMovedError stands (the next run resumes there)."""
        give_up = clock() + wait_s
        while True:
            try:
                return self.run(max_steps=4)
            except ClientsNotMovedError as exc:
                if clock() + poll_s > give_up:
                    raise ClientsNotMovedError(
                        f"{exc} (waited {wait_s:.0f} s in this run)"
                    ) from None
                self.say(
                    "retire: client connections older than the new password are still "
                    f"open; looking again in {poll_s:.0f} s"
                )
                sleep(poll_s)

    # ------------------------------------------------------------------ the steps
    def set_secret(self, clients: dict[Endpoint, redis.Redis], pending: Version) -> None:
        for client in clients.values():
            _acl(client, f">{pending.password}")
        self.say(f"setSecret: new password accepted by {len(clients)} servers (old one too)")

    def test_secret(self, pending: Version) -> None:
        clients = self.servers.require_all([pending.password])
        try:
            masters = set()
            for ep, client in clients.items():
                if ep.role == "sentinel":
                    host, port = client.execute_command(
                        "SENTINEL", "GET-MASTER-ADDR-BY-NAME", self.servers.master_set
                    )
                    masters.add((_text(host), int(port)))
            if len(masters) > 1:
                raise RotationError(f"testSecret: the sentinels name different masters: {masters}")
            if masters:
                host, port = masters.pop()
                master = self.servers.connect(Endpoint(host, port, "redis"), [pending.password])
                if master is None:
                    raise RotationError(
                        f"testSecret: master {host}:{port} refuses the new password"
                    )
                try:
                    key = f"{CLIENT_NAME}:test"
                    master.set(key, "ok", ex=60)
                    if master.get(key) != b"ok":
                        raise RotationError("testSecret: the write on the master did not read back")
                finally:
                    master.close()
        finally:
            _close(clients)
        self.say("testSecret: every server accepts the new password; master write/read ok")

    def sweep(self, clients: dict[Endpoint, redis.Redis], current: Version) -> list[str]:
        """Remove a retired password from any server that accepts it again: one restarted
        from a copy of the Secret made before the retire step (the delivery not yet
        refreshed). Returns the servers it was removed from."""
        swept = []
        for old in self.secret.retired(current):
            for ep, client in clients.items():
                if self.servers.accepts(ep, old):
                    _acl(client, f"<{old}")
                    swept.append(str(ep))
        if swept:
            self.say(
                f"a retired password was accepted again by {', '.join(swept)} (restarted "
                "before the delivery refreshed?): removed there; refresh the delivery"
            )
        return swept

    def retire(self, current: Version) -> None:
        old, new = current.previous, current.password
        clients = self.servers.require_all([new, old])
        try:
            since = self.secret.current_since()
            lagging = self.old_connections(clients, since)
            if lagging:
                raise ClientsNotMovedError(
                    "The old password is kept: client connections older than the new "
                    f"password ({time.strftime('%Y-%m-%d %H:%M:%S', time.gmtime(since))} UTC) "
                    f"are still open on {', '.join(lagging)}. Refresh the delivery (ESO "
                    "refresh or Argo CD sync) and roll the apps that read REDIS_PASSWORD "
                    "themselves (the generated clients reconnect by themselves once "
                    "their mounted Secret is refreshed), then run again."
                )
            for ep, client in clients.items():
                try:
                    if ep.role == "redis":
                        client.config_set("masterauth", new)
                    else:
                        client.execute_command(
                            "SENTINEL", "SET", self.servers.master_set, "auth-pass", new
                        )
                        client.execute_command("SENTINEL", "CONFIG", "SET", "sentinel-pass", new)
                except redis.RedisError as exc:  # its message may quote the value
                    raise RotationError(
                        f"retire: {ep} refused the new outgoing credential "
                        f"({type(exc).__name__}; the server's message is not shown). Nothing "
                        "was removed; run again once it answers."
                    ) from None
            self.say("retire: masterauth, auth-pass and sentinel-pass use the new password")
            for ep, client in clients.items():
                # A run killed in this loop left some servers without OLD already (and
                # ACL SETUSER refuses to remove a password the user does not hold).
                if self.servers.accepts(ep, old):
                    _acl(client, f"<{old}")
        finally:
            _close(clients)
        self.secret.drop_previous(current)
        self.say("retire: the old password is refused everywhere and dropped from the secret")

    def old_connections(self, clients: dict[Endpoint, redis.Redis], since: float) -> list[str]:
        """Endpoints holding a client connection opened before `since` (replication and
        sentinel links excepted: they switch with the outgoing credentials)."""
        # CLIENT LIST's age is whole seconds (floored): a connection of age A opened up to
        # A + 1 s ago, so one that may predate `since` is flagged; the tag itself is
        # rounded up, so a connection made within a second or two after it is flagged
        # too (run again a little later).
        max_age = time.time() - since - 1
        out = []
        for ep, client in clients.items():
            old = [
                c
                for c in client.client_list()
                if c.get("name") != CLIENT_NAME
                and not c.get("name", "").startswith("sentinel-")
                and not set(c.get("flags", "")) & {"S", "M"}
                and float(c.get("age", 0)) > max_age
            ]
            if old:
                first = old[0]
                out.append(
                    f"{ep} ({len(old)} connection(s), e.g. from {first.get('addr')} "
                    f"name={first.get('name') or '-'} age={first.get('age')}s "
                    f"last command {first.get('cmd')})"
                )
        return out


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _close(clients: dict[Endpoint, redis.Redis]) -> None:
    for client in clients.values():
        client.close()
