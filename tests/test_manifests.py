"""The generated Kubernetes manifests: every kustomization renders with the real
`kubectl kustomize`, every object passes the Kubernetes 1.31 schemas in strict mode
(an unknown field fails), and the rendered objects have the Sentinel properties.
External Secrets Operator's objects (`external-secrets.io/v1`) pass the OpenAPI schemas
of ESO's own CRDs (tests/data/external-secrets/, vendored), made strict the same way.

Story per answer set: a team generates its repository, renders every kustomization in
it (the Redis base and the sample app wired through both components, plus the same app
whose container had no env yet), and gets a deployable, production-shaped Sentinel,
with its password delivered by argocd-vault-plugin or by External Secrets Operator.
"""

from __future__ import annotations

import copy
import json
import re
import subprocess
from functools import cache
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

K8S_VERSION = "1.31.0"
PLACEHOLDER = r"^<path:[^#<>]+#[^#<>]+>$"
ESO_SCHEMAS = Path(__file__).parent / "data" / "external-secrets"
OIDC_PROVIDER = (
    "arn:aws:iam::123456789012:oidc-provider/"
    "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
)

CASES = {
    "defaults": {},
    "five-pods-elsewhere": {
        "redis_replicas": 5,
        "redis_namespace": "cache",
        "app_namespace": "storefront",
        "storage_class": "gp3-encrypted",
    },
    "renamed-and-limited": {
        "service_name": "orders",
        "app_deployment": "orders-api",
        "app_container": "api",
        "redis_port": 7000,
        "sentinel_port": 27000,
        "redis_cpu_limit": "2",
        "redis_memory_request": "1Gi",
        "redis_memory_limit": "2Gi",
        "cluster_domain": "k8s.example.internal",
        "secret_key": "redis-password",
    },
    # External Secrets Operator with a SecretStore of its own in each namespace (IRSA).
    "external-secrets-own-store": {
        "secret_delivery": "external-secrets",
        "oidc_provider_arn": OIDC_PROVIDER,
        "aws_region": "eu-west-1",
        "redis_namespace": "cache",
        "app_namespace": "storefront",
        "secret_name": "teams/cart/redis",
    },
    # External Secrets Operator through the platform's ClusterSecretStore.
    "external-secrets-cluster-store": {
        "secret_delivery": "external-secrets",
        "secret_store": "aws-secrets-manager",
        "engine": "valkey",
        "service_name": "orders",
        "app_deployment": "orders-api",
        "secret_key": "redis-password",
        "redis_replicas": 5,
    },
}


def expected(answers: dict) -> dict:
    """What the answers should produce, derived here independently of copier.yml."""
    a = {
        "service_name": "shopping-cart",
        "redis_namespace": "redis",
        "redis_replicas": 3,
        "redis_port": 6379,
        "sentinel_port": 26379,
        "storage_class": "",
        "storage_size": "8Gi",
        "redis_cpu_limit": "",
        "redis_memory_limit": "512Mi",
        "cluster_domain": "cluster.local",
        "secret_key": "db-password",
        "secret_delivery": "argocd-vault-plugin",
        "secret_store": "",
        "aws_region": "us-east-1",
        "engine": "redis",
    } | answers
    svc = a["service_name"]
    a.setdefault("secret_name", f"{svc}-redis")
    a.setdefault("app_namespace", svc)
    a.setdefault("app_deployment", svc)
    a.setdefault("app_container", a["app_deployment"])
    name = f"{svc}-redis"
    headless = f"{svc}-redis-headless"
    ns, domain = a["redis_namespace"], a["cluster_domain"]
    mem = {"512Mi": 512 * 2**20, "2Gi": 2 * 2**30}[a["redis_memory_limit"]]
    return a | {
        "name": name,
        "headless": headless,
        "master_set": name,
        "host": f"{name}.{ns}.svc.{domain}",
        "peers": [f"{name}-{i}.{headless}.{ns}.svc.{domain}" for i in range(a["redis_replicas"])],
        "quorum": a["redis_replicas"] // 2 + 1,
        "maxmemory": mem * 3 // 4,
    }


