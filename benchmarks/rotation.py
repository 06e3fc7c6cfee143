"""Benchmark: what a password rotation costs the clients writing through it.

A repository is generated with both client adapters and run on loopback (its own start
scripts); its password sits in Secrets Manager (moto, in this process). Two generated
clients write at once, bare SETs of unique keys, each in a process of its own (an app's
roll is a new process): python (redis-py, the newest of the library's range) and node. Each run rotates the password with
redis_scaffold.service.rotate, in its two client-visible phases:

  rotate    createSecret, setSecret, testSecret and finishSecret, under clients that use
            the old password;
  retire    the old password removed and the outgoing credentials switched, under clients
            restarted with the new one (the app's roll, between the two phases);
  reload    instead of the roll: the same rotation under clients that read the password
            file (REDIS_PASSWORD_FILE, a sandbox SecretVolume), from the moment their
            file is refreshed (the kubelet's swap) until no connection made with the old
            password is left (the runner's own check): the clients' reconnection;
  retire-reloaded  retire under those clients, never restarted.

For each phase, the same clients' writes in the window right after it, of the same
length and under the same load with nothing happening, are the plain baseline:

  stall_s   the longest stretch without an acknowledged write, in the phase's window
            and in the baseline window;
  p99_ms    the 99th percentile of write latency (issue to acknowledgement) of the writes
            issued in each window;
  errors    failed writes (after the client's own retries) in the phase.

Medians over --runs (default 3). No target: the figures say whether a rotation is
visible to the clients at all (docs/performance.md records them).

--topology cluster: the same reload and retire-reloaded phases on a generated Redis
Cluster (3 masters x 1 replica), under the generated RedisCluster adapter reading its
password file (load.ClusterWriteLoad, in this process: the sandbox runs that adapter
in-process, as tests/test_rotation.py does). The other two phases (the roll) are the
Sentinel ones' and are not repeated.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from benchmarks import REPO_ROOT, emit, log, median
from benchmarks.harness import NODE_MODULES, WAIT_MS, generated_repo, running_topology
from redis_scaffold.sandbox.cluster import LocalCluster
from redis_scaffold.sandbox.load import ClusterWriteLoad
from redis_scaffold.sandbox.node_app import NodeApp, NodeWriteLoad, PythonApp
from redis_scaffold.sandbox.secret_volume import SecretVolume

CLIENTS = ("python", "node")
NAME, KEY = "bench-rotation", "db-password"
MIN_WINDOW_S = 0.5  # a phase shorter than this is measured (and compared) over this much time
MOVE_TIMEOUT_S = 30  # bounded wait for the reloading clients' old connections to go
PHASES = ("rotate", "retire", "reload", "retire-reloaded")
CLUSTER_PHASES = ("reload", "retire-reloaded")
PYTHON = REPO_ROOT / ".venv-clients" / "redis-py-newest" / "bin" / "python"


class Apps:
    """The two generated clients, each a process with the app's env as it is now."""

    def __init__(self, topo, tag: str, password_file=None) -> None:
        env = topo.app_env(password_file)
        apps = {
            "python": PythonApp(topo.repo, env, PYTHON),
            "node": NodeApp(topo.repo, env, NODE_MODULES),
        }
        self.loads = {
            name: NodeWriteLoad(app, f"{tag}-{name}", wait_replicas=0, wait_ms=WAIT_MS)
            for name, app in apps.items()
        }

    def start(self) -> Apps:
        for load in self.loads.values():
            load.start()
        for name, load in self.loads.items():
            if not load.wait_for_acks(30, after=0, timeout=30):
                raise RuntimeError(f"the {name} writer does not write: {dict(load.errors)}")
        return self

    def stop(self) -> None:
        for load in self.loads.values():
            load.stop()


class ClusterApp(Apps):
    """The generated RedisCluster adapter reading the password file, writing in a thread."""

    def __init__(self, cluster: LocalCluster, tag: str, password_file) -> None:
        self.loads = {
            "python": ClusterWriteLoad(
                cluster.app(password_file), tag, wait_replicas=0, close_client=True
            )
        }


