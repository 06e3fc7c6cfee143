"""Check a running Redis Sentinel deployment: discovery, quorum, counts, master, round trip.

`check(...)` talks to real sentinels and to the master they name, and returns a
`Report`; every failure is a `SentinelCheckError` subclass with its own exit code.
`Unreachable` (nothing answered) is its own kind: right after generation the cluster
often does not exist yet, so callers may treat it as a warning.

Every network call is bounded by `Deadline`: each socket gets at most the time left,
and name resolution runs under the same limit.
"""

from __future__ import annotations

import concurrent.futures
import socket
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import redis
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from redis_scaffold.errors import ScaffoldError

Address = tuple[str, int]

KEY_PREFIX = "redis-scaffold:check:"
KEY_TTL_SECONDS = 60


class SentinelCheckError(ScaffoldError):
    """The deployment failed a check; `exit_code` tells which kind."""

    exit_code = 20
    kind = "failed"

    def describe(self) -> str:
        return f"{self.kind}: {self}"


class Unreachable(SentinelCheckError):
    exit_code = 21
    kind = "unreachable"

    def __init__(self, message: str, tried: Sequence[str]):
        super().__init__(message)
        self.tried = list(tried)


class NoMaster(SentinelCheckError):
    exit_code = 22
    kind = "no master"


class NoQuorum(SentinelCheckError):
    exit_code = 23
    kind = "no quorum"


class CountMismatch(SentinelCheckError):
    exit_code = 24
    kind = "count mismatch"


class AuthFailed(SentinelCheckError):
    exit_code = 25
    kind = "authentication failed"


class NotMaster(SentinelCheckError):
    exit_code = 26
    kind = "not a master"


class RoundTripFailed(SentinelCheckError):
    exit_code = 27
    kind = "round trip failed"


class TimedOut(SentinelCheckError):
    """The overall time limit ran out after the sentinels had answered."""

    exit_code = 28
    kind = "timed out"


def fmt(addr: Address) -> str:
    host, port = addr
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def parse_address(text: str, default_port: int | None = None) -> Address:
    """'host:port' (or '[v6]:port', or 'host' with a default port) -> (host, port)."""
    host, sep, port = text.rpartition(":")
    if not sep or host.endswith(":") or (":" in host and not host.startswith("[")):
        host, port = text, ""
    host = host.strip("[]")
    if not port:
        if default_port is None:
            raise ValueError(f"{text!r}: expected HOST:PORT")
        return host, default_port
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: the port must be a number from 1 to 65535")
    return host, int(port)


class Deadline:
    """An overall time budget; `remaining()` raises `TimedOut` once it is spent."""

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic):
        self.seconds = seconds
        self._clock = clock
        self._end = clock() + seconds

    def remaining(self, doing: str = "") -> float:
        left = self._end - self._clock()
        if left <= 0:
            raise TimedOut(
                f"the {self.seconds:g} s time limit ran out{' before ' + doing if doing else ''}"
            )
        return left


def resolve(addr: Address, deadline: Deadline) -> Address:
    """Resolve the host within the deadline (getaddrinfo itself has no timeout)."""
    host, port = addr
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
        return addr
    except OSError:
        pass
    pool = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    try:
        future = pool.submit(socket.getaddrinfo, host, port, type=socket.SOCK_STREAM)
        infos = future.result(timeout=deadline.remaining(f"resolving {host}"))
    except concurrent.futures.TimeoutError:
        raise OSError(f"resolving {host} did not finish in time") from None
    except socket.gaierror as exc:
        raise OSError(f"cannot resolve {host}: {exc.strerror}") from None
    finally:
        pool.shutdown(wait=False)
    return infos[0][4][0], port


@dataclass
class Step:
    name: str
    detail: str
    seconds: float

    def line(self) -> str:
        return f"  {self.name:<11} {self.detail}  ({self.seconds * 1000:.1f} ms)"


