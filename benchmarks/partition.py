"""Benchmark 5, partition: the master cut off from its peers (not from the app) for 15 s.

A repository is generated with both client snippets and run on loopback; each pod's
redis and sentinel speak from the pod's own address, and nftables (in the private
network namespace the benchmarks run in, scripts/offline.sh) drops every packet between
the master's address and the other pods' (redis_scaffold/sandbox/partition.py). The app
(127.0.0.1) still reaches every pod: the isolated old master too, and its sentinel,
which keeps naming it. The three clients of the failover benchmark write at once
(SET <unique key> + WAIT <replicas> 50 in one round trip): python, node, baseline.

Per run and client:
  named_s            from the cut until a sentinel (of the majority) names a new master;
  resume_s           from that moment to the first acknowledged write that survived (it
                     landed on the majority's master);
  longest_gap_s      the longest stretch, from the cut to 5 s after the heal, without an
                     acknowledged write that survived;
  acked_lost         acknowledged writes missing once the old master rejoined as a replica
                     (taken by the isolated old master), of which after_named: acknowledged
                     by the old master after the majority had named the new one;
  confirmed_lost     of those, writes WAIT had confirmed on every replica.
Medians over --runs (default 3); --max-lag N (repeatable) generates the repository with
min_replicas_max_lag N (default: the template's default) to show what it bounds. The
price of a small max-lag is measured too (refusals_with_one_replica): one replica is
stopped, as in a node drain, and the plain baseline client writes for 20 s; every
NOREPLICAS it gets is the master refusing a write although a replica was in sync.
Targets (python, node): median resume_s <= 1 s; 0 confirmed writes lost.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from benchmarks import emit, log, median
from benchmarks.harness import CLIENTS, ClientLoads, MasterClock, generated_repo, running_topology
from redis_scaffold.sandbox.partition import partition_unavailable
from redis_scaffold.sandbox.staging import generated_value

PARTITION_S = 15.0
FAST = {"down_after_ms": 1000, "failover_timeout_ms": 2000}
RESUME_TARGET_S = 1.0


def one_run(topo, n: int, partition_s: float) -> dict:
    old = topo.node_at(topo.master_address()[0])
    with ClientLoads(topo, f"bench-partition-{n}") as clients:
        clients.wait_writing()
        with MasterClock(topo, old.host) as clock:
            cut_at = time.monotonic()
            topo.partition(old)
            time.sleep(partition_s)
            topo.heal()
            healed_at = time.monotonic()
        topo.wait_until(
            lambda: topo.status()[old.host].role == "slave",
            60,
            "the old master to rejoin as a replica",
        )
        time.sleep(1.0)
    topo.wait_until_ready(60)
    named_at = clock.named_at
    master = topo.node_at(topo.master_address()[0])
    hosts = {"old": old.host, "named": clock.new_host, "final": master.host}
    per_client = {}
    with topo.client(master) as r:
        r.execute_command("WAIT", len(topo.nodes) - 1, 10_000)
        for name, load in clients.loads.items():
            lost = set(load.missing(r))
            kept = [a for a in load.acks if a.seq not in lost]
            after = [a for a in kept if named_at and a.acked > named_at]
            lost_acks = [a for a in load.acks if a.seq in lost]
            per_client[name] = {
                "named_s": _round(named_at - cut_at if named_at else None),
                "resume_s": _round(after[0].acked - named_at if after else None),
                "longest_gap_s": _round(load.longest_gap(cut_at, healed_at + 5, kept)),
                "writes": load.acknowledged,
                "acked_lost": len(lost),
                "after_named": sum(1 for a in lost_acks if named_at and a.acked > named_at),
                "confirmed_lost": sum(1 for a in lost_acks if a.replicas >= load.wait_replicas),
                "errors": dict(load.errors),
                "masters": hosts,
            }
    return per_client


PROBE_S = 20.0


def refusals_with_one_replica(topo) -> dict:
    """NOREPLICAS refusals while one replica is down and the other healthy (PROBE_S of writes)."""
    master = topo.node_at(topo.master_address()[0])
    replica = next(n for n in topo.nodes if n != master)
    topo.kill(replica, signal.SIGKILL)
    try:
        with ClientLoads(topo, "bench-probe", clients=("baseline",)) as clients:
            time.sleep(PROBE_S)
        load = clients.loads["baseline"]
        return {"writes": load.attempts, "refused": load.errors.get("ResponseError:NOREPLICAS", 0)}
    finally:
        topo.restart(replica)
        topo.wait_until_ready(60)


def _round(x: float | None) -> float | None:
    return round(x, 3) if x is not None else None


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return _round(median(values))


def measure(max_lag: int | None, runs: int, partition_s: float) -> list[dict]:
    answers = {"client_languages": ["python", "node"]}
    if max_lag is not None:
        answers |= {"customise": True, "min_replicas_max_lag": max_lag}
    results = []
    with generated_repo(answers) as repo:
        lag = int(generated_value(repo, "redis.conf", "min-replicas-max-lag"))
        per_run = []
        with running_topology(repo, **FAST) as topo:
            for n in range(runs):
                log(f"partition (min-replicas-max-lag {lag}): run {n + 1}/{runs}")
                per_run.append(one_run(topo, n, partition_s))
            log(
                f"partition (min-replicas-max-lag {lag}): {PROBE_S:g} s of writes with one replica down"
            )
            probe = refusals_with_one_replica(topo)
        for client in CLIENTS:
            rows = [r[client] for r in per_run]
            resume = _median(r["resume_s"] for r in rows)
            totals = {
                k: sum(r[k] for r in rows)
                for k in ("writes", "acked_lost", "after_named", "confirmed_lost")
            }
            results.append(
                {
                    "client": client,
                    "min_replicas_max_lag": lag,
                    "down_after_ms": FAST["down_after_ms"],
                    "partition_s": partition_s,
                    "runs": runs,
                    "median_named_s": _median(r["named_s"] for r in rows),
                    "median_resume_s": resume,
                    "median_longest_gap_s": _median(r["longest_gap_s"] for r in rows),
                    "longest_gap_s": [r["longest_gap_s"] for r in rows],
                    "acked_lost_per_run": [r["acked_lost"] for r in rows],
                    "masters_per_run": [r["masters"] for r in rows],
                    **totals,
                    "errors": _merge(r["errors"] for r in rows),
                    "refusals_with_one_replica": probe,
                    "met": None
                    if client == "baseline"
                    else resume is not None
                    and resume <= RESUME_TARGET_S
                    and totals["confirmed_lost"] == 0,
                }
            )
    return results


def _merge(dicts) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks partition")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--max-lag", type=int, action="append", help="min_replicas_max_lag; repeatable"
    )
    parser.add_argument("--partition-s", type=float, default=PARTITION_S)
    args, _ = parser.parse_known_args(argv)
    why = partition_unavailable()
    if why:
        log(f"partition: skipped, {why}")
        return 0
    results = [
        r for lag in (args.max_lag or [None]) for r in measure(lag, args.runs, args.partition_s)
    ]
    emit(
        "partition",
        {"results": results},
        [
            "client",
            "max-lag (s)",
            "median named (s)",
            "median resume (s)",
            "median longest gap (s)",
            "acked writes",
            "acked lost (after named)",
            "confirmed lost",
            "refused, 1 replica down",
            "met",
        ],
        [
            [
                r["client"],
                r["min_replicas_max_lag"],
                r["median_named_s"],
                r["median_resume_s"],
                r["median_longest_gap_s"],
                r["writes"],
                f"{r['acked_lost']} ({r['after_named']})",
                r["confirmed_lost"],
                "{refused}/{writes}".format(**r["refusals_with_one_replica"]),
                {None: "baseline", True: "met"}.get(r["met"], "NOT MET"),
            ]
            for r in results
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
