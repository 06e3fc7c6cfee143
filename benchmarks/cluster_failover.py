"""Benchmark 1 for `topology: cluster`: write recovery after a master SIGKILL, writes lost.

`python -m benchmarks failover --topology cluster`. A repository is generated with
topology cluster (3 masters x 1 replica) and run on loopback (its own config/, start
and bootstrap scripts, redis_scaffold/sandbox/cluster.py). The app side is the GENERATED
client snippet: client() (RedisCluster), writing continuously (redis_scaffold/sandbox/load.py's
ClusterWriteLoad: SET of a unique key, then WAIT 1 50 ms on its master, ~2 ms apart).

Each run: the writer is writing; one master's redis is SIGKILLed; we record
  recovery    from the kill to the first acknowledged write issued after it whose key
              lies in the killed master's slots (writes to the other masters never
              stop, so that is the write that waited): cluster-node-timeout, the
              replica's election, and the client's retry back-off and slot-map reload;
  switch      from the kill until the killed master's replica says it is master;
  lost        acknowledged writes missing from the cluster once the old master has
              restarted and rejoined as a replica (and, of those, the ones WAIT had
              confirmed on the master's replica).
The same JSON as the Sentinel failover benchmark, with "topology": "cluster";
down_after_ms holds cluster-node-timeout, the failure-detection time of this topology.
  production  the generated cluster-node-timeout (15000)
  fast        the test timing (1000, via EXTRA_CONF)
Target: median recovery <= cluster-node-timeout + 2 s; 0 confirmed writes lost.
In the same run, as the baseline a planned stop is held to: the generated preStop
(CLUSTER FAILOVER on the master's replica) on each master in turn; its *stall* is the
longest any write waited while it ran, and nothing acknowledged may be lost.
"""

from __future__ import annotations

import signal
import tempfile
import time
from pathlib import Path

from redis.crc import key_slot

from benchmarks import emit, log, median
from benchmarks.harness import generated_repo
from redis_scaffold.sandbox.cluster import LocalCluster
from redis_scaffold.sandbox.load import ClusterWriteLoad

TIMINGS = {"production": None, "fast": 1000}
SLACK_S = 2.0
READY_S = 60


def _in(slots, key: str) -> bool:
    slot = key_slot(key.encode())
    return any(a <= slot <= b for a, b in slots)


def one_run(cluster: LocalCluster, n: int, node_timeout_s: float) -> dict:
    app = cluster.app()
    with ClusterWriteLoad(
        app, f"bench-cluster-{n}", wait_replicas=cluster.rendered.replicas_per_master
    ) as load:
        if not load.wait_for_acks(50, after=0, timeout=30):
            raise RuntimeError(f"the writer does not write: {dict(load.errors)}")
        old = cluster.masters()[n % cluster.rendered.masters]
        old_id = cluster.view(old)["me"]["id"]
        slots = cluster.slots_of(old)
        successor = next(
            x for x in cluster.nodes if (v := cluster.view(x)) and v["me"]["master"] == old_id
        )
        killed_at = time.monotonic()
        cluster.kill(old, signal.SIGKILL)
        switch = first = None
        deadline = killed_at + 3 * node_timeout_s + 60
        while time.monotonic() < deadline and (first is None or switch is None):
            if switch is None and cluster.role(successor) == "master":
                switch = time.monotonic() - killed_at
            first = first or next(
                (a for a in load.acks if a.started > killed_at and _in(slots, load.key(a.seq))),
                None,
            )
            time.sleep(0.02)
        recovery = first.acked - killed_at if first else None
        cluster.restart(old)
        cluster.wait_until_ready(READY_S)
        load.wait_for_acks(20, after=time.monotonic(), timeout=30)
    lost = load.missing(app)
    confirmed_lost = load.missing(app, load.confirmed)
    app.close()
    return {
        "recovery_s": round(recovery, 3) if recovery is not None else None,
        "switch_s": round(switch, 3) if switch is not None else None,
        "writes": load.acknowledged,
        "lost": len(lost),
        "confirmed_lost": len(confirmed_lost),
        "errors": dict(load.errors),
        "error_samples": load.error_samples,
    }


