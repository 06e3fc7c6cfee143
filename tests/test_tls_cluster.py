"""Encryption in transit on loopback: the generated Redis Cluster with `tls: yes`.

Story: a team generates a Cluster repository with TLS and runs it on loopback (its own
config/, start and bootstrap scripts; each "pod" with a certificate of a CA made here,
mounted as TLS_DIR, as cert-manager's Secret is). One cluster, one story:
the generated bootstrap forms it over TLS (redis-cli --cluster create with --tls); no
client port and no bus port answers in plaintext (tls-cluster yes); the generated
cluster client writes and reads over TLS with the hostname check on; `cluster check`
passes with the CA and fails in one line with exit 38 with another CA. The team asks
for mutual TLS (`tls_auth_clients: yes`): a TLS connection without a client certificate
is refused, while the client and the check present one of the CA (as the app's team
mounts one: REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE, or --tls-cert/--tls-key). A master
SIGKILL: its replica takes over (the bus elects it over TLS) and the client keeps
writing, no WAIT-confirmed write lost.

Engine: Debian's redis-server 7.0 only (tests/test_tls.py says why not valkey).
"""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time

import pytest
import redis

from redis_scaffold.sandbox.cluster import LocalCluster
from redis_scaffold.sandbox.load import ClusterWriteLoad
from redis_scaffold.sandbox.tls import CertificateAuthority
from tests.fixtures.topology import generate_repo

pytestmark = pytest.mark.slow

NODE_TIMEOUT_MS = 1000
READY_S = 30
RECOVERY_S = 60
ACKS = 30


def _plain_refused(host: str, port: int, password: str) -> bool:
    plain = redis.Redis(
        host, port, password=password, socket_timeout=0.5, socket_connect_timeout=0.5, retry=None
    )
    try:
        with plain:
            plain.ping()
    except (redis.ConnectionError, redis.TimeoutError):
        return True
    return False


def _refused_without_a_client_certificate(host: str, port: int, password: str, ca) -> bool:
    """TLS with the CA and the password, but no certificate of our own."""
    anonymous = redis.Redis(
        host, port, password=password, ssl=True, ssl_ca_certs=str(ca), ssl_check_hostname=True,
        socket_timeout=2, socket_connect_timeout=2, retry=None,
    )  # fmt: skip
    try:
        with anonymous:
            anonymous.ping()
    except (redis.ConnectionError, redis.TimeoutError):
        return True
    return False


def _bus_handshakes_tls(host: str, port: int, ca) -> bool:
    """The bus completes a TLS handshake with the node's certificate (tls-cluster yes: a
    plaintext bus would not answer a ClientHello with one)."""
    context = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection((host, port), timeout=2) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            return tls.version() is not None


def _check(cluster, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "REDIS_TLS_CA_FILE"}
    env["REDIS_PASSWORD"] = cluster.password
    seeds = [f"--seed={n.host}:{n.redis_port}" for n in cluster.nodes[:2]]
    return subprocess.run(
        [sys.executable, "-m", "redis_scaffold", "cluster", "check", str(cluster.repo)]
        + [*seeds, "--strict", "--timeout=10", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_tls_cluster_forms_serves_is_checked_and_fails_over(template_src, tmp_path):
    answers = {"topology": "cluster", "tls": True, "tls_issuer": "Issuer/redis-ca"}
    answers |= {"customise": True, "tls_auth_clients": "yes"}  # mutual TLS
    repo = generate_repo(template_src, tmp_path / "svc", answers)
    with LocalCluster(repo, tmp_path / "cluster", node_timeout_ms=NODE_TIMEOUT_MS) as cluster:
        formed = cluster.bootstrap(timeout_s=30)
        assert formed.returncode == 0, formed.stderr
        cluster.wait_until_ready(READY_S)

        node = cluster.nodes[0]
        assert _plain_refused(node.host, node.redis_port, cluster.password)
        assert _bus_handshakes_tls(node.host, node.bus_port, cluster.tls_ca.cert)

        assert _refused_without_a_client_certificate(
            node.host, node.redis_port, cluster.password, cluster.tls_ca.cert
        )
        mine = cluster.tls  # the app's certificate: the servers ask for one
        assert mine.cert and mine.key
        ok = _check(
            cluster, f"--tls-ca={mine.ca}", f"--tls-cert={mine.cert}", f"--tls-key={mine.key}"
        )
        assert ok.returncode == 0, ok.stdout + ok.stderr
        other = CertificateAuthority.create(tmp_path / "other-ca", "/CN=another CA")
        wrong = _check(cluster, f"--tls-ca={other.cert}")
        assert wrong.returncode == 38, wrong.stdout + wrong.stderr
        assert len(wrong.stderr.strip().splitlines()) == 1 and "not trusted" in wrong.stderr
        for done in (ok, wrong):
            assert cluster.password not in done.stdout + done.stderr

        app = cluster.app()
        replicas = cluster.rendered.replicas_per_master
        old = cluster.masters()[0]
        old_id = cluster.view(old)["me"]["id"]
        successor = next(n for n in cluster.nodes if cluster.view(n)["me"]["master"] == old_id)
        with ClusterWriteLoad(app, "tls-sigkill", wait_replicas=replicas) as load:
            assert load.wait_for_acks(ACKS, after=0, timeout=RECOVERY_S), dict(load.errors)
            killed_at = time.monotonic()
            cluster.kill(old, signal.SIGKILL)
            cluster.wait_until(
                lambda: cluster.status()[successor.host].role == "master",
                RECOVERY_S,
                "the killed master's replica promoted",
            )
            assert load.wait_for_acks(ACKS, after=killed_at, timeout=RECOVERY_S), dict(load.errors)
        assert len(load.confirmed) > ACKS
        assert load.missing(app, load.confirmed) == [], "confirmed writes lost"
