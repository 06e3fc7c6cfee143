"""Check a running Redis Cluster: slot coverage, masters and replicas, node states, round trips.

`check(...)` asks one seed node (the first that answers) for CLUSTER INFO and CLUSTER
NODES, then does a write/read round trip on a key of every master, connecting to each
master directly; it returns a `ClusterReport` or raises a `ClusterCheckError` kind with
its own exit code (30-39). `Unreachable` (no seed answered) is its own kind: right after
generation the cluster often does not exist yet.

The deadline, name resolution, report and connections are the shared check kernel's
(service/check.py); what is here is Redis Cluster's own: its steps and error kinds.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from redis.crc import key_slot
from redis.exceptions import AuthenticationError, RedisError

from redis_scaffold.service import check as kernel
from redis_scaffold.service.check import (
    KEY_PREFIX,
    KEY_TTL_SECONDS,
    Address,
    Deadline,
    Probe,
    fmt,
)

TOTAL_SLOTS = 16384


class ClusterCheckError(kernel.CheckError):
    """The cluster failed a check; `exit_code` tells which kind."""

    exit_code = 30
    kind = "failed"


class Unreachable(ClusterCheckError, kernel.Unreachable):
    exit_code = 31
    kind = "unreachable"


class SlotsUncovered(ClusterCheckError):
    exit_code = 32
    kind = "slots not covered"


class CountMismatch(ClusterCheckError):
    exit_code = 33
    kind = "count mismatch"


class NodeFailing(ClusterCheckError):
    exit_code = 34
    kind = "node failing"


class AuthFailed(ClusterCheckError):
    exit_code = 35
    kind = "authentication failed"


class RoundTripFailed(ClusterCheckError):
    exit_code = 36
    kind = "round trip failed"


class CheckTimedOut(ClusterCheckError, kernel.TimedOut):
    exit_code = 37
    kind = "timed out"


class TlsUntrusted(ClusterCheckError, kernel.TlsUntrusted):
    exit_code = 38


class PasswordUnavailable(ClusterCheckError, kernel.PasswordUnavailable):
    exit_code = 39
    kind = "no password for the check"


class ClusterReport(kernel.Report):
    def head(self) -> list[str]:
        return ["cluster check:"]


@dataclass(frozen=True)
class Node:
    """One line of CLUSTER NODES."""

    id: str
    address: Address  # where clients reach it: its announced hostname, else its IP
    flags: frozenset[str]
    master_id: str  # "-" for a master
    link: str
    slots: tuple[tuple[int, int], ...]

    @property
    def is_master(self) -> bool:
        return "master" in self.flags

    @property
    def slot_count(self) -> int:
        return sum(b - a + 1 for a, b in self.slots)


def parse_nodes(text: str) -> list[Node]:
    """CLUSTER NODES: `id ip:port@bus[,hostname] flags master ping pong epoch link slots...`."""
    nodes = []
    for line in text.splitlines():
        f = line.split()
        if len(f) < 8:
            continue
        endpoint, _, hostname = f[1].partition(",")
        ip_port = endpoint.split("@")[0]
        ip, _, port = ip_port.rpartition(":")
        slots = []
        for s in f[8:]:
            if not s.startswith("["):  # "[slot->-id]": a slot being migrated
                a, _, b = s.partition("-")
                slots.append((int(a), int(b or a)))
        nodes.append(
            Node(
                f[0],
                (hostname.split(",")[0] or ip, int(port)),
                frozenset(f[2].split(",")),
                f[3],
                f[7],
                tuple(slots),
            )
        )
    return nodes


def _info(text: str) -> dict[str, str]:
    return dict(line.split(":", 1) for line in text.splitlines() if ":" in line)


def _text(reply) -> str:
    return reply.decode() if isinstance(reply, bytes) else str(reply)


def ask_seeds(probe: Probe, seeds: Sequence[Address]) -> tuple[dict[str, str], list[Node]]:
    """CLUSTER INFO and CLUSTER NODES of the first seed that answers."""
    failures = []
    for addr in seeds:
        try:
            with probe.step("seed") as say:
                client = probe.connect(addr)
                try:
                    info = _info(_text(client.execute_command("CLUSTER", "INFO")))
                    nodes = parse_nodes(_text(client.execute_command("CLUSTER", "NODES")))
                finally:
                    client.close()
                say(f"{fmt(addr)}: cluster_state {info.get('cluster_state')}, {len(nodes)} nodes")
            return info, nodes
        except AuthenticationError as exc:
            raise AuthFailed(f"{fmt(addr)} refused the password: {exc}") from None
        except (RedisError, OSError) as exc:
            if kernel.tls_refusal(exc):
                raise kernel.untrusted(TlsUntrusted, addr, exc, probe.tls_ca) from None
            failures.append(f"{fmt(addr)} ({exc})")
        except kernel.TimedOut:
            failures.append(f"{fmt(addr)} (not tried: the time limit ran out)")
            break
    raise Unreachable(
        f"no cluster node answered; tried: {'; '.join(failures)}"
        + kernel.certificate_hint(probe.tls),
        [fmt(a) for a in seeds],
    )


def check_slots(probe: Probe, info: dict[str, str], nodes: list[Node]) -> None:
    with probe.step("slots") as say:
        served = sum(n.slot_count for n in nodes if n.is_master and not n.flags & {"fail"})
        say(f"{served} of {TOTAL_SLOTS} slots served, cluster_state {info.get('cluster_state')}")
    if info.get("cluster_state") != "ok" or served != TOTAL_SLOTS:
        raise SlotsUncovered(
            f"cluster_state is {info.get('cluster_state')!r} and {served} of {TOTAL_SLOTS} "
            "slots have a working master (a failover may be in progress: run the check again)"
        )


def check_members(probe: Probe, nodes: list[Node], masters: int, replicas: int) -> list[Node]:
    """Masters with slots, and each one's replicas, against the answers; failing nodes."""
    with probe.step("members") as say:
        serving = [n for n in nodes if n.is_master and n.slots]
        of = {m.id: [n for n in nodes if n.master_id == m.id] for m in serving}
        say(
            f"{len(serving)} masters, replicas per master: "
            + ", ".join(str(len(r)) for r in of.values())
        )
    failing = [n for n in nodes if n.flags & {"fail", "fail?", "handshake", "noaddr"}]
    if failing:
        raise NodeFailing(
            "nodes not healthy: "
            + ", ".join(f"{fmt(n.address)} ({','.join(sorted(n.flags))})" for n in failing)
        )
    if len(serving) != masters:
        raise CountMismatch(f"{len(serving)} masters serve slots where the answers say {masters}")
    short = [m for m in serving if len(of[m.id]) < replicas]
    if short:
        raise CountMismatch(
            f"masters with fewer than {replicas} replica(s), so losing one pod would lose "
            "their slots: " + ", ".join(f"{fmt(m.address)} ({len(of[m.id])})" for m in short)
        )
    return serving