def one_handover(cluster: LocalCluster, n: int) -> dict:
    """A planned stop: the generated preStop hands a master's slots to its replica. The
    stall is the longest any write waited (issue to acknowledgement) meanwhile."""
    app = cluster.app()
    with ClusterWriteLoad(
        app, f"bench-handover-{n}", wait_replicas=cluster.rendered.replicas_per_master
    ) as load:
        if not load.wait_for_acks(50, after=0, timeout=30):
            raise RuntimeError(f"the writer does not write: {dict(load.errors)}")
        master = cluster.masters()[n % cluster.rendered.masters]
        started = time.monotonic()
        result = cluster.handover(master, timeout_s=30)
        handed = time.monotonic()
        load.wait_for_acks(20, after=handed, timeout=30)
    stall = max((a.acked - a.started for a in load.acks if a.acked >= started), default=None)
    lost = load.missing(app)
    app.close()
    return {
        "handed_over": result.returncode == 0 and "slots handed to" in result.stderr,
        "prestop_s": round(handed - started, 3),
        "stall_s": round(stall, 3) if stall is not None else None,
        "lost": len(lost),
        "errors": dict(load.errors),
    }


def generated_node_timeout_ms(repo: Path) -> int:
    conf = (repo / "manifest/redis/base/config/redis.conf").read_text().splitlines()
    return int(next(line.split()[1] for line in conf if line.startswith("cluster-node-timeout ")))


def measure(timings: list[str], runs: int, engine: str = "redis") -> list[dict]:
    results = []
    with generated_repo({"engine": engine, "topology": "cluster"}) as repo:
        for name in timings:
            timeout_ms = TIMINGS[name] or generated_node_timeout_ms(repo)
            per_run = []
            with (
                tempfile.TemporaryDirectory(prefix="bench-cluster-") as work,
                LocalCluster(repo, Path(work), node_timeout_ms=TIMINGS[name]) as cluster,
            ):
                formed = cluster.bootstrap(timeout_s=60)
                if formed.returncode != 0:
                    raise RuntimeError(f"the generated bootstrap failed: {formed.stderr[-500:]}")
                cluster.wait_until_ready(READY_S)
                for n in range(runs):
                    log(
                        f"failover (cluster, {name}, node timeout {timeout_ms} ms): run {n + 1}/{runs}"
                    )
                    per_run.append(one_run(cluster, n, timeout_ms / 1000))
                handovers = []
                for n in range(runs):
                    log(f"handover (cluster preStop, {name}): run {n + 1}/{runs}")
                    handovers.append(one_handover(cluster, n))
                    cluster.wait_until_ready(READY_S)
            recoveries = [r["recovery_s"] for r in per_run if r["recovery_s"] is not None]
            med = median(recoveries)
            switches = [r["switch_s"] for r in per_run if r["switch_s"] is not None]
            target = timeout_ms / 1000 + SLACK_S
            results.append(
                {
                    "topology": "cluster",
                    "engine": engine,
                    "timing": name,
                    "down_after_ms": timeout_ms,
                    "node_timeout_ms": timeout_ms,
                    "runs": runs,
                    "recovery_s": [r["recovery_s"] for r in per_run],
                    "median_recovery_s": round(med, 3) if med is not None else None,
                    "median_switch_s": round(median(switches) or 0, 3),
                    "target_recovery_s": target,
                    "recovery_met": med is not None and len(recoveries) == runs and med <= target,
                    "writes": sum(r["writes"] for r in per_run),
                    "lost": sum(r["lost"] for r in per_run),
                    "confirmed_lost": sum(r["confirmed_lost"] for r in per_run),
                    "errors": _merge(r["errors"] for r in per_run),
                    "per_run": per_run,
                    # The planned stop (preStop) as the baseline of the same run: what
                    # a rolling update costs each master instead of a failover.
                    "median_handover_stall_s": median(
                        [h["stall_s"] for h in handovers if h["stall_s"] is not None]
                    ),
                    "handover_lost": sum(h["lost"] for h in handovers),
                    "handovers": handovers,
                }
            )
    return results


def _merge(dicts) -> dict:
    out: dict = {}
    for d in dicts:
        for k, v in d.items():
            out[k] = out.get(k, 0) + v
    return out


def report(timings: list[str], runs: int, engines: list[str]) -> int:
    """Measure every engine and timing; print the JSON line and the tables."""
    results = [r for engine in engines for r in measure(timings, runs, engine)]
    emit(
        "failover",
        {"results": results},
        [
            "engine",
            "timing",
            "node timeout (ms)",
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
