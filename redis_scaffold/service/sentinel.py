"""Check a running Redis Sentinel deployment: discovery, quorum, counts, master, round trip.

`check(...)` talks to real sentinels and to the master they name, and returns a
`Report`; every failure is a `SentinelCheckError` subclass with its own exit code
(20-29). `Unreachable` (nothing answered) is its own kind: right after generation the
deployment often does not exist yet, so callers may treat it as a warning.

The deadline, name resolution, report and connections are the shared check kernel's
(service/check.py); what is here is Sentinel's own: its steps and error kinds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

import redis
from redis.exceptions import AuthenticationError, RedisError, ResponseError

from redis_scaffold.service import check as kernel
from redis_scaffold.service.check import (  # noqa: F401  (this check's public names)
    KEY_PREFIX,
    KEY_TTL_SECONDS,
    Address,
    Deadline,
    Probe,
    fmt,
    parse_address,
    reachable,
    resolve,
)


class SentinelCheckError(kernel.CheckError):
    """The deployment failed a check; `exit_code` tells which kind."""

    exit_code = 20
    kind = "failed"


class Unreachable(SentinelCheckError, kernel.Unreachable):
    exit_code = 21
    kind = "unreachable"


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


class TimedOut(SentinelCheckError, kernel.TimedOut):
    """The overall time limit ran out after the sentinels had answered."""

    exit_code = 28
    kind = "timed out"


class TlsUntrusted(SentinelCheckError, kernel.TlsUntrusted):
    exit_code = 19


class PasswordUnavailable(SentinelCheckError, kernel.PasswordUnavailable):
    exit_code = 29
    kind = "no password for the check"


@dataclass
class Report(kernel.Report):
    master_set: str = ""
    master: Address | None = None

    def head(self) -> list[str]:
        master = fmt(self.master) if self.master else "unknown"
        return [f"sentinel check of {self.master_set}: master {master}"]


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
            if kernel.tls_refusal(exc):
                raise kernel.untrusted(TlsUntrusted, addr, exc, probe.tls_ca) from None
            failures.append(f"{fmt(addr)} ({exc})")
        except kernel.TimedOut:
            failures.append(f"{fmt(addr)} (not tried: the time limit ran out)")
            break
    if not answers:
        raise Unreachable(
            f"no sentinel answered for {master_set!r}; tried: {'; '.join(failures)}"
            + kernel.certificate_hint(probe.tls),
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
    """Sentinels (others + this one) and replicas known to a sentinel must match the pods:
    one sentinel per pod, and a replica on every pod but the master's.

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


def check_master(probe: Probe, master: Address, pods: int) -> None:
    """The master answers as master; fewer replicas attached than the other pods
    (`pods` - 1) is a warning."""
    with probe.step("master") as say:
        try:
            role = _call(probe.connect(master), "ROLE")
        except AuthenticationError as exc:
            raise AuthFailed(f"master {fmt(master)} refused the password: {exc}") from None
        except (RedisError, OSError) as exc:
            if kernel.tls_refusal(exc):
                raise kernel.untrusted(TlsUntrusted, master, exc, probe.tls_ca) from None
            raise NotMaster(
                f"master {fmt(master)} named by the sentinels does not answer: {exc}"
            ) from None
        if not role or role[0] != "master":
            raise NotMaster(
                f"{fmt(master)} is named master by the sentinels but says its role is {role[0]!r}"
            )
        say(f"{fmt(master)} has role master with {len(role[2])} replica(s) attached")
    if len(role[2]) < pods - 1:
        probe.report.warnings.append(
            f"the master has {len(role[2])} of {pods - 1} replicas attached"
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
    tls: kernel.TlsFiles | None = None,
) -> Report:
    """Run every check in order; return the report or raise a SentinelCheckError."""
    if not sentinels:
        raise ValueError("at least one sentinel address is needed")
    report = Report(master_set=master_set)
    probe = Probe(password, Deadline(timeout, TimedOut), per_call, report, tls)
    master, sentinel = ask_sentinels(probe, sentinels, master_set)
    report.master = master
    check_quorum(probe, sentinel, master_set)
    check_counts(probe, sentinel, master_set, pods)
    check_master(probe, master, pods)
    round_trip(probe, master)
    return report
