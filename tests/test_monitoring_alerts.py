"""The generated alert rules, proven against real failures (monitoring: prometheus-operator).

Story: a team answers `monitoring: prometheus-operator`. On loopback, its generated Redis
Sentinel (both engines) and Redis Cluster run as real processes; next to each pod run
Debian's prometheus-redis-exporter with exactly the env of the generated exporter
containers (the password from the Secret's key, nothing on a command line), and one
real Prometheus per topology scrapes them with the targets and labels the generated
PodMonitor gives (namespace, pod, container) and evaluates the generated rules.yml.
Then:

- steady state: no alert is pending or firing;
- the Sentinel master is SIGKILLed: SentinelFailover fires; once the pod is back (as
  Kubernetes restarts it) every alert clears, RedisNoMaster included;
- a replica is SIGSTOPped: RedisReplicationLag fires for it; SIGCONT, and it clears;
- two sentinels are killed: SentinelQuorumUnreachable fires; restarted, it clears;
- a Cluster master is SIGKILLed: RedisClusterStateNotOk fires and clears after the
  promotion and the pod's return;
- every metric the rules and the dashboard name is one Prometheus scraped from these
  real exporters.

One set-up for the module: the three topologies, their exporters and Prometheus start
once, and every story runs on all its subjects at the same time (threads), so the waits
overlap. The repositories are generated with the fast timing as answers (down-after
1000 ms, failover-timeout 2000 ms, cluster-node-timeout 1000 ms), so the rules' `for:`
and windows derive from the same answers as in production (3 s and 6 s here, 30 s and
540 s with the defaults). Prometheus scrapes and evaluates every second. Every wait is a
bounded poll of Prometheus' /api/v1/alerts; nothing asserts how fast anything is.
"""

from __future__ import annotations

import json
import re
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import yaml

from redis_scaffold.sandbox.cluster import LocalCluster
from redis_scaffold.sandbox.sentinel import LocalSentinel
from tests.fixtures.topology import generate_repo

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (shutil.which("prometheus") and shutil.which("prometheus-redis-exporter")),
        reason="needs Debian's prometheus and prometheus-redis-exporter (scripts/bootstrap.sh test)",
    ),
]

