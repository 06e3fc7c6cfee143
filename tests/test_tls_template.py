"""What `tls: yes` generates, rendered by the real `kubectl kustomize` and checked strictly:
the Kubernetes objects against the 1.31 schemas, cert-manager's Certificate against the
vendored CRD schema of cert-manager v1.21.1 (tests/data/cert-manager/, Apache-2.0),
closed the same way as the ESO and prometheus-operator ones.

Story per answer set: a team turns TLS on, with a cert-manager issuer (Sentinel,
with monitoring) or with a Secret of its own (Cluster, mutual TLS), and gets:
- a Certificate whose names cover every name a client or a peer is handed (each pod's
  stable name, both Services in every form, localhost for the probes), for server and
  client auth, written to the Secret every container mounts at TLS_DIR;
- or, with its own Secret, no Certificate at all, and the pods mounting that Secret;
- the app's env asking for TLS with the CA from a mounted ConfigMap;
- exporters on rediss://, verifying the CA.
The loopback stories (tests/test_tls.py) run these scripts and clients for real.
"""

from __future__ import annotations

import pytest

from tests.test_manifests import crd_validator, kustomize, one, validate_strictly

CASES = {
    "sentinel-cert-manager": {
        "tls": True,
        "tls_issuer": "ClusterIssuer/platform-ca",
        "monitoring": "prometheus-operator",
        "redis_namespace": "cache",
    },
    "cluster-own-secret": {
        "topology": "cluster",
        "tls": True,
        "tls_secret": "team-redis-certs",
        "customise": True,
        "tls_auth_clients": "yes",
    },
}


@pytest.fixture(scope="module", params=list(CASES))
def case(request, template_src, tmp_path_factory):
    from tests.fixtures.topology import generate_repo

    answers = CASES[request.param]
    repo = generate_repo(template_src, tmp_path_factory.mktemp(request.param) / "svc", answers)
    return answers, repo


def env_of(container: dict) -> dict[str, str]:
    return {e["name"]: e.get("value") for e in container.get("env", [])}


def test_tls_objects_pass_the_strict_schemas_and_name_every_peer(case):
    answers, repo = case
    objects = kustomize(repo / "manifest/redis/base")
    validate_strictly(objects)
    statefulset = one(objects, "StatefulSet")
    pod = statefulset["spec"]["template"]["spec"]
    secret = next(v["secret"]["secretName"] for v in pod["volumes"] if v["name"] == "tls")
    servers = [c for c in pod["containers"] if c["name"] in ("redis", "sentinel")]
    for container in servers:
        assert env_of(container)["TLS_DIR"] == "/tls", container["name"]
        assert {"name": "tls", "mountPath": "/tls", "readOnly": True} in container["volumeMounts"]
    certificates = [o for o in objects if o["kind"] == "Certificate"]
    if not answers.get("tls_issuer"):
        assert certificates == []
        assert secret == answers["tls_secret"]
        assert not (repo / "manifest/components/redis-tls").exists()
        return
    certificate = one(objects, "Certificate")
    spec = certificate["spec"]
    assert spec["secretName"] == secret
    kind, name = answers["tls_issuer"].split("/")
    assert spec["issuerRef"] == {"kind": kind, "name": name, "group": "cert-manager.io"}
    assert {"server auth", "client auth"} <= set(spec["usages"])
    peers = env_of(servers[0])["PEER_HOSTS"].split()
    assert len(peers) == statefulset["spec"]["replicas"]
    services = [o["metadata"]["name"] for o in objects if o["kind"] == "Service"]
    namespace = answers.get("redis_namespace", "redis")
    wanted = set(peers) | {"localhost"}
    wanted |= {f"{s}.{namespace}.svc.cluster.local" for s in services}
    wanted |= {f"{s}.{namespace}" for s in services} | set(services)
    assert wanted <= set(spec["dnsNames"]), wanted - set(spec["dnsNames"])
    assert spec["ipAddresses"] == ["127.0.0.1"]
    # The exporters speak TLS to their own pod, and check the CA (monitoring on).
    exporters = [c for c in pod["containers"] if c["name"].endswith("exporter")]
    assert exporters
    for exporter in exporters:
        env = env_of(exporter)
        assert env["REDIS_ADDR"].startswith("rediss://127.0.0.1:"), exporter["name"]
        assert env["REDIS_EXPORTER_TLS_CA_CERT_FILE"] == "/tls/ca.crt"


def test_the_server_configs_say_who_must_show_a_certificate(case):
    answers, repo = case
    config = repo / "manifest/redis/base/config"
    wanted = f"tls-auth-clients {answers.get('tls_auth_clients', 'optional')}"
    confs = ["redis.conf"] + (["sentinel.conf"] if answers.get("topology") != "cluster" else [])
    for conf in confs:
        assert wanted in (config / conf).read_text().splitlines(), conf


def test_the_app_gets_tls_and_the_ca(case):
    answers, repo = case
    objects = kustomize(repo / "manifest/examples/app")
    validate_strictly(objects)
    deployment = one(objects, "Deployment")
    pod = deployment["spec"]["template"]["spec"]
    container = pod["containers"][0]
    env = env_of(container)
    assert env["REDIS_TLS"] == "true"
    assert env["REDIS_TLS_CA_FILE"] == "/etc/redis-tls/ca.crt"
    mount = next(m for m in container["volumeMounts"] if m["name"] == "redis-tls-ca")
    assert mount["mountPath"] == "/etc/redis-tls"
    volume = next(v for v in pod["volumes"] if v["name"] == "redis-tls-ca")
    assert volume["configMap"]["name"].endswith("-redis-ca")
    # Both topologies: the password file's volume beside the CA's (one include renders both).
    names = [m["name"] for m in container["volumeMounts"]]
    assert names == ["redis-password", "redis-tls-ca"]
    assert [v["name"] for v in pod["volumes"]] == names


def test_the_strict_certificate_schema_bites():
    """A misspelt field and a wrong type fail, rather than being pruned by the API server."""
    good = {
        "apiVersion": "cert-manager.io/v1",
        "kind": "Certificate",
        "metadata": {"name": "x"},
        "spec": {"secretName": "x", "issuerRef": {"name": "ca"}, "dnsNames": ["a"]},
    }
    assert not list(crd_validator("cert-manager.io/v1", "Certificate").iter_errors(good))
    for bad_spec in ({"dnsName": ["a"]}, {"dnsNames": "a"}, {"usages": ["server-auth"]}):
        bad = good | {"spec": good["spec"] | bad_spec}
        assert list(crd_validator("cert-manager.io/v1", "Certificate").iter_errors(bad)), bad_spec