@dataclass
class Report:
    master_set: str
    master: Address | None = None
    steps: list[Step] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def text(self) -> str:
        head = f"sentinel check of {self.master_set}: master {fmt(self.master) if self.master else 'unknown'}"
        lines = [head, *(s.line() for s in self.steps)]
        lines += [f"  warning: {w}" for w in self.warnings]
        return "\n".join(lines)


class Probe:
    """Opens bounded connections (one per call) and times named steps into a report."""

    def __init__(self, password: str | None, deadline: Deadline, per_call: float, report: Report):
        self._password = password
        self._deadline = deadline
        self._per_call = per_call
        self.report = report

    def connect(self, addr: Address) -> redis.Redis:
        limit = min(self._per_call, self._deadline.remaining(f"connecting to {fmt(addr)}"))
        host, port = resolve(addr, self._deadline)
        return redis.Redis(
            host=host,
            port=port,
            password=self._password,
            decode_responses=True,
            socket_connect_timeout=limit,
            socket_timeout=limit,
            retry=None,
            single_connection_client=True,
        )

    @contextmanager
    def step(self, name: str) -> Iterator[Callable[[str], None]]:
        start = time.perf_counter()
        details: list[str] = []
        yield details.append
        self.report.steps.append(Step(name, " ".join(details), time.perf_counter() - start))


def _call(client: redis.Redis, *args):
    try:
        return client.execute_command(*args)
    finally:
        client.close()


def ask_sentinels(
    probe: Probe, sentinels: Sequence[Address], master_set: str
) -> tuple[Address, Address]:
    """Ask every sentinel for the master; return (the master, the first sentinel that answered)."""
    answers: dict[Address, Address] = {}
    failures: list[str] = []
    for addr in sentinels:
        try:
            with probe.step("sentinel") as say:
                reply = _call(
                    probe.connect(addr), "SENTINEL", "GET-MASTER-ADDR-BY-NAME", master_set
                )
                if reply is None:
                    raise NoMaster(
                        f"sentinel {fmt(addr)} does not monitor a master set named {master_set!r}"
                    )
                answers[addr] = (reply[0], int(reply[1]))
                say(f"{fmt(addr)} names master {fmt(answers[addr])}")
        except AuthenticationError as exc:
            raise AuthFailed(f"sentinel {fmt(addr)} refused the password: {exc}") from None
        except (RedisError, OSError) as exc:
            failures.append(f"{fmt(addr)} ({exc})")
        except TimedOut:
            failures.append(f"{fmt(addr)} (not tried: the time limit ran out)")
            break
    if not answers:
        raise Unreachable(
            f"no sentinel answered for {master_set!r}; tried: {'; '.join(failures)}",
            [fmt(a) for a in sentinels],
        )
    for failure in failures:
        probe.report.warnings.append(f"sentinel {failure} did not answer")
    named = set(answers.values())
    if len(named) > 1:
        views = ", ".join(f"{fmt(s)} -> {fmt(m)}" for s, m in answers.items())
        raise NoMaster(
            f"the sentinels disagree about the master of {master_set!r}: {views} "
            "(a failover may be in progress: run the check again in a few seconds)"
        )
    return named.pop(), next(iter(answers))


def check_quorum(probe: Probe, sentinel: Address, master_set: str) -> None:
    with probe.step("quorum") as say:
        try:
            reply = _call(probe.connect(sentinel), "SENTINEL", "CKQUORUM", master_set)
        except ResponseError as exc:
            raise NoQuorum(f"sentinel {fmt(sentinel)}: {exc}") from None
        say(str(reply))


def _healthy(entry: dict) -> bool:
    flags = set(str(entry.get("flags", "")).split(","))
    return not flags & {"s_down", "o_down", "disconnected"}


def _entries(reply) -> list[dict]:
    """SENTINEL SENTINELS/REPLICAS replies: a list of flat [k, v, k, v...] lists (or dicts)."""
    out = []
    for item in reply or []:
        out.append(
            item if isinstance(item, dict) else dict(zip(item[::2], item[1::2], strict=False))
        )
    return out