@contextmanager
def secrets_manager():
    """moto in this process, dummy credentials: nothing leaves the machine."""
    import boto3
    from moto import mock_aws

    saved = {k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing")
    try:
        with mock_aws():
            yield boto3.client("secretsmanager", region_name="us-east-1")
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def rotation(topo, sm):
    from redis_scaffold.service.rotate import Endpoint, Rotation, SecretVersions, Servers

    endpoints = [Endpoint(n.host, n.redis_port, "redis") for n in topo.nodes]
    if not isinstance(topo, LocalCluster):  # a cluster has no sentinels: the nodes only
        endpoints += [Endpoint(n.host, n.sentinel_port, "sentinel") for n in topo.nodes]
    servers = Servers(endpoints, getattr(topo, "master_set", ""), timeout=1.0)
    return Rotation(SecretVersions(sm, NAME, KEY), servers, say=lambda _line: None)


def since(sm) -> float:
    from redis_scaffold.service.rotate import SINCE_TAG

    tags = {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=NAME)["Tags"]}
    return float(tags[SINCE_TAG])


def wait_until_moved(topo, sm, password: str) -> None:
    """Poll (bounded) until no server holds a client connection older than the new
    password: the runner's own check (Rotation.old_connections)."""
    runner = rotation(topo, sm)
    clients = runner.servers.require_all([password])
    deadline = time.monotonic() + MOVE_TIMEOUT_S
    try:
        while runner.old_connections(clients, since(sm)):
            if time.monotonic() > deadline:
                raise RuntimeError("the clients reading the password file did not reconnect")
            time.sleep(0.02)
    finally:
        for client in clients.values():
            client.close()


def p99_ms(load, start: float, end: float) -> float | None:
    latencies = sorted(a.acked - a.started for a in load.acks if start <= a.started < end)
    if not latencies:
        return None
    return round(1000 * latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))], 2)


def window(clients: Apps, phase, min_s: float = MIN_WINDOW_S) -> dict:
    """Run `phase()` under the clients, then as long again with nothing happening."""
    start = time.monotonic()
    phase()
    took = time.monotonic() - start
    end = max(start + took, start + min_s)
    time.sleep(max(0.0, end - time.monotonic()) + (end - start))
    after = end + (end - start)
    out = {}
    for name, load in clients.loads.items():
        out[name] = {
            "phase_s": round(took, 3),
            "window_s": round(end - start, 3),
            "stall_s": round(load.longest_gap(start, end), 3),
            "baseline_stall_s": round(load.longest_gap(end, after), 3),
            "p99_ms": p99_ms(load, start, end),
            "baseline_p99_ms": p99_ms(load, end, after),
            "errors": sum(1 for at, _ in load.error_times if start <= at < end),
        }
    return out


def one_run(topo, sm, n: int) -> dict:
    current = json.loads(
        sm.get_secret_value(SecretId=NAME, VersionStage="AWSCURRENT")["SecretString"]
    )
    old = current[KEY]
    results = {}
    before = Apps(topo, f"bench-rotation-{n}-old").start()
    try:
        results["rotate"] = window(before, lambda: rotation(topo, sm).run(max_steps=2))
        new = json.loads(
            sm.get_secret_value(SecretId=NAME, VersionStage="AWSCURRENT")["SecretString"]
        )[KEY]
        topo.set_secret(new, old)  # the delivery refreshed; the apps roll
        time.sleep(2)  # the runner tells old connections by age, in whole seconds
        after = Apps(topo, f"bench-rotation-{n}-new").start()
    finally:
        before.stop()
    try:
        results["retire"] = window(after, lambda: rotation(topo, sm).run(max_steps=1))
    finally:
        after.stop()
    topo.set_secret(new, "")

    results.update(reload_run(topo, sm, n, new, Apps))
    return results


