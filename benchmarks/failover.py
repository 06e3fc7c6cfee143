"""Benchmark 1, failover: how fast each client writes again after a master SIGKILL.

A repository is generated with both client snippets (client_languages: python, node)
and run on loopback (its own config/ and start scripts, redis_scaffold/sandbox/sentinel.py).
Three clients write at once, each its own keys (benchmarks/harness.py, ClientLoads):

  python    the generated client/python writer()
  node      the generated client/node writer(), under node with ioredis from the lockfile
  baseline  plain redis-py Sentinel.master_for and an application loop retrying every 50 ms

Each write is a bare SET <unique key> (redis_scaffold/sandbox/load.py; the same in
node): a WAIT that times out on the missing replica would add up to 100 ms (the
server's cron tick) to whatever write comes first. Each run: the master's redis
is SIGKILLed; we record
  switch_s            from the kill until a sentinel names the new master (polled every 10 ms);
  recovery_s          from the kill to the first write acknowledged after it (by the new master:
                      the old one is dead), as each client sees it;
  client_overhead_s   recovery_s - switch_s: what the client adds to Sentinel's own switch;
  writable_s          from the kill until the new master counts a replica in sync (polled
                      every 5 ms): before that it refuses every write (NOREPLICAS, the
                      min-replicas-to-write guard), so this is the floor of any recovery;
  client_delay_s      recovery_s - writable_s: the client's own share, per run;
  lost                acknowledged writes missing once the old master rejoined as a replica
                      (confirmed writes are the partition benchmark's business).
Medians of --runs (default 5) per timing: fast (down-after 1000 ms, failover-timeout 2000,
via EXTRA_CONF; the default) and production (the generated 10000 ms; --timing production).
Targets: median client_overhead_s <= 0.1 s for python and node, and below the baseline's.

--tls: the same measurement twice in one run, on a plaintext repository and on one
generated with `tls: yes` (every connection over TLS, the sandbox's CA); target for
each client: its TLS median overhead within 0.05 s of its plaintext one (issue 25).
"""

from __future__ import annotations

import argparse
import signal
import sys
import time

from benchmarks import emit, log, median
from benchmarks.harness import CLIENTS, ClientLoads, MasterClock, generated_repo, running_topology
from redis_scaffold.sandbox.staging import generated_value

TIMINGS = {
    "fast": {"down_after_ms": 1000, "failover_timeout_ms": 2000},
    "production": {"down_after_ms": None, "failover_timeout_ms": None},
}
OVERHEAD_TARGET_S = 0.1
TLS_MARGIN_S = 0.05  # --tls: a client's TLS overhead within this of its plaintext one
BOTH = {"client_languages": ["python", "node"]}
TLS = {"tls": True, "tls_issuer": "ClusterIssuer/bench-ca"}


def one_run(topo, n: int, down_after_s: float) -> dict:
    old = topo.node_at(topo.master_address()[0])
    with ClientLoads(topo, f"bench-failover-{n}", confirm=False) as clients:
        clients.wait_writing()
        with MasterClock(topo, old.host) as clock:
            killed_at = time.monotonic()
            topo.kill(old, signal.SIGKILL)
            # The first write after the kill is one issued once the old master is gone
            # (kill() returns when the process is reaped): a write issued between the
            # timestamp and the signal could still be answered by the old master.
            reaped_at = time.monotonic()
            deadline = killed_at + 3 * down_after_s + 30
            while time.monotonic() < deadline and not all(
                load.first_ack_after(reaped_at) for load in clients.loads.values()
            ):
                time.sleep(0.05)
            time.sleep(0.5)  # a few writes on the new master, for the loss count
    switch = clock.named_at - killed_at if clock.named_at else None
    writable = clock.writable_at - killed_at if clock.writable_at else None
    topo.restart(old)
    topo.wait_until_ready(60)
    master = topo.node_at(topo.master_address()[0])
    per_client = {}
    with topo.client(master) as r:
        r.execute_command("WAIT", len(topo.nodes) - 1, 10_000)
        for name, load in clients.loads.items():
            first = load.first_ack_after(reaped_at)
            recovery = first.acked - killed_at if first else None
            per_client[name] = {
                "switch_s": _round(switch),
                "recovery_s": _round(recovery),
                "client_overhead_s": _round(recovery - switch if recovery and switch else None),
                "writable_s": _round(writable),
                "client_delay_s": _round(recovery - writable if recovery and writable else None),
                "writes": load.acknowledged,
                "lost": len(load.missing(r)),
                "errors": dict(load.errors),
            }
    return per_client


def _round(x: float | None) -> float | None:
    return round(x, 3) if x is not None else None