FAST = {"customise": True, "monitoring": "prometheus-operator"}
SENTINEL_FAST = FAST | {"down_after_ms": 1000, "failover_timeout_ms": 2000}
CLUSTER_FAST = FAST | {"topology": "cluster", "cluster_node_timeout_ms": 1000}
READY_S = 60
ALERT_S = 90  # bound of every wait for an alert to fire or clear
# Steady state: every `for:` of the fast rules is 3 s and Prometheus evaluates each
# second, so an alert that the healthy topology set off would be pending at once and
# firing within 3 s; 10 s watches three times that.
STEADY_S = 10
EXPORTER_CONTAINERS = ("redis-exporter", "sentinel-exporter")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_all(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


class Stack:
    """A loopback topology, an exporter per generated exporter container and pod, and a
    Prometheus that scrapes them as the PodMonitor says and evaluates rules.yml."""

    def __init__(self, name: str, repo: Path, topo, workdir: Path) -> None:
        self.name, self.repo, self.topo, self.workdir = name, repo, topo, workdir
        self.procs: list[subprocess.Popen] = []
        self.port = free_port()
        workdir.mkdir(parents=True, exist_ok=True)

    # -------------------------------------------------------------- from the repo
    def exporter_containers(self) -> dict[str, dict]:
        (sts,) = [
            d
            for d in load_all(self.repo / "manifest/redis/base/statefulset.yaml")
            if d["kind"] == "StatefulSet"
        ]
        self.statefulset = sts
        containers = sts["spec"]["template"]["spec"]["containers"]
        return {c["name"]: c for c in containers if c["name"] in EXPORTER_CONTAINERS}

    def exporter_env(self, container: dict, host: str) -> dict[str, str]:
        """The container's env on this "pod": the Secret's key is the password, the pod's
        own loopback address is the node's."""
        assert "args" not in container and "command" not in container, container["name"]
        env = {}
        for item in container["env"]:
            if "valueFrom" in item:
                ref = item["valueFrom"]["secretKeyRef"]
                assert item["name"] == "REDIS_PASSWORD", item
                assert ref["name"] == self.statefulset["metadata"]["name"], ref
                env[item["name"]] = self.topo.password
            else:
                env[item["name"]] = item["value"]
        addr = re.fullmatch(r"redis://127\.0\.0\.1:(\d+)", env["REDIS_ADDR"])
        assert addr, env["REDIS_ADDR"]
        env["REDIS_ADDR"] = f"redis://{host}:{addr.group(1)}"
        env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"] = host + env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"]
        return env

    def start(self) -> Stack:
        containers = self.exporter_containers()
        pod_prefix = self.statefulset["metadata"]["name"]
        namespace = yaml.safe_load(
            (self.repo / "manifest/redis/base/kustomization.yaml").read_text()
        )["namespace"]
        by_port = {
            p["name"]: (c["name"], p["containerPort"])
            for c in containers.values()
            for p in c["ports"]
        }
        (monitor,) = load_all(self.repo / "manifest/monitoring/podmonitor.yaml")
        scrape_configs = []
        for i, endpoint in enumerate(monitor["spec"]["podMetricsEndpoints"]):
            container, port = by_port[endpoint["port"]]
            targets = []
            for node in self.topo.nodes:
                env = self.exporter_env(containers[container], node.host)
                log = open(self.workdir / f"{container}-{node.index}.log", "w")  # noqa: SIM115
                self.procs.append(
                    subprocess.Popen(
                        ["prometheus-redis-exporter"],
                        env={"PATH": "/usr/bin:/bin"} | env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                    )
                )
                targets.append(
                    {
                        "targets": [f"{node.host}:{port}"],
                        "labels": {
                            "namespace": namespace,
                            "pod": f"{pod_prefix}-{node.index}",
                            "container": container,
                            "endpoint": endpoint["port"],
                        },
                    }
                )
            # prometheus-operator's job name for a PodMonitor endpoint.
            name = monitor["metadata"]["name"]
            scrape_configs.append(
                {
                    "job_name": f"podMonitor/{namespace}/{name}/{i}",
                    "scrape_interval": "1s",
                    "scrape_timeout": "1s",
                    "static_configs": targets,
                }
            )
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(self.repo / "manifest/monitoring/rules.yml")],
            "scrape_configs": scrape_configs,
        }
        config_path = self.workdir / "prometheus.yml"
        config_path.write_text(yaml.safe_dump(config))
        log = open(self.workdir / "prometheus.log", "w")  # noqa: SIM115
        self.procs.append(
            subprocess.Popen(
                [
                    "prometheus",
                    f"--config.file={config_path}",
                    f"--storage.tsdb.path={self.workdir / 'tsdb'}",
                    f"--web.listen-address=127.0.0.1:{self.port}",
                    "--log.level=warn",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
        self.targets = sum(len(c["static_configs"]) for c in scrape_configs)
        return self

    def stop(self) -> None:
        for proc in self.procs:
            proc.terminate()
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    # ------------------------------------------------------------- Prometheus
    def api(self, path: str):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/api/v1/{path}", timeout=5) as r:
            body = json.load(r)
        assert body["status"] == "success", body
        return body["data"]

    def alerts(self) -> list[dict]:
        try:
            return self.api("alerts")["alerts"]
        except OSError:
            return []

    def firing(self, name: str) -> list[dict]:
        return [
            a for a in self.alerts() if a["labels"]["alertname"] == name and a["state"] == "firing"
        ]

    def active(self) -> list[str]:
        return sorted(f"{a['labels']['alertname']}({a['state']})" for a in self.alerts())

    def all_up(self) -> bool:
        try:
            targets = self.api("targets?state=active")["activeTargets"]
        except OSError:
            return False
        return len(targets) == self.targets and all(t["health"] == "up" for t in targets)

    def wait(self, predicate: Callable[[], object], what: str, timeout: float = ALERT_S):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = predicate()
            if found:
                return found
            time.sleep(0.5)
        pytest.fail(f"{self.name}: {what} within {timeout:.0f} s; active alerts: {self.active()}")

    def wait_quiet(self) -> None:
        """Every target up (rules evaluated on complete data) and no alert at all."""
        self.wait(self.all_up, "every exporter scraped and up", READY_S)
        self.wait(lambda: not self.alerts(), "no alert pending or firing")


# The stories' threads live as long as the topologies: a process started from a thread
# gets SIGTERM when that thread ends (the sandbox's PR_SET_PDEATHSIG), so a pod
# restarted by a story must not outlive its thread.
POOL = ThreadPoolExecutor(3, thread_name_prefix="story")


def for_each(stacks: list[Stack], story: Callable[[Stack], None]) -> None:
    """Run `story` on every stack at once; fail with every stack's failure."""
    futures = [POOL.submit(story, s) for s in stacks]
    for f in futures:
        f.exception()  # wait for every one
    errors = [
        f"{s.name}: {f.exception()}" for s, f in zip(stacks, futures, strict=True) if f.exception()
    ]
    assert not errors, "\n".join(errors)


@pytest.fixture(scope="module")
def stacks(template_src, tmp_path_factory):
    """Sentinel (redis, valkey) and Cluster (redis), started and ready, once per module."""
    base = tmp_path_factory.mktemp("monitoring-alerts")
    started: list[Stack] = []
    topologies = []
    try:
        for engine in ("redis", "valkey"):
            repo = generate_repo(
                template_src, base / f"sentinel-{engine}", SENTINEL_FAST | {"engine": engine}
            )
            topo = LocalSentinel(
                repo, base / f"topo-{engine}", down_after_ms=1000, failover_timeout_ms=2000
            )
            topologies.append(topo)
            topo.start()
            started.append(Stack(f"sentinel-{engine}", repo, topo, base / f"stack-{engine}"))
        repo = generate_repo(template_src, base / "cluster", CLUSTER_FAST)
        cluster = LocalCluster(repo, base / "topo-cluster", node_timeout_ms=1000)
        topologies.append(cluster)
        cluster.start()
        formed = cluster.bootstrap(timeout_s=30)
        assert formed.returncode == 0, formed.stderr
        started.append(Stack("cluster", repo, cluster, base / "stack-cluster"))
        for stack in started:
            stack.topo.wait_until_ready(READY_S)
            # One error reply, so the exporter has errorstats (redis_errors_total) to show.
            with (
                stack.topo.client(stack.topo.nodes[0]) as client,
                pytest.raises(redis.ResponseError),
            ):
                client.execute_command("NO-SUCH-COMMAND")
            stack.start()
        for_each(started, Stack.wait_quiet)
        yield started
    finally:
        for stack in started:
            stack.stop()
        for topo in topologies:
            topo.close()
        POOL.shutdown()


def sentinels(stacks: list[Stack]) -> list[Stack]:
    return [s for s in stacks if s.name.startswith("sentinel")]


def test_steady_state_raises_no_alert(stacks):
    def watch(stack: Stack) -> None:
        deadline = time.monotonic() + STEADY_S
        while time.monotonic() < deadline:
            assert stack.all_up(), "an exporter is down in steady state"
            assert not stack.alerts(), f"alerts in steady state: {stack.active()}"
            time.sleep(0.5)

    for_each(stacks, watch)


def test_master_killed_failover_alert_fires_and_every_alert_clears(stacks):
    def sentinel_story(stack: Stack) -> None:
        topo = stack.topo
        old = topo.node_at(topo.master_address()[0])
        topo.kill(old)
        fired = stack.wait(lambda: stack.firing("SentinelFailover"), "SentinelFailover firing")
        assert fired[0]["labels"]["master_name"] == topo.master_set
        topo.wait_until(lambda: topo.master_address()[0] != old.host, READY_S, "a new master")
        topo.restart(old)  # as the kubelet restarts the container
        topo.wait_until_ready(READY_S)
        # RedisNoMaster, RedisDown of the old pod, and the failover's own alert all end.
        stack.wait(lambda: not stack.alerts(), "every alert cleared after the failover")

    def cluster_story(stack: Stack) -> None:
        cluster = stack.topo
        master = cluster.masters()[0]
        cluster.kill(master)
        stack.wait(lambda: stack.firing("RedisClusterStateNotOk"), "RedisClusterStateNotOk firing")
        cluster.wait_until(lambda: master not in cluster.masters(), READY_S, "a replica promoted")
        cluster.restart(master)
        cluster.wait_until_ready(READY_S)
        stack.wait(lambda: not stack.alerts(), "every alert cleared after the promotion")

    for_each(stacks, lambda s: cluster_story(s) if s.name == "cluster" else sentinel_story(s))


def test_stopped_replica_raises_replication_lag(stacks):
    def story(stack: Stack) -> None:
        topo = stack.topo
        master = topo.master_address()[0]
        replica = next(n for n in topo.nodes if n.host != master)
        topo.kill(replica, signal.SIGSTOP)
        try:
            fired = stack.wait(
                lambda: [
                    a
                    for a in stack.firing("RedisReplicationLag")
                    if a["labels"]["slave_ip"] == replica.host
                ],
                f"RedisReplicationLag firing for {replica.host}",
            )
            assert fired[0]["labels"]["pod"].endswith(f"-{topo.node_at(master).index}")
        finally:
            topo.kill(replica, signal.SIGCONT)
        topo.wait_until_ready(READY_S)
        stack.wait(lambda: not stack.alerts(), "every alert cleared after the replica resumed")

    for_each(sentinels(stacks), story)


def test_two_sentinels_down_raise_the_quorum_alert(stacks):
    def story(stack: Stack) -> None:
        topo = stack.topo
        down = topo.nodes[:2]
        for node in down:
            topo.kill(node, role="sentinel")
        try:
            stack.wait(
                lambda: stack.firing("SentinelQuorumUnreachable"),
                "SentinelQuorumUnreachable firing",
            )
        finally:
            for node in down:
                topo.restart(node, role="sentinel")
        topo.wait_until_ready(READY_S)
        stack.wait(lambda: not stack.alerts(), "every alert cleared after the sentinels returned")

    for_each(sentinels(stacks), story)


METRIC = re.compile(r"\b(redis_[a-z_]+)\b")


def test_rules_and_dashboard_name_only_metrics_the_exporter_exposes(stacks):
    """Every metric a rule or a dashboard query names is one Prometheus scraped from
    the real exporters of that topology (after the stories: replicas, sentinels and a
    cluster all reported)."""
    for stack in stacks:
        scraped = set(stack.api("label/__name__/values"))
        monitoring = stack.repo / "manifest/monitoring"
        rules = yaml.safe_load((monitoring / "rules.yml").read_text())
        exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
        dashboard = json.loads((monitoring / "dashboard.json").read_text())
        queries = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        assert queries, "the dashboard has queries"
        named = {m for e in exprs + queries for m in METRIC.findall(e)}
        assert named - scraped == set(), f"{stack.name}: not exposed: {sorted(named - scraped)}"


def test_no_exporter_or_prometheus_log_holds_the_password(stacks):
    for stack in stacks:
        for log in stack.workdir.glob("*.log"):
            assert stack.topo.password not in log.read_text(errors="replace"), log.name