def reload_run(topo, sm, n: int, new: str, apps) -> dict:
    """The same rotation under clients that read their mounted Secret: no roll."""
    results = {}
    volume = SecretVolume(topo.workdir / f"bench-rotation-{n}-secret")
    volume.write(new)
    reloading = apps(topo, f"bench-rotation-{n}-file", volume.path).start()
    try:
        rotation(topo, sm).run(max_steps=2)
        newer = json.loads(
            sm.get_secret_value(SecretId=NAME, VersionStage="AWSCURRENT")["SecretString"]
        )[KEY]
        topo.set_secret(newer, new)
        time.sleep(2)  # as above: connections made now are unmistakably newer

        def reload() -> None:
            volume.write(newer)  # the kubelet refreshes the mount
            wait_until_moved(topo, sm, newer)

        results["reload"] = window(reloading, reload)
        results["retire-reloaded"] = window(reloading, lambda: rotation(topo, sm).run(max_steps=1))
    finally:
        reloading.stop()
    topo.set_secret(newer, "")
    return results


@contextmanager
def running_cluster(repo: Path):
    """A bootstrapped, ready LocalCluster of `repo`; closed on exit."""
    with (
        tempfile.TemporaryDirectory(prefix="bench-rotation-cluster-") as work,
        LocalCluster(repo, Path(work), node_timeout_ms=1000) as cluster,
    ):
        formed = cluster.bootstrap(timeout_s=60)
        if formed.returncode != 0:
            raise RuntimeError(f"the generated bootstrap failed: {formed.stderr[-500:]}")
        cluster.wait_until_ready(60)
        yield cluster


def measure(runs: int, engine: str, topology: str = "sentinel") -> list[dict]:
    rows = []
    cluster = topology == "cluster"
    answers = {"engine": engine} | (
        {"topology": "cluster"} if cluster else {"client_languages": ["python", "node"]}
    )
    with (
        generated_repo(answers) as repo,
        running_cluster(repo) if cluster else running_topology(repo) as topo,
        secrets_manager() as sm,
    ):
        sm.create_secret(
            Name=NAME, SecretString=json.dumps({KEY: topo.password, f"{KEY}_previous": ""})
        )
        per_run = []
        for n in range(runs):
            log(f"rotation ({engine}, {topology}): run {n + 1}/{runs}")
            if cluster:
                per_run.append(reload_run(topo, sm, n, topo.password, ClusterApp))
            else:
                per_run.append(one_run(topo, sm, n))
        for phase in CLUSTER_PHASES if cluster else PHASES:
            for client in ("python",) if cluster else CLIENTS:
                cells = [r[phase][client] for r in per_run]

                def med(field, cells=cells):
                    values = [c[field] for c in cells if c[field] is not None]
                    return round(median(values), 3) if values else None

                rows.append(
                    {
                        "topology": topology,
                        "engine": engine,
                        "phase": phase,
                        "client": client,
                        "runs": runs,
                        "median_phase_s": med("phase_s"),
                        "median_stall_s": med("stall_s"),
                        "median_baseline_stall_s": med("baseline_stall_s"),
                        "median_p99_ms": med("p99_ms"),
                        "median_baseline_p99_ms": med("baseline_p99_ms"),
                        "errors": sum(c["errors"] for c in cells),
                    }
                )
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks rotation")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--engine", choices=["redis", "valkey"], action="append")
    parser.add_argument("--topology", choices=["sentinel", "cluster"], default="sentinel")
    args, _ = parser.parse_known_args(argv)
    results = [r for e in (args.engine or ["redis"]) for r in measure(args.runs, e, args.topology)]
    emit(
        "rotation",
        {"results": results},
        [
            "engine",
            "phase",
            "client",
            "phase took (s)",
            "stall (s)",
            "baseline stall (s)",
            "p99 (ms)",
            "baseline p99 (ms)",
            "errors",
        ],
        [
            [
                r["engine"],
                r["phase"],
                r["client"],
                r["median_phase_s"],
                r["median_stall_s"],
                r["median_baseline_stall_s"],
                r["median_p99_ms"],
                r["median_baseline_p99_ms"],
                r["errors"],
            ]
            for r in results
        ],
    )
    return 0