def _median(values) -> float | None:
    values = [v for v in values if v is not None]
    return _round(median(values))


def measure(timings: list[str], runs: int, engine: str = "redis", tls: bool = False) -> list[dict]:
    results = []
    with generated_repo({"engine": engine, **BOTH, **(TLS if tls else {})}) as repo:
        generated = int(generated_value(repo, "sentinel.conf", "sentinel down-after-milliseconds"))
        for timing in timings:
            down_after = TIMINGS[timing]["down_after_ms"] or generated
            per_run = []
            with running_topology(repo, **TIMINGS[timing]) as topo:
                for n in range(runs):
                    log(f"failover ({engine}, {timing}, tls {tls}): run {n + 1}/{runs}")
                    per_run.append(one_run(topo, n, down_after / 1000))
            baseline = _median(r["baseline"]["client_overhead_s"] for r in per_run)
            for client in CLIENTS:
                rows = [r[client] for r in per_run]
                overhead = _median(r["client_overhead_s"] for r in rows)
                met = (
                    None
                    if client == "baseline"
                    else overhead is not None
                    and overhead <= OVERHEAD_TARGET_S
                    and baseline is not None
                    and overhead < baseline
                )
                results.append(
                    {
                        "engine": engine,
                        "tls": tls,
                        "timing": timing,
                        "down_after_ms": down_after,
                        "client": client,
                        "runs": runs,
                        "median_switch_s": _median(r["switch_s"] for r in rows),
                        "median_recovery_s": _median(r["recovery_s"] for r in rows),
                        "median_client_overhead_s": overhead,
                        "client_overhead_s": [r["client_overhead_s"] for r in rows],
                        "median_writable_s": _median(r["writable_s"] for r in rows),
                        "median_client_delay_s": _median(r["client_delay_s"] for r in rows),
                        "client_delay_s": [r["client_delay_s"] for r in rows],
                        "recovery_s": [r["recovery_s"] for r in rows],
                        "writes": sum(r["writes"] for r in rows),
                        "lost": sum(r["lost"] for r in rows),
                        "errors": _merge(r["errors"] for r in rows),
                        "target": f"overhead <= {OVERHEAD_TARGET_S} s and < baseline",
                        "met": met,
                    }
                )
    return results


def _tls_targets(results: list[dict]) -> None:
    """With --tls: each TLS row's target is its overhead within TLS_MARGIN_S of the
    plaintext row of the same engine, timing and client (measured in the same run)."""
    plain = {(r["engine"], r["timing"], r["client"]): r for r in results if not r["tls"]}
    for r in results:
        other = plain.get((r["engine"], r["timing"], r["client"]))
        if not r["tls"] or other is None:
            continue
        a, b = r["median_client_overhead_s"], other["median_client_overhead_s"]
        r["target"] = f"overhead within {TLS_MARGIN_S} s of plaintext ({b} s)"
        r["met"] = a is not None and b is not None and a - b <= TLS_MARGIN_S


def _merge(dicts) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks failover")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--timing", choices=list(TIMINGS), action="append", help="default: fast")
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
    parser.add_argument(
        "--tls",
        action="store_true",
        help="also measure a repository with tls: yes, in the same run (issue 25)",
    )
    args, _ = parser.parse_known_args(argv)
    if args.topology == "cluster":
        from benchmarks.cluster_failover import TIMINGS as CLUSTER_TIMINGS
        from benchmarks.cluster_failover import report

        return report(args.timing or list(CLUSTER_TIMINGS), args.runs, args.engine or ["redis"])
    results = [
        r
        for engine in (args.engine or ["redis"])
        for tls in ([False, True] if args.tls else [False])
        for r in measure(args.timing or ["fast"], args.runs, engine, tls)
    ]
    _tls_targets(results)
    emit(
        "failover",
        {"results": results},
        [
            "engine",
            "tls",
            "timing",
            "client",
            "median switch (s)",
            "median recovery (s)",
            "median overhead (s)",
            "runs (overhead s)",
            "median writable (s)",
            "median client delay (s)",
            "acked writes",
            "lost",
            "met",
        ],
        [
            [
                r["engine"],
                "yes" if r["tls"] else "no",
                r["timing"],
                r["client"],
                r["median_switch_s"],
                r["median_recovery_s"],
                r["median_client_overhead_s"],
                " ".join(f"{x:.3f}" if x is not None else "-" for x in r["client_overhead_s"]),
                r["median_writable_s"],
                r["median_client_delay_s"],
                r["writes"],
                r["lost"],
                {None: "baseline", True: "met"}.get(r["met"], "NOT MET"),
            ]
            for r in results
        ],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
