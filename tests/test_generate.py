"""A service team generates its repository: defaults, other answers, and bad answers.

The manifests, Terraform, client and hooks have stories of their own; this file covers
what every generated repository must be: complete, reproducing the runbook's example
with the defaults, rejecting bad answers before writing anything, and holding no secret.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from redis_scaffold.project import read_answers
from tests.fixtures.generation import TEMPLATE_TAG

EXPECTED_FILES = [
    ".copier-answers.yml",
    ".gitignore",
    "README.md",
    "Makefile",
    "catalog-info.yaml",
    "terraform/versions.tf",
    "terraform/terraform.tfvars.json",
    "manifest/redis/base/kustomization.yaml",
    "manifest/components/redis-env/kustomization.yaml",
    "manifest/components/redis-secret/kustomization.yaml",
    "manifest/examples/app/kustomization.yaml",
    "client/python/redis_client.py",
]


def test_defaults_reproduce_the_runbook_example(generate):
    repo = generate()

    for rel in EXPECTED_FILES:
        assert (repo / rel).is_file(), f"{rel} is missing"

    answers = read_answers(repo)
    assert answers["_commit"] == TEMPLATE_TAG
    # The short interview: only what was asked is recorded; the tuning follows the
    # template's defaults, and computed values are derived again on every render.
    assert set(answers) - {"_commit", "_src_path"} == {
        "service_name",
        "owner",
        "redis_namespace",
        "app_namespace",
        "engine",
        "topology",
        "secret_delivery",
        "aws_region",
        "state_bucket",  # empty: local state (state_region is asked only with a bucket)
        "client_languages",
        "monitoring",  # none: no exporters (docs/design.md, "Monitoring")
        "tls",  # no: plaintext (docs/design.md, "Encryption in transit")
        "rotation",  # no: no scheduled runner (docs/design.md, "The scheduled runner")
        "size",
        "customise",
        "create_secret",
        "check_sentinel",
    }
    assert answers["secret_delivery"] == "argocd-vault-plugin"
    assert answers["service_name"] == "shopping-cart" and answers["size"] == "small"
    assert answers["customise"] is False
    statefulset = (repo / "manifest/redis/base/statefulset.yaml").read_text()
    assert "replicas: 3" in statefulset and 'memory: "512Mi"' in statefulset
    assert (
        "sentinel monitor shopping-cart-redis"
        in (repo / "manifest/redis/base/config/sentinel.conf").read_text()
    )
    assert (
        '"secret_name": "shopping-cart-redis"'
        in (repo / "terraform/terraform.tfvars.json").read_text()
    )

    readme = (repo / "README.md").read_text()
    # the runbook dropped ".svc"; the generated runbook must not
    assert "shopping-cart-redis.redis.svc.cluster.local" in readme
    assert "shopping-cart-redis.redis.cluster.local" not in readme
    assert "SENTINEL get-master-addr-by-name shopping-cart-redis" in readme
    # the runbook's invalid `environments: - envFrom:` shape is gone
    assert "envFrom" not in readme and "secretKeyRef" in readme
    assert "{{" not in readme and "{%" not in readme

    makefile = (repo / "Makefile").read_text()
    for target in ("install:", "secret:", "render:", "deploy:", "check:", "check-conflicts:"):
        assert re.search(rf"^{target}", makefile, re.M), target
    assert "argocd-vault-plugin generate -" in makefile

    gitignore = (repo / ".gitignore").read_text().split()
    assert {".terraform/", "*.tfstate", "rendered/"} <= set(gitignore)

    entities = list(yaml.safe_load_all((repo / "catalog-info.yaml").read_text()))
    kinds = {e["kind"]: e for e in entities}
    assert set(kinds) == {"Component", "Resource"}
    assert kinds["Component"]["spec"]["owner"] == answers["owner"]
    assert kinds["Component"]["spec"]["dependsOn"] == ["resource:shopping-cart-redis"]


MATRIX = [
    {
        "customise": True,
        "redis_replicas": 5,
        "redis_namespace": "data",
        "app_namespace": "checkout",
    },
    {
        "customise": True,
        "service_name": "orders",
        "kms_key_id": "alias/orders-redis",
        "storage_class": "gp3",
    },
    {
        "customise": True,
        "redis_cpu_limit": "1",
        "redis_memory_limit": "2Gi",
        "aws_region": "eu-west-1",
    },
    {"size": "large", "service_name": "search"},
    {"engine": "valkey", "service_name": "sessions"},
]


@pytest.mark.parametrize("answers", MATRIX, ids=lambda a: ",".join(a))
def test_other_answers_render_completely(generate, answers):
    repo = generate(answers)
    recorded = read_answers(repo)
    for key, value in answers.items():
        assert recorded[key] == value
    for path in repo.rglob("*"):
        if path.is_file():
            # Only GitHub Actions expressions `${{ ... }}` may look like Jinja, and only in
            # the workflows that use them.
            text = path.read_text()
            if path.parent.name == "workflows":
                text = re.sub(r"\$\{\{[^{}]*\}\}", "", text)
            assert "{{" not in text and "{%" not in text, path
    service = answers.get("service_name", "shopping-cart")
    readme = (repo / "README.md").read_text()
    namespace = answers.get("redis_namespace", "redis")
    assert f"{service}-redis.{namespace}.svc.cluster.local" in readme
    if answers.get("engine") == "valkey":  # the image, the programs and the prose follow
        statefulset = (repo / "manifest/redis/base/statefulset.yaml").read_text()
        assert 'image: "valkey/valkey:' in statefulset and "value: valkey-sentinel" in statefulset
        assert "redis:" not in statefulset and "Valkey Sentinel" in readme.splitlines()[0]
        assert "Valkey Sentinel" in (repo / "catalog-info.yaml").read_text()
    if answers.get("size") == "large":  # the preset sets memory, CPU and volume together
        statefulset = (repo / "manifest/redis/base/statefulset.yaml").read_text()
        assert 'memory: "8Gi"' in statefulset and 'cpu: "1"' in statefulset
        assert "storage: 64Gi" in statefulset


# At least 25 bad answers. Each must be rejected before anything is written, with a
# message that names the field (copier's prefix) and states the rule.
BAD_ANSWERS = [
    ("service_name", "ShoppingCart", "DNS-1123 label"),
    ("service_name", "shopping_cart", "DNS-1123 label"),
    ("service_name", "-cart", "DNS-1123 label"),
    ("service_name", "a" * 31, "at most 30 characters"),
    ("description", "two\nlines", "one line"),
    ("owner", "team cart", "Backstage owner reference"),
    ("system", "-bad-", "Backstage entity name"),
    ("redis_namespace", "Redis", "DNS-1123 label"),
    ("app_namespace", "app.ns", "DNS-1123 label"),
    ("app_deployment", "App", "DNS-1123 subdomain"),
    ("cluster_domain", "cluster..local", "DNS-1123 subdomain"),
    ("master_set", "my master", "letters, digits"),
    ("redis_replicas", 4, "odd"),
    ("redis_replicas", 1, "odd"),
    ("redis_replicas", 11, "from 3 to 9"),
    ("sentinel_quorum", 1, "majority"),
    ("sentinel_quorum", 4, "majority"),
    ("min_replicas_to_write", 0, "at least 1"),
    ("min_replicas_to_write", 3, "fewer than the 3 pods"),
    ("down_after_ms", 500, "from 1000"),
    ("failover_timeout_ms", 10000, "more than down_after_ms"),
    ("redis_image", "bitnami/redis", "Bitnami"),
    ("redis_image", "redis:7.4", "without tag"),
    ("redis_version", "latest", "pinned"),
    ("redis_version", "6.0.16", "at least 6.2"),
    ("redis_port", 80, "1024 to 65535"),
    ("sentinel_port", 6379, "differ from redis_port"),
    ("storage_size", "10GB", "memory quantity"),
    ("storage_size", "0Gi", "at least 1Mi"),
    ("storage_class", "Fast_SSD", "DNS-1123 subdomain"),
    ("redis_cpu_request", "100 m", "CPU quantity"),
    ("redis_cpu_limit", "50m", "not be below redis_cpu_request"),
    ("redis_memory_request", "lots", "memory quantity"),
    ("redis_memory_limit", "256Mi", "not be below redis_memory_request"),
    ("aws_region", "Europe", "AWS region"),
    ("secret_name", "shopping cart", "A-Z a-z 0-9"),
    ("secret_name", "cart-redis-abc123", "six characters"),
    ("secret_key", "db password", "Kubernetes Secret key"),
    ("kms_key_id", "my-key", "KMS key"),
    ("secret_recovery_window_days", 3, "0 or a whole number from 7 to 30"),
    ("size", "huge", "Invalid choice"),
]


@pytest.mark.parametrize(
    "field,value,rule", BAD_ANSWERS, ids=[f"{f}={v!r}"[:40] for f, v, _ in BAD_ANSWERS]
)
def test_bad_answer_is_rejected_before_anything_is_written(generate, tmp_path, field, value, rule):
    with pytest.raises(ValueError) as excinfo:
        generate({field: value, "customise": True}, name="rejected")
    message = str(excinfo.value)
    assert f"'{field}'" in message
    assert rule in message
    assert not (tmp_path / "rejected").exists() or not any((tmp_path / "rejected").iterdir())


def test_copier_cli_names_the_field_and_the_rule(template_src, tmp_path):
    dst = tmp_path / "svc"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "copier",
            "copy",
            "--trust",
            "--defaults",
            "--vcs-ref",
            TEMPLATE_TAG,
            "--data",
            "customise=true",
            "--data",
            "redis_replicas=4",
            str(template_src),
            str(dst),
        ],
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "redis_replicas" in result.stderr and "odd" in result.stderr
    assert not dst.exists() or not any(dst.iterdir())


# A generated password would be a long run of letters and digits (both hooks and
# Terraform make 40 of them); nothing that long and that mixed belongs in the tree.
TOKEN = re.compile(
    r"(?<![A-Za-z0-9])(?=[A-Za-z0-9]*[0-9])(?=[A-Za-z0-9]*[a-z])(?=[A-Za-z0-9]*[A-Z])[A-Za-z0-9]{20,}(?![A-Za-z0-9])"
)


@pytest.mark.parametrize("answers", [{}, MATRIX[1]], ids=["defaults", "kms"])
def test_no_plaintext_secret_anywhere(generate, answers):
    repo = generate(answers)
    answers_text = (repo / ".copier-answers.yml").read_text()
    assert not re.search(r"pass(word)?\s*:", answers_text, re.I)

    for path in repo.rglob("*"):
        if path.is_file():
            tokens = TOKEN.findall(path.read_text())
            assert not tokens, (
                f"{path.relative_to(repo)} holds {len(tokens)} password-like token(s)"
            )

    # The only ways the password enters the tree: a placeholder, a secretKeyRef, a
    # write-only Terraform argument fed by an ephemeral value, and environment variables.
    secret = (repo / "manifest/components/redis-secret/secret.yaml").read_text()
    values = yaml.safe_load(secret).get("stringData", {})
    assert values and all(re.fullmatch(r"<path:[^#>]+#[^>]+>", v) for v in values.values())
    terraform = "\n".join(p.read_text() for p in (repo / "terraform").glob("*.tf"))
    assert "secret_string_wo" in terraform
    assert not re.search(r"^\s*secret_string\s*=", terraform, re.M)
    assert "ephemeral.aws_secretsmanager_random_password" in terraform


OIDC_PROVIDER = (
    "arn:aws:iam::123456789012:oidc-provider/"
    "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
)
ESO_OWN_STORE = {"secret_delivery": "external-secrets", "oidc_provider_arn": OIDC_PROVIDER}
ESO_CLUSTER_STORE = {"secret_delivery": "external-secrets", "secret_store": "aws-secrets-manager"}
AVP_ONLY = {"manifest/components/redis-secret/secret.yaml"}
ESO_ONLY = {"manifest/components/redis-secret/external-secret.yaml"}
OWN_STORE_ONLY = {
    "manifest/components/redis-secret/secret-store.yaml",
    "terraform/secret-reader.tf",
    "terraform/secret-reader.auto.tfvars.json",
}


@pytest.mark.parametrize(
    "answers", [ESO_OWN_STORE, ESO_CLUSTER_STORE], ids=["own-store", "cluster-store"]
)
def test_external_secrets_leave_no_trace_of_argocd_vault_plugin(generate, answers):
    repo = generate(answers)
    files = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    own_store = not answers.get("secret_store")
    assert ESO_ONLY <= files and not AVP_ONLY & files
    assert (OWN_STORE_ONLY <= files) if own_store else not (OWN_STORE_ONLY & files)
    recorded = read_answers(repo)
    assert {k: recorded[k] for k in answers} == answers  # the choice is recorded for updates

    # No placeholder and no argocd-vault-plugin step anywhere: manifests, Makefile,
    # README, docs, workflows, install-tools, Terraform.
    for rel in files - {".copier-answers.yml"}:
        text = (repo / rel).read_text()
        assert "<path:" not in text and "vault" not in text.lower() and "AVP" not in text, rel
    makefile = (repo / "Makefile").read_text()
    assert re.search(r"^deploy:.*\n\tkubectl apply -k manifest/redis/base$", makefile, re.M)
    assert re.search(
        r"^render:.*\n.*\n\t\$\(KUSTOMIZE\) manifest/redis/base > rendered/redis.yaml$",
        makefile,
        re.M,
    )
    assert (
        'install-tools.sh "$(TOOLS_DIR)" "$(TERRAFORM_VERSION)" "$(KUBECTL_VERSION)"\n' in makefile
    )
    readme = (repo / "README.md").read_text()
    assert "refreshInterval: 1h" in readme and "Rotation" in readme
    assert ("EKS Pod Identity" in readme) == own_store
    assert "{{" not in readme and "{%" not in readme


def test_argocd_vault_plugin_repositories_have_no_external_secrets(generate):
    repo = generate({"secret_delivery": "argocd-vault-plugin"})
    files = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    assert AVP_ONLY <= files and not (ESO_ONLY | OWN_STORE_ONLY) & files
    for rel in files:
        assert "external-secrets.io" not in (repo / rel).read_text(), rel


# Asked only with secret_delivery: external-secrets; each refusal names the fields.
BAD_DELIVERY = [
    ({"secret_delivery": "sops"}, "secret_delivery", "Invalid choice"),
    (ESO_CLUSTER_STORE | {"secret_store": "Platform_Store"}, "secret_store", "DNS-1123 subdomain"),
    (
        {"secret_delivery": "external-secrets", "oidc_provider_arn": ""},
        "oidc_provider_arn",
        "when secret_store is empty",
    ),
    (
        ESO_OWN_STORE | {"oidc_provider_arn": "arn:aws:iam::12345:oidc-provider/x"},
        "oidc_provider_arn",
        "IAM OIDC provider",
    ),
    (
        ESO_OWN_STORE | {"oidc_provider_arn": "arn:aws:iam::123456789012:role/x"},
        "oidc_provider_arn",
        "IAM OIDC provider",
    ),
    (
        ESO_CLUSTER_STORE | {"oidc_provider_arn": OIDC_PROVIDER},
        "oidc_provider_arn",
        "must be empty when secret_store names a ClusterSecretStore",
    ),
]


@pytest.mark.parametrize("answers,field,rule", BAD_DELIVERY, ids=[f for _, f, _ in BAD_DELIVERY])
def test_bad_secret_delivery_answers_are_refused_naming_the_fields(
    generate, tmp_path, answers, field, rule
):
    with pytest.raises(ValueError) as excinfo:
        generate(answers, name="rejected")
    message = str(excinfo.value)
    assert f"'{field}'" in message and rule in message
    if "secret_store" in rule:
        assert "secret_store" in message
    assert not (tmp_path / "rejected").exists() or not any((tmp_path / "rejected").iterdir())


ROTATION_IMAGE = "registry.example.com/platform/redis-scaffold:v0.3.0@sha256:" + "e" * 64
ROTATION = {"rotation": True, "rotation_image": ROTATION_IMAGE}
BAD_ROTATION = [
    (
        ROTATION | {"rotation_oidc_provider_arn": OIDC_PROVIDER, "rotation_schedule": "@monthly"},
        "rotation_schedule",
        "five fields",
    ),
    (
        ROTATION | {"rotation_oidc_provider_arn": OIDC_PROVIDER, "rotation_schedule": "0 3 1 *"},
        "rotation_schedule",
        "five fields",
    ),
    (  # no default to fall back on: copier names the question
        {"rotation": True, "rotation_oidc_provider_arn": OIDC_PROVIDER},
        "rotation_image",
        "is required",
    ),
    (
        ROTATION
        | {
            "rotation_image": "registry.example.com/redis-scaffold:v0.3.0",
            "rotation_oidc_provider_arn": OIDC_PROVIDER,
        },
        "rotation_image",
        "pinned by digest",
    ),
    (ROTATION, "rotation_oidc_provider_arn", "is required"),  # no oidc_provider_arn to default from
    (
        ROTATION | {"rotation_oidc_provider_arn": "arn:aws:iam::123456789012:role/x"},
        "rotation_oidc_provider_arn",
        "IAM OIDC provider",
    ),
]


@pytest.mark.parametrize(
    "answers,field,rule", BAD_ROTATION, ids=[f"{f}-{i}" for i, (_, f, _) in enumerate(BAD_ROTATION)]
)
def test_bad_rotation_answers_are_refused_naming_the_field_before_anything_is_written(
    generate, tmp_path, answers, field, rule
):
    with pytest.raises(ValueError) as excinfo:
        generate(answers, name="rejected")
    message = str(excinfo.value)
    assert field in message and rule in message, message
    assert not (tmp_path / "rejected").exists() or not any((tmp_path / "rejected").iterdir())


def test_rotation_takes_the_secret_stores_oidc_provider_and_elasticache_has_none(generate):
    repo = generate(ESO_OWN_STORE | ROTATION)
    recorded = read_answers(repo)
    assert recorded["rotation_oidc_provider_arn"] == OIDC_PROVIDER  # the default
    files = {p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file()}
    assert "manifest/components/redis-rotation/cronjob.yaml" in files
    readme = " ".join((repo / "README.md").read_text().split())
    assert "**On a schedule**" in readme and "0 3 1 * *" in readme
    cache = generate(
        {
            "topology": "elasticache",
            "vpc_id": "vpc-0123456789abcdef0",
            "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
            "app_security_group_id": "sg-0123456789abcdef0",
        },
        name="cache",
    )
    assert not any(k.startswith("rotation") for k in read_answers(cache))
    assert not (cache / "manifest/components/redis-rotation").exists()


def test_every_question_is_documented():
    root = Path(__file__).resolve().parents[1]
    questions = yaml.safe_load((root / "copier.yml").read_text())
    documented = (root / "docs" / "questions.md").read_text()
    for name, _spec in questions.items():
        if not name.startswith("_"):
            assert f"`{name}`" in documented, f"docs/questions.md does not mention {name}"


@pytest.mark.parametrize(
    ("answers", "topology"),
    [
        ({}, "sentinel"),
        ({"topology": "cluster"}, "cluster"),
        ({"secret_delivery": "external-secrets", "secret_store": "aws-secrets-manager"}, "eso"),
    ],
    ids=["sentinel-avp", "cluster-avp", "sentinel-eso"],
)
def test_the_readme_explains_the_app_side_of_the_delivery(generate, answers, topology):
    """A team deploying its app from another repository learns what the delivery needs."""
    readme = " ".join((generate(answers) / "README.md").read_text().split())
    section = readme[readme.index("### The app's own deployment") :]
    section = section[: section.index("## ", 5)]
    # The example: a kustomization in another repository, taking both components by git URL.
    for component in ("redis-secret", "redis-env"):
        assert (
            f"https://github.com/ORG/shopping-cart-redis//manifest/components/{component}?ref=v1.0.0"
            in section
        )
    assert "kind: Application" in section and "namespace: shopping-cart" in section
    if topology == "eso":
        assert section.startswith("### The app's own deployment Nothing else:")
        assert "needs no plugin" in section and "plugin: name:" not in section
    else:
        assert "**the app's own deployment must go through argocd-vault-plugin too**" in section
        assert (
            "receives the literal text `<path:shopping-cart-redis#db-password>` as its password"
            in section
        )
        assert "plugin: name: argocd-vault-plugin-kustomize" in section
