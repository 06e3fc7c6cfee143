"""Benchmark 2, read spread: the share of reads each pod serves on the 6379 read path.

In Kubernetes, reader() (the GENERATED client snippet) connects to REDIS_HOST:6379, the
ClusterIP Service that selects every ready pod, the master included; kube-proxy picks
an endpoint per CONNECTION (iptables mode: uniformly at random; IPVS: round robin), and
every request on that connection goes to the same pod. There is no kube-proxy on
loopback, so this benchmark puts a small TCP forwarder in its place (ServiceEmulator):
it picks a ready pod uniformly at random for each new connection, as iptables mode
does, and forwards bytes unchanged. Readiness is the generated readiness probe
(health-redis.sh readiness), run once per pod before the measurement.

What is measured is therefore the snippet's connection behaviour under that emulated
Service: the reads each pod actually served (the `cmdstat_get` counter of each
redis-server, before and after), in three app shapes:
  instances     --instances app instances (processes), each one reader() doing --reads GETs
  one client    one long-lived reader() in one thread (one pooled connection)
  threads       one reader() shared by 8 threads (its pool opens 8 connections)
It is not a measurement of a real cluster's balancing (other kube-proxy modes, or
connection reuse across requests, change it): see docs/performance.md.
"""

from __future__ import annotations

import argparse
import random
import selectors
import socket
import subprocess
import sys
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from benchmarks import emit, log
from benchmarks.harness import generated_repo, running_topology

KEY = "bench:read-spread"


class ServiceEmulator:
    """A ClusterIP Service stand-in: a random ready endpoint per accepted connection."""

    def __init__(self, endpoints: list[tuple[str, int]], seed: int | None = None):
        self.endpoints = endpoints
        self.rng = random.Random(seed)
        self.connections: Counter = Counter()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.address = self._listener.getsockname()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ServiceEmulator:
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stopped.set()
        self._listener.close()
        self._thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return
            endpoint = self.rng.choice(self.endpoints)
            self.connections[endpoint[0]] += 1
            threading.Thread(target=self._pump, args=(conn, endpoint), daemon=True).start()

    @staticmethod
    def _pump(client: socket.socket, endpoint: tuple[str, int]) -> None:
        try:
            upstream = socket.create_connection(endpoint, timeout=5)
        except OSError:
            client.close()
            return
        sel = selectors.DefaultSelector()
        sel.register(client, selectors.EVENT_READ, upstream)
        sel.register(upstream, selectors.EVENT_READ, client)
        try:
            while True:
                for key, _ in sel.select(timeout=60):
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
        except OSError:
            return
        finally:
            sel.close()
            client.close()
            upstream.close()


def ready_endpoints(topo) -> list[tuple[str, int]]:
    """The pods whose generated readiness probe passes (the Service's endpoints)."""
    ready = []
    for node in topo.nodes:
        probe = subprocess.run(
            ["sh", str(topo.config_dir / "health-redis.sh"), "readiness"],
            env=topo.env(node),
            capture_output=True,
            timeout=10,
        )
        if probe.returncode == 0:
            ready.append(node.redis_address)
    return ready


def get_counts(topo) -> dict[str, int]:
    out = {}
    for node in topo.nodes:
        with topo.client(node) as r:
            out[node.host] = int(r.info("commandstats").get("cmdstat_get", {}).get("calls", 0))
    return out


def served(topo, before: dict[str, int]) -> dict[str, int]:
    after = get_counts(topo)
    return {h: after[h] - before[h] for h in after}


def measure(instances: int, reads: int) -> dict:
    with generated_repo() as repo, running_topology(repo) as topo:
        master_host = topo.master_address()[0]
        with topo.client(topo.node_at(master_host)) as r:
            r.set(KEY, "x")
            r.execute_command("WAIT", len(topo.nodes) - 1, 5000)
        endpoints = ready_endpoints(topo)
        roles = {n.host: ("master" if n.host == master_host else "replica") for n in topo.nodes}
        cases = {}
        with ServiceEmulator(endpoints) as service:
            # The Service's address in place of the pods' (REDIS_HOST:REDIS_READ_PORT).
            app = topo.app().with_env(
                REDIS_HOST=service.address[0], REDIS_READ_PORT=str(service.address[1])
            )

            log(f"read spread: {instances} app instances x {reads} reads")
            before = get_counts(topo)
            for _ in range(instances):
                r = app.reader()
                for _ in range(reads):
                    r.get(KEY)
                r.close()
            cases["instances"] = served(topo, before)

            log(f"read spread: one client, {instances * reads} reads")
            before = get_counts(topo)
            r = app.reader()
            for _ in range(instances * reads):
                r.get(KEY)
            r.close()
            cases["one client"] = served(topo, before)

            log(f"read spread: one client, 8 threads, {instances * reads} reads")
            before = get_counts(topo)
            r = app.reader()
            per_thread = instances * reads // 8
            with ThreadPoolExecutor(8) as pool:
                list(pool.map(lambda _: [r.get(KEY) for _ in range(per_thread)], range(8)))
            r.close()
            cases["threads"] = served(topo, before)
            connections = dict(service.connections)

    shares = {
        case: {h: round(n / max(1, sum(c.values())), 3) for h, n in c.items()}
        for case, c in cases.items()
    }
    return {
        "pods": {h: roles[h] for h in roles},
        "endpoints": len(endpoints),
        "instances": instances,
        "reads_per_instance": reads,
        "reads": cases,
        "shares": shares,
        "connections_per_pod": connections,
        "even_share": round(1 / len(roles), 3),
        "max_deviation_instances": round(
            max(abs(s - 1 / len(roles)) for s in shares["instances"].values()), 3
        ),
    }


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks read_spread")
    parser.add_argument("--instances", type=int, default=60)
    parser.add_argument("--reads", type=int, default=100)
    args, _ = parser.parse_known_args(argv)
    r = measure(args.instances, args.reads)
    hosts = list(r["pods"])
    emit(
        "read_spread",
        r,
        ["app shape", *(f"{h} ({r['pods'][h]})" for h in hosts)],
        [[case, *(f"{r['shares'][case][h]:.1%}" for h in hosts)] for case in r["shares"]],
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