def check_counts(probe: Probe, sentinel: Address, master_set: str, pods: int) -> None:
    """Sentinels (others + this one) and replicas known to a sentinel must match the answers.

    Members that are known but down are warnings (the deployment is degraded, the
    check goes on); a different number of members is a failure (it does not match
    what was generated, or sentinels have not found each other).
    """
    with probe.step("members") as say:
        others = _entries(_call(probe.connect(sentinel), "SENTINEL", "SENTINELS", master_set))
        replicas = _entries(_call(probe.connect(sentinel), "SENTINEL", "REPLICAS", master_set))
        counts = {
            "sentinels": (len(others) + 1, 1 + sum(map(_healthy, others)), pods),
            "replicas": (len(replicas), sum(map(_healthy, replicas)), pods - 1),
        }
        say(", ".join(f"{n} {what} ({up} up)" for what, (n, up, _) in counts.items()))
    wrong = [
        f"{n} {what} where the answers say {want}"
        for what, (n, _, want) in counts.items()
        if n != want
    ]
    if wrong:
        raise CountMismatch(
            f"sentinel {fmt(sentinel)} knows {' and '.join(wrong)} (redis_replicas={pods})"
        )
    for what, (n, up, _) in counts.items():
        if up < n:
            probe.report.warnings.append(f"{n - up} of {n} {what} are down")


def check_master(probe: Probe, master: Address, replicas: int) -> None:
    with probe.step("master") as say:
        try:
            role = _call(probe.connect(master), "ROLE")
        except AuthenticationError as exc:
            raise AuthFailed(f"master {fmt(master)} refused the password: {exc}") from None
        except (RedisError, OSError) as exc:
            raise NotMaster(
                f"master {fmt(master)} named by the sentinels does not answer: {exc}"
            ) from None
        if not role or role[0] != "master":
            raise NotMaster(
                f"{fmt(master)} is named master by the sentinels but says its role is {role[0]!r}"
            )
        say(f"{fmt(master)} has role master with {len(role[2])} replica(s) attached")
    if len(role[2]) < replicas:
        probe.report.warnings.append(
            f"the master has {len(role[2])} of {replicas} replicas attached"
        )


def round_trip(probe: Probe, master: Address) -> None:
    """SET, GET and DEL a namespaced key with a short TTL (gone even if DEL never runs)."""
    key = f"{KEY_PREFIX}{uuid.uuid4().hex}"
    value = uuid.uuid4().hex
    with probe.step("round trip") as say:
        client = probe.connect(master)
        try:
            client.set(key, value, ex=KEY_TTL_SECONDS)
            got = client.get(key)
            client.delete(key)
        except (RedisError, OSError) as exc:
            raise RoundTripFailed(f"write/read of {key} on {fmt(master)} failed: {exc}") from None
        finally:
            client.close()
        if got != value:
            raise RoundTripFailed(f"{key} on {fmt(master)} read back a different value")
        say(f"SET, GET, DEL {key}")


def check(
    sentinels: Sequence[Address],
    master_set: str,
    password: str | None,
    pods: int,
    timeout: float = 5.0,
    per_call: float = 1.0,
) -> Report:
    """Run every check in order; return the report or raise a SentinelCheckError."""
    if not sentinels:
        raise ValueError("at least one sentinel address is needed")
    report = Report(master_set)
    probe = Probe(password, Deadline(timeout), per_call, report)
    master, sentinel = ask_sentinels(probe, sentinels, master_set)
    report.master = master
    check_quorum(probe, sentinel, master_set)
    check_counts(probe, sentinel, master_set, pods)
    check_master(probe, master, pods - 1)
    round_trip(probe, master)
    return report


def reachable(sentinels: Sequence[Address], timeout: float = 2.0) -> list[Address]:
    """The sentinels that accept a TCP connection (no password needed)."""
    deadline = Deadline(timeout)
    found = []
    for addr in sentinels:
        try:
            host, port = resolve(addr, deadline)
            limit = min(1.0, deadline.remaining(f"connecting to {fmt(addr)}"))
            with socket.create_connection((host, port), timeout=limit):
                found.append(addr)
        except (OSError, TimedOut):
            continue
    return found
