"""`topology: cluster`: what copier generates, rendered by kubectl kustomize and validated
against the strict Kubernetes schemas; the answers copier refuses; what the docs say.

The generated cluster running for real is tests/test_cluster.py.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from redis_scaffold.project import read_answers
from tests.test_manifests import (
    add_app_without_env,
    conf_lines,
    kustomize,
    one,
    validate_strictly,
)

CASES = {
    "defaults": {},
    # Valkey, 4 masters x 2 replicas, other ports, External Secrets with its own store.
    "tuned-eso": {
        "engine": "valkey",
        "customise": True,
        "cluster_masters": 4,
        "cluster_replicas": 2,
        "cluster_node_timeout_ms": 5000,
        "redis_port": 7000,
        "cluster_bus_port": 17100,
        "secret_delivery": "external-secrets",
        "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.eu-west-1.amazonaws.com/id/ABC",
        "service_name": "orders",
    },
}


@pytest.mark.parametrize("answers", CASES.values(), ids=CASES.keys())
def test_every_kustomization_renders_valid_cluster_manifests(generate, answers):
    repo = generate({"topology": "cluster"} | answers)
    add_app_without_env(repo)
    masters = answers.get("cluster_masters", 3)
    replicas = answers.get("cluster_replicas", 1)
    pods = masters * (replicas + 1)
    port = answers.get("redis_port", 6379)
    bus = answers.get("cluster_bus_port", 16379)
    name = f"{answers.get('service_name', 'shopping-cart')}-redis"

    roots = {}
    for path in sorted(repo.rglob("kustomization.yaml")):
        if yaml.safe_load(path.read_text())["kind"] == "Component":
            continue
        objs = kustomize(path.parent)
        validate_strictly(objs, str(path.relative_to(repo)))
        roots[path.parent.relative_to(repo).as_posix()] = objs
    base = roots["manifest/redis/base"]

    # No Sentinel anywhere: one container per pod, no sentinel port or config.
    rendered = yaml.safe_dump_all([o for objs in roots.values() for o in objs])
    assert "sentinel" not in rendered.lower()

    sts = one(base, "StatefulSet", name)
    assert sts["spec"]["replicas"] == pods
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    pod = sts["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert ports == {"redis": port, "cluster-bus": bus}
    env = {e["name"]: e for e in container["env"]}
    assert len(env["PEER_HOSTS"]["value"].split()) == pods
    assert env["ANNOUNCE_IP"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    assert env["SERVER_COMMAND"]["value"] == f"{answers.get('engine', 'redis')}-server"
    # The Sentinel topology's hardening, shared: non-root UID 10001, read-only, no token.
    assert (
        pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["fsGroup"] == 10001
    )
    assert pod["automountServiceAccountToken"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"startupProbe", "livenessProbe", "readinessProbe"} <= container.keys()
    assert container["lifecycle"]["preStop"]["exec"]["command"] == ["sh", "/config/pre-stop.sh"]
    assert pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]

    # Losing one pod at a time never loses a slot; the bus is open between the pods only.
    assert one(base, "PodDisruptionBudget")["spec"] == {
        "maxUnavailable": 1,
        "selector": sts["spec"]["selector"],
    }
    ingress = one(base, "NetworkPolicy", name)["spec"]["ingress"]
    # The bootstrap pod accepts nothing.
    assert one(base, "NetworkPolicy", f"{name}-bootstrap")["spec"]["policyTypes"] == ["Ingress"]
    assert "ingress" not in one(base, "NetworkPolicy", f"{name}-bootstrap")["spec"]
    assert [[p["port"] for p in rule["ports"]] for rule in ingress] == [[port], [port, bus]]
    assert "namespaceSelector" not in ingress[1]["from"][0]

    # The bootstrap Job: the same image and hardening, the replicas per master.
    job = one(base, "Job", f"{name}-bootstrap")
    (boot,) = job["spec"]["template"]["spec"]["containers"]
    assert boot["image"] == container["image"]
    assert boot["command"] == ["sh", "/config/bootstrap-cluster.sh"]
    boot_env = {e["name"]: e.get("value") for e in boot["env"]}
    assert boot_env["CLUSTER_REPLICAS"] == str(replicas)
    assert boot_env["PEER_HOSTS"] == env["PEER_HOSTS"]["value"]
    assert job["spec"]["template"]["spec"]["securityContext"]["runAsNonRoot"] is True

    conf = (repo / "manifest/redis/base/config/redis.conf").read_text()
    lines = {words[0]: words[1:] for words in conf_lines(conf)}
    assert lines["cluster-enabled"] == ["yes"]
    assert lines["cluster-config-file"] == ["nodes.conf"]
    assert lines["cluster-preferred-endpoint-type"] == ["hostname"]
    assert lines["cluster-node-timeout"] == [str(answers.get("cluster_node_timeout_ms", 15000))]
    assert lines["cluster-port"] == [str(bus)]

    # The app gets the seed, the port and the password (env and file); nothing of Sentinel's.
    (app,) = [o for o in roots["manifest/examples/app-without-env"] if o["kind"] == "Deployment"]
    (container,) = app["spec"]["template"]["spec"]["containers"]
    app_env = {e["name"]: e for e in container["env"]}
    assert set(app_env) == {"REDIS_HOST", "REDIS_PORT", "REDIS_PASSWORD", "REDIS_PASSWORD_FILE"}
    # The Secret mounted as a file the kubelet refreshes (no subPath): the client follows
    # a rotation without a restart.
    assert app_env["REDIS_PASSWORD_FILE"]["value"] == "/etc/redis-password/password"
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "redis-password"]
    assert mount == {"name": "redis-password", "mountPath": "/etc/redis-password", "readOnly": True}
    volumes = {v["name"]: v for v in app["spec"]["template"]["spec"]["volumes"]}
    assert volumes["redis-password"]["secret"] == {
        "secretName": name,
        "items": [{"key": answers.get("secret_key", "db-password"), "path": "password"}],
    }


def test_readme_catalog_and_client_speak_of_redis_cluster(generate):
    repo = generate({"topology": "cluster"})
    readme = (repo / "README.md").read_text()
    assert readme.startswith("# shopping-cart-redis: Redis Cluster for shopping-cart")
    # Sentinel is named only to say there is none, and when it is the simpler choice.
    assert readme.count("Sentinel") == 2, [ln for ln in readme.splitlines() if "Sentinel" in ln]
    assert "There is no Sentinel" in readme and "Redis Sentinel is simpler" in readme
    catalog = list(yaml.safe_load_all((repo / "catalog-info.yaml").read_text()))
    resource = next(d for d in catalog if d["kind"] == "Resource")
    assert resource["spec"]["type"] == "redis-cluster"
    assert "sentinel" not in (repo / "catalog-info.yaml").read_text().lower()
    makefile = (repo / "Makefile").read_text()
    assert "redis-scaffold cluster check" in makefile and "sentinel" not in makefile
    workflow = (repo / ".github/workflows/provision.yml").read_text()
    assert "redis-scaffold cluster check" in workflow and "sentinel" not in workflow.lower()
    client = (repo / "client/python/redis_client.py").read_text()
    assert "RedisCluster" in client and "Sentinel" not in client
    compile(client, "redis_client.py", "exec")
    requirements = (repo / "client/python/requirements.txt").read_text()
    assert "redis>=6.0,<9" in requirements and "Sentinel" not in requirements
    client_readme = (repo / "client/python/README.md").read_text()
    assert "RedisCluster" in client_readme and "Sentinel" not in client_readme
    assert "REDIS_PASSWORD_FILE" in client_readme and "redis-service-client @ git+" in client_readme
    assert "redis-service-client @ git+" in requirements
    assert "\nclient-requirement:" in makefile
    assert (
        "hooks-requirement.py --client" in makefile
        and "-r client/python/requirements.txt" in makefile
    )


def test_the_cluster_adapter_reads_the_password_file_through_the_library(generate, tmp_path):
    """REDIS_PASSWORD_FILE set: the generated RedisCluster adapter signs in through the
    library's PasswordFile (the one implementation), which re-reads the file when the
    kubelet swaps it; the password never shows in the settings' repr nor in an error.
    (Following a rotation under load, on a running cluster: tests/test_rotation.py.)"""
    from redis_service_client import PasswordFile

    from redis_scaffold.sandbox.app import load_client
    from redis_scaffold.sandbox.secret_volume import SecretVolume

    module = load_client(generate({"topology": "cluster"}))
    volume = SecretVolume(tmp_path / "secret")
    volume.write("first-never-shown")
    env = {"REDIS_HOST": "127.0.0.1", "REDIS_PORT": "6379", "REDIS_PASSWORD": "env-never-shown"}
    assert module.settings_from_env(env).credentials() == {"password": "env-never-shown"}
    settings = module.settings_from_env(env | {"REDIS_PASSWORD_FILE": str(volume.path)})
    assert settings.password_file == str(volume.path)
    provider = settings.credentials()["credential_provider"]
    assert isinstance(provider, PasswordFile)
    assert provider.get_credentials() == ("first-never-shown",)
    volume.write("second-never-shown")
    assert provider.check() and provider.get_credentials() == ("second-never-shown",)
    assert "never-shown" not in repr(settings) + repr(provider)
    missing = module.settings_from_env(env | {"REDIS_PASSWORD_FILE": str(tmp_path / "absent")})
    with pytest.raises(RuntimeError, match="REDIS_PASSWORD_FILE: cannot read") as refused:
        missing.credentials()
    assert "never-shown" not in str(refused.value)


BAD_CLUSTER_ANSWERS = [
    ({"cluster_masters": 2}, "cluster_masters", "a majority of masters must survive"),
    ({"cluster_replicas": 0}, "cluster_replicas", "losing any one pod never loses a slot"),
    ({"redis_port": 60000, "cluster_bus_port": 70000}, "cluster_bus_port", "other than redis_port"),
    ({"cluster_bus_port": 6379}, "cluster_bus_port", "must differ from redis_port"),
    ({"cluster_node_timeout_ms": 10}, "cluster_node_timeout_ms", "from 1000 to 600000"),
    ({"redis_version": "6.2.14"}, "redis_version", "release of at least 7.0"),
]


@pytest.mark.parametrize(
    "answers,field,rule", BAD_CLUSTER_ANSWERS, ids=[f"{f}" for _, f, _ in BAD_CLUSTER_ANSWERS]
)
def test_bad_cluster_answers_are_refused_naming_the_field(generate, tmp_path, answers, field, rule):
    with pytest.raises(ValueError) as excinfo:
        generate({"topology": "cluster", "customise": True} | answers, name="rejected")
    message = str(excinfo.value)
    assert f"'{field}'" in message and rule in message
    assert not (tmp_path / "rejected").exists() or not any((tmp_path / "rejected").iterdir())


def test_the_cluster_questions_change_nothing_for_sentinel(generate):
    """They are asked only for topology cluster; for Sentinel they are not recorded."""
    repo = generate({"customise": True, "cluster_masters": 5})
    answers = read_answers(repo)
    assert not {k for k in answers if k.startswith("cluster_") and k != "cluster_domain"}
    assert (repo / "manifest/redis/base/config/sentinel.conf").is_file()


def test_the_copier_cli_refuses_two_masters(template_src, tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            "HEAD",
            "-d",
            "topology=cluster",
            "-d",
            "customise=true",
            "-d",
            "cluster_masters=2",
            str(template_src),
            str(tmp_path / "svc"),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode != 0
    assert (
        "cluster_masters" in result.stderr
        and "must be a whole number from 3 to 12" in result.stderr
    )