# ------------------------------------------------------------------ helpers
def kustomize(path: Path) -> list[dict]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, f"kubectl kustomize {path}: {out.stderr}"
    return [d for d in yaml.safe_load_all(out.stdout) if d]


# What a kubectl-applied custom object may carry in metadata, and nothing else.
OBJECT_META = {
    "type": "object",
    "required": ["name"],
    "properties": {
        "name": {
            "type": "string",
            "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$",
            "maxLength": 253,
        },
        "namespace": {
            "type": "string",
            "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
            "maxLength": 63,
        },
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "additionalProperties": False,
}


def closed(node):
    """Every object schema that lists its properties refuses others, in place (what a
    structural CRD schema prunes fails here). A Go pattern's inline flag after the anchor
    (`^(?i)...`) moves in front of it, where Python's re wants it (the same language)."""
    if isinstance(node, dict):
        if str(node.get("pattern", "")).startswith("^(?i)"):
            node["pattern"] = "(?i)^" + node["pattern"][5:]
        if (
            node.get("type") == "object"
            and "properties" in node
            and "additionalProperties" not in node
            and not node.get("x-kubernetes-preserve-unknown-fields")
        ):
            node["additionalProperties"] = False
        for value in node.values():
            closed(value)
    elif isinstance(node, list):
        for value in node:
            closed(value)
    return node


# The vendored CRD schemas (each folder's README names its source and licence), by the
# apiVersion our manifests use: <kind>-v1.json in each folder.
CRD_SCHEMAS = {
    "external-secrets.io/v1": ESO_SCHEMAS,
    "monitoring.coreos.com/v1": ESO_SCHEMAS.parent / "prometheus-operator",
    "cert-manager.io/v1": ESO_SCHEMAS.parent / "cert-manager",
}


@cache
def crd_validator(api_version: str, kind: str) -> jsonschema.Validator:
    """The strict validator of one custom kind, from its vendored CRD schema, closed.

    Kubernetes prunes unknown fields of a structural CRD schema unless the schema says
    x-kubernetes-preserve-unknown-fields; a pruned field is a silent mistake, so here it
    fails."""
    raw = json.loads((CRD_SCHEMAS[api_version] / f"{kind.lower()}-v1.json").read_text())
    schema = closed(copy.deepcopy(raw))
    schema["properties"]["metadata"] = OBJECT_META
    schema["properties"].pop("status")  # written by the operator, never by us
    schema["required"] = ["apiVersion", "kind", "metadata", "spec"]
    schema["properties"]["apiVersion"] = {"const": api_version}
    schema["properties"]["kind"] = {"const": kind}
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def eso_validator(kind: str) -> jsonschema.Validator:
    return crd_validator("external-secrets.io/v1", kind)


def validate_strictly(objects: list[dict], where: str = "") -> None:
    """Built-in kinds by kubernetes-validate (strict), custom kinds by their vendored CRD."""
    groups = {v.split("/")[0] for v in CRD_SCHEMAS}
    for obj in objects:
        name = f"{where + ': ' if where else ''}{obj['kind']}/{obj['metadata']['name']}"
        if obj["apiVersion"].split("/")[0] in groups:
            assert obj["apiVersion"] in CRD_SCHEMAS, f"{name}: {obj['apiVersion']}"
            validator = crd_validator(obj["apiVersion"], obj["kind"])
            errors = sorted(validator.iter_errors(obj), key=lambda e: list(e.path))
            if errors:
                pytest.fail(
                    f"{name}: " + "; ".join(f"{e.message} at {list(e.path)}" for e in errors)
                )
        else:
            try:
                kubernetes_validate.validate(obj, K8S_VERSION, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{name}: {exc.message} at {list(exc.path)}")


def one(objects: list[dict], kind: str, name: str | None = None) -> dict:
    found = [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, (
        f"expected one {kind} {name or ''}, got {[o['metadata']['name'] for o in found]}"
    )
    return found[0]


def conf_lines(text: str) -> list[list[str]]:
    return [line.split() for line in text.splitlines() if line.strip() and not line.startswith("#")]


def add_app_without_env(repo: Path) -> Path:
    """A second app kustomization whose Deployment's container has no env yet."""
    example = repo / "manifest/examples/app"
    variant = repo / "manifest/examples/app-without-env"
    variant.mkdir()
    deployment = yaml.safe_load((example / "deployment.yaml").read_text())
    for container in deployment["spec"]["template"]["spec"]["containers"]:
        container.pop("env", None)
    (variant / "deployment.yaml").write_text(yaml.safe_dump(deployment))
    (variant / "kustomization.yaml").write_text((example / "kustomization.yaml").read_text())
    return variant


# ------------------------------------------------------------------- checks
def delivery_kinds(e: dict) -> list[str]:
    """What brings the password Secret into a namespace, for each delivery."""
    if e["secret_delivery"] == "argocd-vault-plugin":
        return ["Secret"]
    return ["ExternalSecret"] + ([] if e["secret_store"] else ["SecretStore", "ServiceAccount"])


def password_secret(objs: list[dict], e: dict, namespace: str) -> tuple[str, set[str]]:
    """(name, keys) of the Secret that the pods and the app read, as the render delivers it."""
    if e["secret_delivery"] == "argocd-vault-plugin":
        secret = one(objs, "Secret")
        check_secret(secret, e, namespace)
        return secret["metadata"]["name"], set(secret["stringData"])
    external = one(objs, "ExternalSecret")
    check_external_secret(objs, external, e, namespace)
    return external["spec"]["target"]["name"], {d["secretKey"] for d in external["spec"]["data"]}


def check_redis_base(objs: list[dict], e: dict) -> None:
    assert sorted(o["kind"] for o in objs) == sorted(
        [
            "ServiceAccount",
            "ConfigMap",
            "Service",
            "Service",
            "StatefulSet",
            "PodDisruptionBudget",
            "NetworkPolicy",
            *delivery_kinds(e),
        ]
    )
    assert {o["metadata"]["namespace"] for o in objs} == {e["redis_namespace"]}

    sts = one(objs, "StatefulSet", e["name"])
    spec, pod = sts["spec"], sts["spec"]["template"]["spec"]
    selector = spec["selector"]["matchLabels"]
    assert spec["replicas"] == e["redis_replicas"]
    assert spec["serviceName"] == e["headless"]
    assert spec["podManagementPolicy"] == "Parallel"
    assert selector.items() <= sts["spec"]["template"]["metadata"]["labels"].items()

    # Soft anti-affinity across nodes.
    (term,) = pod["affinity"]["podAntiAffinity"]["preferredDuringSchedulingIgnoredDuringExecution"]
    assert term["podAffinityTerm"]["topologyKey"] == "kubernetes.io/hostname"
    assert term["podAffinityTerm"]["labelSelector"]["matchLabels"] == selector

    # Non-root, read-only, no capabilities, RuntimeDefault seccomp, no API token.
    psc = pod["securityContext"]
    assert (psc["runAsNonRoot"], psc["runAsUser"], psc["runAsGroup"], psc["fsGroup"]) == (
        True,
        10001,
        10001,
        10001,
    )
    assert psc["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    sa = one(objs, "ServiceAccount", pod["serviceAccountName"])
    assert "annotations" not in sa["metadata"]  # the pods themselves get no AWS role
    assert sa["automountServiceAccountToken"] is False
    assert pod["terminationGracePeriodSeconds"] > 30  # pre-stop.sh waits at most 30 s

    # The ConfigMap holds the real files, and every script the pod runs is in it.
    cm = one(objs, "ConfigMap")
    (config_volume,) = [v for v in pod["volumes"] if "configMap" in v]
    assert config_volume["configMap"]["name"] == cm["metadata"]["name"]
    secret_name, secret_keys = password_secret(objs, e, e["redis_namespace"])

    containers = {c["name"]: c for c in pod["containers"]}
    assert set(containers) == {"redis", "sentinel"}
    for _name, c in containers.items():
        image, release = {"redis": ("redis", "7.4.6"), "valkey": ("valkey/valkey", "9.1.2")}[
            e["engine"]
        ]
        assert c["image"] == f"{image}:{e.get('redis_version', release)}"
        env = {v["name"]: v.get("value") for v in c["env"]}
        assert [env[f"{k}_COMMAND"] for k in ("SERVER", "SENTINEL", "CLI")] == [
            f"{e['engine']}-server",
            f"{e['engine']}-sentinel",
            f"{e['engine']}-cli",
        ]
        csc = c["securityContext"]
        assert csc["readOnlyRootFilesystem"] is True
        assert csc["allowPrivilegeEscalation"] is False
        assert csc["capabilities"] == {"drop": ["ALL"]}
        commands = [c["command"]] + [
            c[p]["exec"]["command"] for p in ("startupProbe", "livenessProbe", "readinessProbe")
        ]
        if "lifecycle" in c:
            commands.append(c["lifecycle"]["preStop"]["exec"]["command"])
        for command in commands:
            script = command[1]
            assert (
                script.startswith("/config/") and script.removeprefix("/config/") in cm["data"]
            ), command
        env = {v["name"]: v for v in c["env"]}
        assert env["PEER_HOSTS"]["value"].split() == e["peers"]
        assert (
            env["ANNOUNCE_HOST"]["value"]
            == f"$(POD_NAME).{e['headless']}.{e['redis_namespace']}.svc.{e['cluster_domain']}"
        )
        ref = env["REDIS_PASSWORD"]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": secret_name, "key": e["secret_key"]}
        assert ref["key"] in secret_keys
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    assert containers["redis"]["ports"] == [{"name": "redis", "containerPort": e["redis_port"]}]
    assert containers["sentinel"]["ports"] == [
        {"name": "sentinel", "containerPort": e["sentinel_port"]}
    ]
    assert "preStop" in containers["redis"]["lifecycle"]
    redis_limits = containers["redis"]["resources"]["limits"]
    assert redis_limits.get("cpu", "") == e["redis_cpu_limit"]
    assert redis_limits["memory"] == e["redis_memory_limit"]

    (claim,) = spec["volumeClaimTemplates"]
    assert claim["spec"]["resources"]["requests"]["storage"] == e["storage_size"]
    assert claim["spec"].get("storageClassName", "") == e["storage_class"]

    # Services: the headless one publishes not-ready pods; the ClusterIP one selects every pod.
    headless = one(objs, "Service", e["headless"])
    assert (
        headless["spec"]["clusterIP"] == "None"
        and headless["spec"]["publishNotReadyAddresses"] is True
    )
    service = one(objs, "Service", e["name"])
    assert service["spec"]["type"] == "ClusterIP"
    for svc in (headless, service):
        assert svc["spec"]["selector"] == selector  # every pod, the master included
        assert {p["port"] for p in svc["spec"]["ports"]} == {e["redis_port"], e["sentinel_port"]}

    pdb = one(objs, "PodDisruptionBudget")
    assert pdb["spec"]["minAvailable"] == e["quorum"]
    assert pdb["spec"]["selector"]["matchLabels"] == selector

    netpol = one(objs, "NetworkPolicy")
    assert netpol["spec"]["podSelector"]["matchLabels"] == selector
    assert netpol["spec"]["policyTypes"] == ["Ingress"]
    (rule,) = netpol["spec"]["ingress"]
    assert rule["from"] == [
        {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": e["app_namespace"]}}},
        {"podSelector": {"matchLabels": selector}},
    ]
    assert {p["port"] for p in rule["ports"]} == {e["redis_port"], e["sentinel_port"]}

    # Sentinel and Redis configuration in the ConfigMap.
    sentinel = conf_lines(cm["data"]["sentinel.conf"])
    keys = [" ".join(line[:2]) for line in sentinel]
    assert keys.index("sentinel resolve-hostnames") < keys.index("sentinel monitor")
    assert ["sentinel", "announce-hostnames", "yes"] in sentinel
    assert [
        "sentinel",
        "monitor",
        e["master_set"],
        e["peers"][0],
        str(e["redis_port"]),
        str(e["quorum"]),
    ] in sentinel
    assert ["sentinel", "down-after-milliseconds", e["master_set"], "10000"] in sentinel
    assert ["sentinel", "failover-timeout", e["master_set"], "180000"] in sentinel
    redis_conf = conf_lines(cm["data"]["redis.conf"])
    for line in (
        ["appendonly", "yes"],
        ["min-replicas-to-write", "1"],
        ["min-replicas-max-lag", "2"],
        ["maxmemory", str(e["maxmemory"])],
        ["replica-read-only", "yes"],
        ["port", str(e["redis_port"])],
    ):
        assert line in redis_conf
    assert any(line[0] == "save" for line in redis_conf)


def check_secret(secret: dict, e: dict, namespace: str) -> None:
    assert secret["metadata"]["name"] == e["name"] and secret["metadata"]["namespace"] == namespace
    assert "data" not in secret
    # The previous password too: a server started mid-rotation accepts both (rotate.py).
    assert secret["stringData"] == {
        key: f"<path:{e['name']}#{key}>" for key in (e["secret_key"], f"{e['secret_key']}_previous")
    }
    for value in secret["stringData"].values():
        assert re.fullmatch(PLACEHOLDER, value)


def check_external_secret(objs: list[dict], external: dict, e: dict, namespace: str) -> None:
    """The ExternalSecret writes the Secret the pods read, from the one AWS secret, through
    a store that namespace can use: its own SecretStore (IRSA), or the platform's."""
    assert external["metadata"] == external["metadata"] | {
        "name": e["name"],
        "namespace": namespace,
    }
    spec = external["spec"]
    assert spec["refreshInterval"] == "1h"
    assert spec["target"] == {
        "name": e["name"],
        "creationPolicy": "Owner",
        "deletionPolicy": "Retain",
    }
    assert spec["data"] == [
        {"secretKey": key, "remoteRef": {"key": e["secret_name"], "property": key}}
        for key in (e["secret_key"], f"{e['secret_key']}_previous")
    ]
    assert "dataFrom" not in spec
    if e["secret_store"]:
        assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": e["secret_store"]}
        assert not [o for o in objs if o["kind"] == "SecretStore"]
        return
    store = one(objs, "SecretStore", spec["secretStoreRef"]["name"])
    assert spec["secretStoreRef"]["kind"] == "SecretStore"
    assert store["metadata"]["namespace"] == namespace
    aws = store["spec"]["provider"]["aws"]
    assert (aws["service"], aws["region"]) == ("SecretsManager", e["aws_region"])
    account = aws["auth"]["jwt"]["serviceAccountRef"]["name"]
    assert set(aws["auth"]["jwt"]["serviceAccountRef"]) == {"name"}  # its own namespace
    reader = one(objs, "ServiceAccount", account)
    assert reader["metadata"]["namespace"] == namespace
    assert reader["automountServiceAccountToken"] is False
    partition_account = OIDC_PROVIDER.split(":")[1], OIDC_PROVIDER.split(":")[4]
    assert reader["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:{}:iam::{}:role/{}-redis-reader-{}".format(
            *partition_account, e["service_name"], e["aws_region"]
        )
    }


def check_app(objs: list[dict], e: dict, other_env: list[str]) -> None:
    assert sorted(o["kind"] for o in objs) == sorted(["Deployment", *delivery_kinds(e)])
    assert {o["metadata"]["namespace"] for o in objs} == {e["app_namespace"]}
    secret_name, secret_keys = password_secret(objs, e, e["app_namespace"])
    assert secret_name == e["name"] and e["secret_key"] in secret_keys
    deployment = one(objs, "Deployment", e["app_deployment"])
    assert deployment["metadata"]["namespace"] == e["app_namespace"]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["name"] == e["app_container"] and container["image"]
    env = {v["name"]: v for v in container["env"]}
    assert sorted(env) == sorted(
        [
            "REDIS_HOST",
            "REDIS_READ_PORT",
            "REDIS_SENTINEL_PORT",
            "REDIS_MASTER_SET",
            "REDIS_PASSWORD",
            "REDIS_PASSWORD_FILE",
            *other_env,
        ]
    )
    assert env["REDIS_HOST"] == {"name": "REDIS_HOST", "value": e["host"]}
    assert env["REDIS_READ_PORT"] == {"name": "REDIS_READ_PORT", "value": str(e["redis_port"])}
    assert env["REDIS_SENTINEL_PORT"] == {
        "name": "REDIS_SENTINEL_PORT",
        "value": str(e["sentinel_port"]),
    }
    assert env["REDIS_MASTER_SET"] == {"name": "REDIS_MASTER_SET", "value": e["master_set"]}
    assert env["REDIS_PASSWORD"] == {
        "name": "REDIS_PASSWORD",
        "valueFrom": {"secretKeyRef": {"name": e["name"], "key": e["secret_key"]}},
    }
    # The same password as a file the kubelet refreshes (a rotation without a restart):
    # the Secret's key as `password`, mounted without subPath (a subPath is never refreshed).
    path = env["REDIS_PASSWORD_FILE"]["value"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "redis-password"]
    assert mount == {"name": "redis-password", "mountPath": "/etc/redis-password", "readOnly": True}
    assert path == f"{mount['mountPath']}/password"
    volumes = {v["name"]: v for v in deployment["spec"]["template"]["spec"]["volumes"]}
    assert volumes["redis-password"]["secret"] == {
        "secretName": e["name"],
        "items": [{"key": e["secret_key"], "path": "password"}],
    }


# -------------------------------------------------------------------- tests
@pytest.mark.parametrize("answers", CASES.values(), ids=CASES.keys())
def test_every_kustomization_renders_valid_sentinel_manifests(generate, answers):
    repo = generate(answers)
    e = expected(answers)
    add_app_without_env(repo)

    roots, components, used = {}, set(), set()
    for path in sorted(repo.rglob("kustomization.yaml")):
        doc = yaml.safe_load(path.read_text())
        if doc["kind"] == "Component":
            components.add(
                path.parent.resolve()
            )  # rendered through the kustomizations that use them
            continue
        objs = kustomize(path.parent)
        validate_strictly(objs, str(path.relative_to(repo)))
        roots[path.parent.relative_to(repo).as_posix()] = objs
        for ref in doc.get("components", []):
            used.add((path.parent / ref).resolve())
    assert {
        "manifest/redis/base",
        "manifest/examples/app",
        "manifest/examples/app-without-env",
    } <= roots.keys()
    assert components and components <= used, (
        f"components no kustomization uses: {components - used}"
    )

    base = roots["manifest/redis/base"]
    check_redis_base(base, e)
    check_app(roots["manifest/examples/app"], e, other_env=["LOG_LEVEL"])
    check_app(roots["manifest/examples/app-without-env"], e, other_env=[])

    # Whichever the delivery, no other's trace: no placeholder with External Secrets,
    # no ExternalSecret with argocd-vault-plugin.
    rendered = yaml.safe_dump_all([o for objs in roots.values() for o in objs])
    if e["secret_delivery"] == "external-secrets":
        assert "<path:" not in rendered and "vault" not in rendered.lower()
    else:
        assert "external-secrets.io" not in rendered


@pytest.mark.parametrize("kind", ["ExternalSecret", "SecretStore"])
def test_the_strict_eso_schemas_refuse_what_the_operator_would_drop_or_reject(kind):
    """The vendored schemas bite: a misspelt field, a wrong enum, a missing required one."""
    good = {
        "ExternalSecret": {
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": "cart-redis", "namespace": "redis"},
            "spec": {
                "secretStoreRef": {"kind": "SecretStore", "name": "cart-redis"},
                "target": {"name": "cart-redis"},
                "data": [{"secretKey": "k", "remoteRef": {"key": "s", "property": "k"}}],
            },
        },
        "SecretStore": {
            "apiVersion": "external-secrets.io/v1",
            "kind": "SecretStore",
            "metadata": {"name": "cart-redis"},
            "spec": {
                "provider": {
                    "aws": {
                        "service": "SecretsManager",
                        "region": "eu-west-1",
                        "auth": {"jwt": {"serviceAccountRef": {"name": "r"}}},
                    }
                }
            },
        },
    }[kind]
    validator = eso_validator(kind)
    assert list(validator.iter_errors(good)) == []
    spec = good["spec"]
    broken = {
        "ExternalSecret": [
            ("refreshIntervall", spec | {"refreshIntervall": "1h"}),
            ("kind", spec | {"secretStoreRef": {"kind": "Store", "name": "x"}}),
            ("remoteRef", spec | {"data": [{"secretKey": "k"}]}),
            (
                "propery",
                spec | {"data": [{"secretKey": "k", "remoteRef": {"key": "s", "propery": "k"}}]},
            ),
        ],
        "SecretStore": [
            ("servce", {"provider": {"aws": {"servce": "SecretsManager", "region": "x"}}}),
            ("service", {"provider": {"aws": {"service": "Vault", "region": "x"}}}),
            ("region", {"provider": {"aws": {"service": "SecretsManager"}}}),
        ],
    }[kind]
    for field, bad_spec in broken:
        errors = list(validator.iter_errors(good | {"spec": bad_spec}))
        assert errors and any(field in e.message or field in map(str, e.path) for e in errors), (
            field
        )
    assert list(validator.iter_errors(good | {"metadata": {"name": "x", "uid": "1"}}))
    assert list(validator.iter_errors(good | {"apiVersion": "external-secrets.io/v1beta1"}))


# ------------------------------------------------------ the scheduled rotation runner
ROTATION_IMAGE = "registry.example.com/platform/redis-scaffold:0.9.0@sha256:" + "0a" * 32
ROTATION = {
    "rotation": True,
    "rotation_image": ROTATION_IMAGE,
    "rotation_oidc_provider_arn": OIDC_PROVIDER,
    "rotation_schedule": "30 2 * * 0",
}


def admits(policy: dict, labels: dict, port: int) -> bool:
    """Whether an ingress NetworkPolicy admits a pod of these labels, from its own
    namespace, to `port` (podSelector peers and port lists only: what the policies use)."""
    for rule in policy["spec"].get("ingress", []):
        ports = {p["port"] for p in rule.get("ports", [])}
        peers = [
            p["podSelector"]["matchLabels"] for p in rule.get("from", []) if "podSelector" in p
        ]
        if port in ports and any(peer.items() <= labels.items() for peer in peers):
            return True
    return False


@pytest.mark.parametrize(
    "answers",
    [
        {"topology": "sentinel"},
        {
            "topology": "cluster",
            "tls": True,
            "tls_issuer": "ClusterIssuer/platform-ca",
            "customise": True,
            "tls_auth_clients": "yes",
        },
    ],
    ids=["sentinel", "cluster-mutual-tls"],
)
def test_the_rotation_component_renders_a_locked_down_cronjob_the_redis_policy_admits(
    generate, answers
):
    repo = generate(answers | ROTATION)
    base = kustomize(repo / "manifest/redis/base")
    validate_strictly(base, "manifest/redis/base")
    name, sentinel = "shopping-cart-redis-rotation", answers["topology"] == "sentinel"
    cron = one(base, "CronJob", name)
    assert cron["metadata"]["namespace"] == "redis"
    spec, job = cron["spec"], cron["spec"]["jobTemplate"]["spec"]
    assert (spec["schedule"], spec["concurrencyPolicy"]) == ("30 2 * * 0", "Forbid")
    assert job["activeDeadlineSeconds"] == 7200 and job["backoffLimit"] >= 1
    pod = job["template"]["spec"]
    assert pod["restartPolicy"] == "Never"  # podFailurePolicy needs it
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (c,) = pod["containers"]
    assert c["image"] == ROTATION_IMAGE
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert c["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert {"requests", "limits"} <= c["resources"].keys()
    assert c["command"][:5] == ["redis-scaffold", "secret", "rotate", "--from-env", "--wait"]
    wait = float(c["command"][5])
    assert 0 < wait < job["activeDeadlineSeconds"]  # the wait ends inside the run
    env = {v["name"]: v["value"] for v in c["env"]}  # values only: no secretKeyRef
    pods = 3 if sentinel else 6
    assert env["PEER_HOSTS"].split() == [
        f"shopping-cart-redis-{i}.shopping-cart-redis-headless.redis.svc.cluster.local"
        for i in range(pods)
    ]
    assert (env["REDIS_SECRET_NAME"], env["REDIS_SECRET_KEY"]) == (
        "shopping-cart-redis",
        "db-password",
    )
    assert ("MASTER_SET" in env) is sentinel and ("SENTINEL_PORT" in env) is sentinel
    if answers.get("tls"):
        (tls,) = [v for v in pod["volumes"] if v["name"] == "tls"]
        assert tls["secret"]["secretName"] == "shopping-cart-redis-tls"
        assert pod["securityContext"]["fsGroup"] == 10001  # mode 0440 files readable
        assert env["REDIS_TLS_CERT_FILE"] == "/tls/tls.crt"
    else:
        assert not any(k.startswith("REDIS_TLS") for k in env)

    # IRSA, and no Kubernetes API access at all: no token, no Role, no RoleBinding.
    sa = one(base, "ServiceAccount", pod["serviceAccountName"])
    assert sa["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/"
        "shopping-cart-redis-rotate-us-east-1"  # the role terraform/iam.tf makes
    }
    assert sa["automountServiceAccountToken"] is False
    assert not [o for o in base if o["kind"] in ("Role", "RoleBinding", "ClusterRoleBinding")]

    # Its own policy: nothing in; out to DNS, the Redis pods' ports and HTTPS only.
    labels = job["template"]["metadata"]["labels"]
    own = one(base, "NetworkPolicy", name)
    assert own["spec"]["podSelector"]["matchLabels"].items() <= labels.items()
    assert own["spec"]["policyTypes"] == ["Ingress", "Egress"]
    assert "ingress" not in own["spec"]
    egress_ports = sorted(p["port"] for rule in own["spec"]["egress"] for p in rule["ports"])
    assert egress_ports == sorted([53, 53, 443, 6379] + ([26379] if sentinel else []))
    # The Redis pods' policy admits the runner on every port it signs in to.
    redis_policy = one(base, "NetworkPolicy", "shopping-cart-redis")
    for port in [6379] + ([26379] if sentinel else []):
        assert admits(redis_policy, labels, port), port
    if not sentinel:
        assert not admits(redis_policy, labels, 16379)  # never the cluster bus

    # Without rotation: no component, no trace of the runner.
    plain = generate(answers, name="plain")
    assert not (plain / "manifest/components/redis-rotation").exists()
    rendered = yaml.safe_dump_all(kustomize(plain / "manifest/redis/base"))
    assert "redis-rotation" not in rendered and "CronJob" not in rendered
