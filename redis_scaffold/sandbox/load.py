"""A write load through the generated client snippet, counting what was acknowledged.

Shared by the fault tests (tests/test_failover.py) and the failover benchmark.

    app = topology.app()                            # the generated client/python/redis_client.py
    with WriteLoad(app.writer(), "kill") as load:
        ... break something, wait for recovery ...
    missing = load.missing(master_client)          # acknowledged writes not on that node

Each write is one round trip on the generated writer() (Sentinel master_for, with the
Retry it configures): a pipeline of `SET <prefix>:<seq> <seq>` and `WAIT <replicas> <ms>`
(no WAIT with wait_replicas=0: the failover benchmark times bare acknowledgements, as a
WAIT that times out on a missing replica returns only at the server's next cron tick).
SET of a unique key is idempotent, so the client's retry may resend it safely.

- acknowledged: the SET returned OK (what an application sees as "written");
- confirmed: and WAIT reported `wait_replicas` replicas holding it. Pass the number of
  replicas (pods - 1): then whichever replica Sentinel promotes holds the write. (WAIT 1
  is not enough with two replicas: once, on a loaded machine, 245 writes confirmed by
  WAIT 1 were lost in one failover. The likely cause: Sentinel ranks replicas by the
  offset they last reported, up to a second old, and may promote the one that lags;
  the other resyncs from it and drops what only it had.) Redis replication is asynchronous, so an
  acknowledged-only write can be lost that way, or if the master dies in the instant
  between its reply and its replication stream reaching a replica.
Errors (retries exhausted, NOREPLICAS while the new master has no replica yet,
READONLY) are counted per kind, with no value or password in them.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import redis


@dataclass
class Ack:
    seq: int
    started: float  # time.monotonic() when the write was issued
    acked: float  # when its reply arrived
    replicas: int  # what WAIT answered


class LoadRecord:
    """What a write load recorded, and the measures taken from it (shared by WriteLoad,
    in this process, and node_app.NodeWriteLoad, the Node snippet in a node process).
    Needs: prefix, wait_replicas, acks, errors, error_times, error_samples."""

    def key(self, seq: int) -> str:
        return f"{self.prefix}:{seq:09d}"

    def record_error(self, kind: str, sample: str, at: float) -> None:
        self.errors[kind] += 1
        self.error_samples.setdefault(kind, sample[:120])
        self.error_times.append((at, kind))

    def wait_for_acks(self, count: int, after: float, timeout: float) -> bool:
        """Bounded wait until `count` writes issued after `after` are acknowledged."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if sum(1 for a in self.acks[-count - 5 :] if a.started > after) >= count:
                return True
            time.sleep(0.02)
        return False

    def first_ack_after(self, t: float) -> Ack | None:
        """The first acknowledged write issued after monotonic time t."""
        return next((a for a in self.acks if a.started > t), None)

    def longest_gap(self, start: float, end: float, acks: list[Ack] | None = None) -> float:
        """The longest stretch of [start, end] without an acknowledgement (of `acks`)."""
        times = [
            start,
            *sorted(
                a.acked for a in (self.acks if acks is None else acks) if start < a.acked < end
            ),
            end,
        ]
        return max(b - a for a, b in zip(times, times[1:], strict=False))

    @property
    def acknowledged(self) -> int:
        return len(self.acks)

    @property
    def confirmed(self) -> list[Ack]:
        return [a for a in self.acks if a.replicas >= self.wait_replicas]

    def missing(self, reader: redis.Redis, acks: list[Ack] | None = None) -> list[int]:
        """Sequence numbers of `acks` (default all acknowledged) absent from `reader`'s node."""
        acks = self.acks if acks is None else acks
        lost = []
        for i in range(0, len(acks), 1000):
            batch = acks[i : i + 1000]
            values = reader.mget([self.key(a.seq) for a in batch])
            lost += [
                a.seq for a, v in zip(batch, values, strict=True) if v is None or int(v) != a.seq
            ]
        return lost


@dataclass
class WriteLoad(LoadRecord):
    """A thread writing unique keys through `client` until stop() (at most `max_seconds`)."""

    client: redis.Redis
    prefix: str
    wait_replicas: int = 1
    wait_ms: int = 50  # while a replica is missing, each write waits this long
    pause_s: float = 0.002  # between writes: leaves CPU to the servers on a 2-core machine
    max_seconds: float = 120.0
    error_pause_s: float = 0.02  # after an error (the generated writer already retried)
    close_client: bool = False  # stop() closes the client (the generated writer's threads too)
    acks: list[Ack] = field(default_factory=list)
    errors: Counter = field(default_factory=Counter)
    error_times: list[tuple[float, str]] = field(default_factory=list)
    error_samples: dict[str, str] = field(default_factory=dict)  # first message per kind
    attempts: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, name=f"write-load-{self.prefix}", daemon=True
        )

    # ------------------------------------------------------------------ running
    def start(self) -> WriteLoad:
        self._thread.start()
        return self

    def stop(self) -> WriteLoad:
        self._stop.set()
        self._thread.join(timeout=self.max_seconds + 60)
        if self.close_client:
            self.client.close()
        return self

    def __enter__(self) -> WriteLoad:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def _run(self) -> None:
        end = time.monotonic() + self.max_seconds
        for seq in itertools.count(1):
            if self._stop.is_set() or time.monotonic() >= end:
                return
            self.attempts += 1
            started = time.monotonic()
            try:
                ok, replicas = self.write(seq)
            except redis.RedisError as exc:
                self.record_error(_error_kind(exc), str(exc), time.monotonic())
                self._stop.wait(self.error_pause_s)
                continue
            if ok:
                self.acks.append(Ack(seq, started, time.monotonic(), replicas))
            self._stop.wait(self.pause_s)

    def write(self, seq: int) -> tuple[bool, int]:
        """One write: SET, and WAIT in the same round trip; (acknowledged, replicas holding it)."""
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.key(seq), seq)
        if self.wait_replicas:
            pipe.execute_command("WAIT", self.wait_replicas, self.wait_ms)
        ok, *replicas = pipe.execute()
        return bool(ok), int(replicas[0] if replicas else 0)


def _error_kind(exc: Exception) -> str:
    text = str(exc).split(" ", 1)[0] if isinstance(exc, redis.ResponseError) else ""
    return f"{type(exc).__name__}{':' + text if text else ''}"


@dataclass
class ClusterWriteLoad(WriteLoad):
    """The same load through a RedisCluster client (the generated cluster snippet).

    Each write is `SET <key>` on the master of its slot, then `WAIT` on that master: with
    one writing thread both use the same pooled connection, so WAIT counts the replicas
    holding that SET. A WAIT that fails (the master died just after the SET) leaves the
    write acknowledged and unconfirmed. `wait_replicas` is the replicas per master."""

    def write(self, seq: int) -> tuple[bool, int]:
        key = self.key(seq)
        ok = self.client.set(key, seq)
        try:
            node = self.client.get_node_from_key(key)
            replicas = self.client.execute_command(
                "WAIT", self.wait_replicas, self.wait_ms, target_nodes=node
            )
        except redis.RedisError:
            replicas = 0
        return bool(ok), int(replicas)

    def missing(self, reader, acks: list[Ack] | None = None) -> list[int]:
        """Sequence numbers of `acks` (default all) absent from the cluster (a RedisCluster
        `reader`: each key read from the master of its slot)."""
        acks = self.acks if acks is None else acks
        return [
            a.seq for a in acks if (v := reader.get(self.key(a.seq))) is None or int(v) != a.seq
        ]
