"""The generated monitoring (monitoring: prometheus-operator), as its consumers read it.

Story: a team answers `monitoring: prometheus-operator`. Every kustomization renders
with the real `kubectl kustomize`; the Kubernetes objects pass the 1.31 schemas in
strict mode and the PodMonitor and PrometheusRule pass prometheus-operator's own CRD
schemas (tests/data/prometheus-operator/, vendored), closed the same way as the ESO
ones; the generated `make alerts-test` runs the real promtool on the rules and their
tests. The exporters are hardened like the server, read the password from the Secret
through their env, and only the monitoring namespace reaches their ports. With the
default `monitoring: none` nothing of it is generated.

The alerts themselves are proven against real failures in tests/test_monitoring_alerts.py.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from tests.test_manifests import kustomize, one, validate_strictly

MONITORING = {"monitoring": "prometheus-operator"}
CASES = {
    "sentinel": MONITORING | {"monitoring_namespace": "observability", "redis_namespace": "cache"},
    "cluster-valkey": MONITORING | {"topology": "cluster", "engine": "valkey"},
}
EXPORTERS = {"sentinel": {"redis-exporter", "sentinel-exporter"}, "cluster": {"redis-exporter"}}


@pytest.fixture(scope="module", params=list(CASES))
def case(request, template_src, tmp_path_factory):
    from tests.fixtures.topology import generate_repo

    answers = CASES[request.param]
    repo = generate_repo(template_src, tmp_path_factory.mktemp(request.param) / "svc", answers)
    return answers, repo


def test_monitoring_objects_pass_the_strict_schemas_and_promtool(case):
    answers, repo = case
    topology = answers.get("topology", "sentinel")
    namespace = answers.get("redis_namespace", "redis")
    base = kustomize(repo / "manifest/redis/base")
    monitoring = kustomize(repo / "manifest/monitoring")
    validate_strictly(base + monitoring)
    assert sorted(o["kind"] for o in monitoring) == ["ConfigMap", "PodMonitor", "PrometheusRule"]
    assert {o["metadata"]["namespace"] for o in monitoring} == {namespace}

    # The PodMonitor scrapes the pods of the StatefulSet, on ports its exporters have.
    sts = one(base, "StatefulSet")
    pod = sts["spec"]["template"]
    containers = {c["name"]: c for c in pod["spec"]["containers"]}
    ports = {p["name"]: c["name"] for c in containers.values() for p in c.get("ports", [])}
    monitor = one(monitoring, "PodMonitor")
    assert monitor["spec"]["selector"]["matchLabels"].items() <= pod["metadata"]["labels"].items()
    scraped = {ports[e["port"]] for e in monitor["spec"]["podMetricsEndpoints"]}
    assert scraped == EXPORTERS[topology]

    # The PrometheusRule holds rules.yml's groups; promtool checks and tests them.
    rule = one(monitoring, "PrometheusRule")
    rules = yaml.safe_load((repo / "manifest/monitoring/rules.yml").read_text())
    assert rule["spec"] == rules
    tested = yaml.safe_load((repo / "manifest/monitoring/rules-test.yml").read_text())
    alerts = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {t["alert_rule_test"][0]["alertname"] for t in tested["tests"]} == alerts
    for r in (r for g in rules["groups"] for r in g["rules"]):
        assert {"summary", "description", "runbook"} <= r["annotations"].keys(), r["alert"]
        assert f'namespace="{namespace}"' in r["expr"], r["alert"]
    done = subprocess.run(["make", "alerts-test"], cwd=repo, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "SUCCESS" in done.stdout

    # The dashboard: the Grafana sidecar's label, valid JSON, a query in every panel.
    cm = one(monitoring, "ConfigMap")
    assert cm["metadata"]["labels"]["grafana_dashboard"] == "1"
    dashboard = json.loads(cm["data"]["dashboard.json"])
    assert all(p["targets"][0]["expr"] for p in dashboard["panels"])
    catalog = list(yaml.safe_load_all((repo / "catalog-info.yaml").read_text()))
    selector = catalog[0]["metadata"]["annotations"]["grafana/dashboard-selector"]
    assert selector == f"tags @> '{dashboard['uid']}'" and dashboard["uid"] in dashboard["tags"]


def test_exporters_are_hardened_and_reachable_only_from_the_monitoring_namespace(case):
    answers, repo = case
    topology = answers.get("topology", "sentinel")
    base = kustomize(repo / "manifest/redis/base")
    pod = one(base, "StatefulSet")["spec"]["template"]["spec"]
    containers = {c["name"]: c for c in pod["containers"]}
    server = containers["redis"]
    (password,) = [e for e in server["env"] if e["name"] == "REDIS_PASSWORD"]
    exporter_ports = set()
    for name in EXPORTERS[topology]:
        c = containers[name]
        image, _, tag = c["image"].rpartition(":")
        assert image == "oliver006/redis_exporter" and tag.startswith("v1.") and tag != "latest"
        assert c["securityContext"] == server["securityContext"]
        assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
        assert "command" not in c and "args" not in c  # nothing, the password least, on argv
        env = {e["name"]: e for e in c["env"]}
        assert env["REDIS_PASSWORD"] == password  # the same Secret key, through the env
        assert env["REDIS_ADDR"]["value"].startswith("redis://127.0.0.1:")
        (port,) = c["ports"]
        assert env["REDIS_EXPORTER_WEB_LISTEN_ADDRESS"]["value"] == f":{port['containerPort']}"
        exporter_ports.add(port["containerPort"])

    policies = [
        o
        for o in base
        if o["kind"] == "NetworkPolicy"
        and o["metadata"]["name"] == one(base, "StatefulSet")["metadata"]["name"]
    ]
    (policy,) = policies
    monitoring_ns = answers.get("monitoring_namespace", "monitoring")
    for rule in policy["spec"]["ingress"]:
        ports = {p["port"] for p in rule["ports"]}
        if ports & exporter_ports:
            assert ports == exporter_ports
            assert rule["from"] == [
                {
                    "namespaceSelector": {
                        "matchLabels": {"kubernetes.io/metadata.name": monitoring_ns}
                    }
                }
            ]


def test_monitoring_none_generates_no_exporter_and_no_monitoring(generate):
    repo = generate({"topology": "cluster"})
    assert not (repo / "manifest/monitoring").exists()
    text = (repo / "manifest/redis/base/statefulset.yaml").read_text()
    assert "exporter" not in text
    assert "alerts-test" not in (repo / "Makefile").read_text()
    assert "grafana" not in (repo / "catalog-info.yaml").read_text()


def test_a_bad_monitoring_namespace_is_refused_naming_the_field(generate):
    with pytest.raises(ValueError) as excinfo:
        generate(MONITORING | {"monitoring_namespace": "Prometheus_NS"}, name="rejected")
    assert "'monitoring_namespace'" in str(excinfo.value)
    assert "DNS-1123" in str(excinfo.value)


def test_a_bad_alarm_topic_is_refused_naming_the_field(generate):
    network = {
        "topology": "elasticache",
        "vpc_id": "vpc-0123abcd",
        "subnet_ids": "subnet-0123abcd,subnet-0123abce",
        "app_security_group_id": "sg-0123abcd",
    }
    with pytest.raises(ValueError) as excinfo:
        generate(network | {"alarm_topic_arn": "oncall"}, name="rejected")
    assert "'alarm_topic_arn'" in str(excinfo.value)
    assert "SNS topic ARN" in str(excinfo.value)
