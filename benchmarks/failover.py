"""Benchmark 1, failover: write recovery after a master SIGKILL, and the writes lost.

A repository is generated with the default answers and run on loopback (its own
config/ and start scripts, redis_scaffold/sandbox/topology.py). The app side is the GENERATED client
snippet: writer(), with the settings of the redis-env component, writing continuously
(redis_scaffold/sandbox/load.py: SET of a unique key + WAIT <replicas> 50 ms per round trip,
~2 ms apart).

Each run: the writer is writing; the master's redis is SIGKILLed; we record
  recovery    from the kill to the first acknowledged write issued after it, as the
              writing client sees it (so it includes Sentinel's down-after, the election
              and promotion, and the client's own rediscovery and retry back-off);
  switch      from the kill until a sentinel names the new master (the server side alone);
  lost        acknowledged writes missing on the new master once the old master has
              restarted and rejoined (and, of those, the ones WAIT had confirmed on
              every replica).
Median of --runs (default 5) runs per timing:
  production  the generated timing (down-after-milliseconds 10000, as generated)
  fast        the test timing (down-after 1000, failover-timeout 2000, via EXTRA_CONF)
Target: median recovery <= down-after + 2 s; 0 acknowledged writes lost.
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from benchmarks import emit, log, median
from benchmarks.harness import generated_repo, running_topology
from redis_scaffold.sandbox.load import WriteLoad
from redis_scaffold.sandbox.staging import generated_value

TIMINGS = {
    "production": {"down_after_ms": None, "failover_timeout_ms": None},
    "fast": {"down_after_ms": 1000, "failover_timeout_ms": 2000},
}
SLACK_S = 2.0


def one_run(topo, n: int) -> dict:
    down_after_s = (topo.down_after_ms or topo_default_down_after(topo)) / 1000
    replicas = len(topo.nodes) - 1
    with WriteLoad(topo.app().writer(), f"bench-failover-{n}", wait_replicas=replicas) as load:
        if not load.wait_for_acks(50, after=0, timeout=30):
            raise RuntimeError(f"the writer does not write: {dict(load.errors)}")
        old = topo.node_at(topo.master_address()[0])
        killed_at = time.monotonic()
        topo.kill(old, signal.SIGKILL)
        reaped_at = time.monotonic()
        switch = None
        deadline = killed_at + 3 * down_after_s + 60
        while time.monotonic() < deadline:
            if switch is None:
                try:
                    if topo.master_address()[0] != old.host:
                        switch = time.monotonic() - killed_at
                except Exception:  # noqa: BLE001 - no sentinel answered this poll
                    pass
            if switch is not None and load.wait_for_acks(20, after=reaped_at, timeout=0.05):
                break
            time.sleep(0.05)
        first = load.first_ack_after(reaped_at)
        recovery = first.acked - killed_at if first else None
        topo.restart(old)
        topo.wait_until_ready(60)
    master = topo.node_at(topo.master_address()[0])
    with topo.client(master) as r:
        r.execute_command("WAIT", len(topo.nodes) - 1, 10_000)
        lost = load.missing(r)
        confirmed_lost = load.missing(r, load.confirmed)
    return {
        "recovery_s": round(recovery, 3) if recovery is not None else None,
        "switch_s": round(switch, 3) if switch is not None else None,
        "writes": load.acknowledged,
        "lost": len(lost),
        "confirmed_lost": len(confirmed_lost),
        "errors": dict(load.errors),
        "error_samples": load.error_samples,
    }


def topo_default_down_after(topo) -> int:
    return generated_down_after_ms(topo.repo)


def generated_down_after_ms(repo) -> int:
    return int(generated_value(repo, "sentinel.conf", "sentinel down-after-milliseconds"))


def measure(timings: list[str], runs: int, engine: str = "redis") -> list[dict]:
    results = []
    with generated_repo({"engine": engine}) as repo:
        generated_down_after = generated_down_after_ms(repo)
        for name in timings:
            kwargs = TIMINGS[name]
            down_after = kwargs["down_after_ms"] or generated_down_after
            per_run = []
            with running_topology(repo, **kwargs) as topo:
                for n in range(runs):
                    log(f"failover ({name}, down-after {down_after} ms): run {n + 1}/{runs}")
                    per_run.append(one_run(topo, n))
            recoveries = [r["recovery_s"] for r in per_run if r["recovery_s"] is not None]
            med = median(recoveries)
            target = down_after / 1000 + SLACK_S
            results.append(
                {
                    "engine": engine,
                    "timing": name,
                    "down_after_ms": down_after,
                    "runs": runs,
                    "recovery_s": [r["recovery_s"] for r in per_run],
                    "median_recovery_s": round(med, 3) if med is not None else None,
                    "median_switch_s": round(
                        median([r["switch_s"] for r in per_run if r["switch_s"] is not None]) or 0,
                        3,
                    ),
                    "target_recovery_s": target,
                    "recovery_met": med is not None and len(recoveries) == runs and med <= target,
                    "writes": sum(r["writes"] for r in per_run),
                    "lost": sum(r["lost"] for r in per_run),
                    "confirmed_lost": sum(r["confirmed_lost"] for r in per_run),
                    "errors": _merge(r["errors"] for r in per_run),
                    "per_run": per_run,
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
    parser = argparse.ArgumentParser(prog="python -m benchmarks failover")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timing", choices=list(TIMINGS), action="append", help="default: both")
    parser.add_argument(
        "--engine",
        choices=["redis", "valkey"],
        action="append",
        help="the generated engine (default: redis); repeat for both",
    )
    parser.add_argument(
        "--topology",
        choices=["sentinel", "cluster"],
        default="sentinel",
        help="the generated topology (default: sentinel); cluster: benchmarks/cluster_failover.py",
    )
    args, _ = parser.parse_known_args(argv)
    if args.topology == "cluster":
        from benchmarks.cluster_failover import measure as measure_topology
    else:
        measure_topology = measure
    results = [
        r
        for engine in (args.engine or ["redis"])
        for r in measure_topology(args.timing or list(TIMINGS), args.runs, engine)
    ]
    emit(
        "failover",
        {"results": results},
        [
            "engine",
            "timing",
            "down-after (ms)",
            "median recovery (s)",
            "target (s)",
            "median switch (s)",
            "runs (recovery s)",
            "acked writes",
            "lost",
            "met",
        ],
        [
            [
                r["engine"],
                r["timing"],
                r["down_after_ms"],
                r["median_recovery_s"],
                f"<= {r['target_recovery_s']:g}",
                r["median_switch_s"],
                " ".join(f"{x:.2f}" if x is not None else "-" for x in r["recovery_s"]),
                r["writes"],
                f"{r['lost']} ({r['confirmed_lost']} confirmed)",
                "met" if r["recovery_met"] and r["lost"] == 0 else "NOT MET",
            ]
            for r in results
        ],
    )
    if args.topology == "cluster":
        print(
            "planned stops (preStop): "
            + "; ".join(
                f"{r['engine']} {r['timing']}: median stall {r['median_handover_stall_s']} s, "
                f"lost {r['handover_lost']}"
                for r in results
            ),
            flush=True,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