def key_for(master: Node) -> str:
    """A check key whose slot `master` serves."""
    for _ in range(100_000):
        key = f"{KEY_PREFIX}{uuid.uuid4().hex}"
        slot = key_slot(key.encode())
        if any(a <= slot <= b for a, b in master.slots):
            return key
    raise RoundTripFailed(f"no key found for the slots of {fmt(master.address)}")


def round_trips(probe: Probe, masters: list[Node]) -> None:
    """SET, GET, DEL a key of each master's slots, on that master (no redirection)."""
    for master in masters:
        key, value = key_for(master), uuid.uuid4().hex
        with probe.step("round trip") as say:
            try:
                client = probe.connect(master.address)
                try:
                    client.set(key, value, ex=KEY_TTL_SECONDS)
                    got = client.get(key)
                    client.delete(key)
                finally:
                    client.close()
            except AuthenticationError as exc:
                raise AuthFailed(f"{fmt(master.address)} refused the password: {exc}") from None
            except (RedisError, OSError) as exc:
                raise RoundTripFailed(
                    f"write/read of {key} on {fmt(master.address)} failed: {exc}"
                ) from None
            if got != value:
                raise RoundTripFailed(f"{key} on {fmt(master.address)} read back another value")
            say(f"{fmt(master.address)}: SET, GET, DEL {key}")


def check(
    seeds: Sequence[Address],
    password: str | None,
    masters: int,
    replicas: int,
    timeout: float = 5.0,
    per_call: float = 1.0,
    tls: kernel.TlsFiles | None = None,
) -> ClusterReport:
    """Run every check in order; return the report or raise a ClusterCheckError."""
    if not seeds:
        raise ValueError("at least one seed address is needed")
    report = ClusterReport()
    probe = Probe(password, Deadline(timeout, CheckTimedOut), per_call, report, tls)
    info, nodes = ask_seeds(probe, seeds)
    check_slots(probe, info, nodes)
    serving = check_members(probe, nodes, masters, replicas)
    round_trips(probe, serving)
    return report
