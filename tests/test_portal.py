"""The developer-portal button, pressed in Backstage's own scaffolder engine.

A platform team registers backstage/template.yaml in Backstage. These stories hand it to
Backstage's own code (tests/portal/scaffold.cjs, packages pinned by its lockfile): the
catalog's entity validators, the form's validator (rjsf + ajv8), and the workflow runner
with the real fetch:cookiecutter action, which finds only a stock cookiecutter on PATH
(.venv-cookiecutter: no project module, no extension). Only publish:* and
catalog:register are stubbed: they hand over the workspace they were given. That
workspace must be what `copier copy` makes with the same answers, byte for byte and
mode for mode; the answers file may differ only in `_commit` and `_src_path`, which
name the published template and release so that `copier update` works afterwards.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
from pathlib import Path

import copier
import pytest
import yaml

from redis_scaffold import cli
from redis_scaffold.portal import export
from tests.fixtures.generation import REPO_ROOT, TEMPLATE_TAG, git, snapshot_template
from tests.fixtures.shared import built_once
from tests.test_cluster_generate import BAD_CLUSTER_ANSWERS
from tests.test_elasticache_template import BAD_ELASTICACHE_ANSWERS, BAD_NETWORK
from tests.test_generate import BAD_ANSWERS

PORTAL = REPO_ROOT / "tests" / "portal"
STOCK_COOKIECUTTER = REPO_ROOT / ".venv-cookiecutter" / "bin"
PRESS_S = 120  # an upper bound per button press in a batch (about 4 s of CPU each)
TEMPLATE = REPO_ROOT / "backstage" / "template.yaml"

PAYMENTS = {  # a team that changes names, pod count, quorum, KMS key, storage, timing
    "service_name": "payments",
    "size": "medium",
    "customise": True,
    "description": "Payments session cache",
    "redis_replicas": 5,
    "sentinel_quorum": 4,
    "redis_namespace": "data",
    "app_namespace": "payments-api",
    "app_deployment": "payments-api",
    "kms_key_id": "alias/payments",
    "storage_class": "gp3",
    "storage_size": "20Gi",
    "down_after_ms": 5000,
    "failover_timeout_ms": 60000,
    "redis_cpu_limit": "2",
    "secret_recovery_window_days": 30,
}
LEDGER = {
    "service_name": "ledger",
    "engine": "valkey",
    "customise": True,
    "system": "finance",
    "owner": "group:finance/ledger-team",
    "redis_replicas": 7,
    "master_set": "ledger-primary",
    "redis_port": 6380,
    "sentinel_port": 26380,
    "redis_memory_request": "768Mi",
    "redis_memory_limit": "1.5Gi",
    "kms_key_id": "arn:aws:kms:eu-west-1:123456789012:key/0b7c5f3e-5d3a-4c1e-9a77-2f1d3c4b5a6e",
    "aws_region": "eu-west-1",
    "storage_class": "fast-ssd",
    "down_after_ms": 20000,
    "maxmemory_policy": "allkeys-lru",
}
OIDC_PROVIDER = (
    "arn:aws:iam::123456789012:oidc-provider/"
    "oidc.eks.eu-west-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
)
CART_ESO = {  # External Secrets Operator with a SecretStore and reader role of its own
    "service_name": "cart",
    "secret_delivery": "external-secrets",
    "oidc_provider_arn": OIDC_PROVIDER,
    "app_namespace": "cart-web",
    "aws_region": "eu-west-1",
    # and the scheduled rotation: its component, and its role in terraform/iam.tf
    "rotation": True,
    "rotation_image": "registry.example.com/platform/redis-scaffold@sha256:" + "f" * 64,
    "rotation_oidc_provider_arn": OIDC_PROVIDER,
}
SEARCH_ESO = {  # External Secrets Operator through the platform's ClusterSecretStore
    "service_name": "search",
    "secret_delivery": "external-secrets",
    "secret_store": "platform-aws",
    "customise": True,
    "secret_key": "redis-password",
    "kms_key_id": "alias/search",
}
ORDERS_ELASTICACHE = {  # AWS ElastiCache with IAM authentication: no secret, no Kubernetes Redis
    "service_name": "orders",
    "topology": "elasticache",
    "engine": "valkey",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "app_security_group_id": "sg-0123456789abcdef0",
    "customise": True,
    "cache_replicas": 3,
    "node_type": "cache.m7g.large",
    "kms_key_id": "alias/orders",
    "snapshot_retention_days": 0,
}

# client_languages is a multiselect: the form sends a list, the rendition gets it joined
# and splits it again; each language's folder is a step with an `in` condition.
CHECKOUT_BOTH = {"service_name": "checkout", "client_languages": ["python", "node"]}
QUEUE_NODE = {"service_name": "queue", "client_languages": ["node"]}
ANSWER_SETS = {
    "defaults": {},
    "checkout-both-clients": CHECKOUT_BOTH,
    "queue-node-only": QUEUE_NODE,
    "payments": PAYMENTS,
    "ledger": LEDGER,
    "cart-eso": CART_ESO,
    "search-eso": SEARCH_ESO,
    "orders-elasticache": ORDERS_ELASTICACHE,
    "cluster": {"topology": "cluster"},
    "orders-cluster": {  # Valkey Cluster, 4 masters x 2 replicas, other ports, ESO
        "service_name": "orders",
        "topology": "cluster",
        "engine": "valkey",
        "customise": True,
        "cluster_masters": 4,
        "cluster_replicas": 2,
        "cluster_node_timeout_ms": 5000,
        "redis_port": 7000,
        "cluster_bus_port": 17100,
        "secret_delivery": "external-secrets",
        "secret_store": "platform-aws",
    },
}
REPO_URL = {"repoUrl": "github.com?owner=example-org&repo=svc-redis"}
TUNED = {"customise": True} | REPO_URL


# ------------------------------------------------------------------------ helpers
@pytest.fixture(scope="session")
def backstage_installed() -> None:
    missing = [
        p for p in (PORTAL / "node_modules", STOCK_COOKIECUTTER / "cookiecutter") if not p.exists()
    ]
    if missing:
        pytest.fail(f"{missing} missing: run scripts/bootstrap.sh (make test does)")
    # What a Backstage host has: cookiecutter and what it depends on, nothing of ours.
    listed = subprocess.run(
        [str(STOCK_COOKIECUTTER / "python"), "-m", "pip", "list", "--format=freeze"],
        capture_output=True,
        text=True,
        check=True,
    )
    installed = {line.split("==")[0].lower() for line in listed.stdout.split()}
    assert "cookiecutter" in installed
    assert not installed & {"copier", "redis-scaffold", "jinja2-ansible-filters", "plumbum"}


def backstage(tmp: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    """Run scaffold.cjs with a PATH that has node and stock cookiecutter, nothing else."""
    node = shutil.which("node")
    env = {
        "PATH": os.pathsep.join(
            [str(STOCK_COOKIECUTTER), str(Path(node).parent), "/usr/bin", "/bin"]
        ),
        "HOME": str(tmp),
    }  # cookiecutter keeps its replay files under $HOME
    return subprocess.run(
        ["node", str(PORTAL / "scaffold.cjs"), *args],
        env=env,
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def press_the_button(template: Path, answers: dict, tmp: Path) -> tuple[Path, dict]:
    """Fill the form with `answers` and run the task: the published workspace, the calls."""
    return press_the_buttons(template, {"press": answers}, tmp)["press"]


def press_the_buttons(template: Path, forms: dict[str, dict], tmp: Path) -> dict:
    """One press per named answer set, in one Backstage process (as a backend runs many
    tasks): {name: (the published workspace, the calls)}; any refused press fails."""
    results = press_each(template, forms, tmp)
    refused = {name: r["error"][-2000:] for name, r in results.items() if "error" in r}
    assert not refused, refused
    return {name: (r["published"], r["result"]) for name, r in results.items()}


def press_each(template: Path, forms: dict[str, dict], tmp: Path) -> dict:
    """{name: {"published": workspace, and "result": the calls, or "error": why refused}}."""
    tmp.mkdir(parents=True, exist_ok=True)
    jobs = {}
    for name, answers in forms.items():
        values, published = tmp / f"{name}.values.json", tmp / name / "published"
        values.write_text(json.dumps(answers | REPO_URL))
        published.mkdir(parents=True)
        jobs[name] = {"values": str(values), "capture": str(published)}
    (tmp / "jobs.json").write_text(json.dumps(jobs))
    run = backstage(
        tmp, "run-many", str(template), str(tmp / "jobs.json"), timeout=PRESS_S * len(jobs)
    )
    assert run.returncode == 0, run.stderr[-4000:]
    results = json.loads(run.stdout)
    return {name: {"published": Path(jobs[name]["capture"])} | results[name] for name in forms}


def copier_copy(src: Path, answers: dict, dst: Path, tag: str = TEMPLATE_TAG) -> Path:
    copier.run_copy(
        str(src),
        dst,
        data=answers,
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref=tag,
        skip_tasks=True,
    )
    return dst


def tree(root: Path) -> dict[str, tuple[bytes, int]]:
    return {
        p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o777)
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.parts
    }


def assert_same_repository(made_by_copier: Path, published: Path) -> tuple[dict, dict]:
    """Same paths, bytes and modes; answers files equal but for _commit and _src_path."""
    want, got = tree(made_by_copier), tree(published)
    answers = ".copier-answers.yml"
    assert sorted(got) == sorted(want)
    assert [p for p in want if p != answers and want[p] != got[p]] == []
    assert want[answers][1] == got[answers][1]
    copier_answers, portal_answers = (yaml.safe_load(t[answers][0]) for t in (want, got))
    release = {"_commit", "_src_path"}
    assert {k: v for k, v in portal_answers.items() if k not in release} == {
        k: v for k, v in copier_answers.items() if k not in release
    }
    lines = [
        [line for line in t[answers][0].decode().splitlines() if line.split(":")[0] not in release]
        for t in (want, got)
    ]
    assert lines[0] == lines[1]
    return copier_answers, portal_answers


@pytest.fixture(scope="module")
def pressed(backstage_installed, tmp_path_factory) -> dict:
    """The button pressed once for each answer set (one Backstage process for them all,
    once per run: tests/fixtures/shared.py); the tests only read what was published."""
    presses = built_once(tmp_path_factory, "portal-answer-sets", press_for_json(ANSWER_SETS))
    refused = {name: press["error"][-2000:] for name, press in presses.items() if "error" in press}
    assert not refused, refused
    return {name: (Path(press["published"]), press["result"]) for name, press in presses.items()}


def press_for_json(forms: dict[str, dict], template: Path = TEMPLATE):
    def build(folder: Path) -> dict:
        presses = press_each(template, forms, folder)
        return {
            name: press | {"published": str(press["published"])} for name, press in presses.items()
        }

    return build


# -------------------------------------------------------------------------- stories
@pytest.mark.timeout(PRESS_S * len(ANSWER_SETS))  # its first test waits for every press
@pytest.mark.parametrize("name", ANSWER_SETS)
def test_the_portal_button_makes_what_copier_makes(pressed, template_src, tmp_path, name):
    answers = ANSWER_SETS[name]
    published, calls = pressed[name]

    made = copier_copy(template_src, answers, tmp_path / "copier")
    _, recorded = assert_same_repository(made, published)
    # The answers name the published template and its release: copier update finds them.
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert recorded["_src_path"] == project["tool"]["redis-scaffold"]["template_url"]
    assert recorded["_commit"] == f"v{project['project']['version']}"
    # catalog:register finds the entity at the root of what was published.
    assert [c["catalogInfoPath"] for c in calls["registered"]] == ["/catalog-info.yaml"]
    entities = list(yaml.safe_load_all((published / "catalog-info.yaml").read_text()))
    assert f"{answers.get('service_name', 'shopping-cart')}-redis" in [
        e["metadata"]["name"] for e in entities
    ]
    assert [c["id"] for c in calls["published"]] == ["publish:github"]


GOOD_FOR_BOTH = [
    ("kms_key_id", "alias/team/key"),
    ("redis_cpu_limit", ""),
    ("secret_recovery_window_days", 0),
    ("redis_replicas", 7),
    ("redis_memory_limit", "1.5Gi"),
    ("redis_cpu_request", "0.25"),
    ("size", "large"),
]
# Bad answers of the copier stories (each proven refused there, naming its field), as
# the form is filled for them. The form must refuse each one that a rule on one field
# can say, and name the field.
TUNED_BAD = {f"bad {f}={v!r}": ({f: v} | TUNED, f) for f, v, _ in BAD_ANSWERS}
CLUSTER = {"topology": "cluster"} | TUNED
CLUSTER_BAD = {
    f"bad cluster {f}={answers!r}": (answers | CLUSTER, f) for answers, f, _ in BAD_CLUSTER_ANSWERS
}
# ElastiCache's own fields, shown only with topology elasticache (and customise).
ELASTICACHE_FORM = {
    k: ORDERS_ELASTICACHE[k]
    for k in ("topology", "vpc_id", "subnet_ids", "app_security_group_id", "customise")
}
ELASTICACHE_BAD = {
    f"bad elasticache {f}={v!r}": (ELASTICACHE_FORM | {f: v} | REPO_URL, f)
    for f, v, _ in BAD_ELASTICACHE_ANSWERS + BAD_NETWORK
}
# What a form checking one field at a time cannot say: rules between two answers, and
# tables and floors that depend on another answer. The fetch step refuses these with
# copier's own validators (test_rules_between_answers_... below).
BEYOND_THE_FORM = {
    "bad sentinel_quorum=1",
    "bad sentinel_quorum=4",
    "bad min_replicas_to_write=3",
    "bad failover_timeout_ms=10000",
    "bad redis_version='6.0.16'",
    "bad sentinel_port=6379",
    "bad storage_size='0Gi'",
    "bad redis_cpu_limit='50m'",
    "bad redis_memory_limit='256Mi'",
    "bad cluster cluster_bus_port={'redis_port': 60000, 'cluster_bus_port': 70000}",
    "bad cluster cluster_bus_port={'cluster_bus_port': 6379}",
    "bad cluster redis_version={'redis_version': '6.2.14'}",
    "bad elasticache node_type='cache.x9.large'",
    "bad elasticache node_type='cache.t4g.large'",
    "bad elasticache node_type='r7g.large'",
    "bad elasticache cache_engine_version='6.2'",
    "bad elasticache cache_engine_version='7.2'",
}
# Bad answers no copier story has: checked against copier here.
PORTAL_ONLY_BAD = [
    ("description", "cache for {{ 7 * 7 }}"),
    ("lifecycle", "retired"),
]


def copier_refuses(template: Path, tmp_path: Path, answers: dict) -> bool:
    try:
        copier.run_copy(
            str(template),
            tmp_path / "refused",
            data=answers,
            defaults=True,
            unsafe=True,
            quiet=True,
            skip_tasks=True,
            pretend=True,
            vcs_ref=TEMPLATE_TAG,
        )
    except ValueError:
        return True
    return False


def test_backstage_accepts_the_template_and_its_form_refuses_what_copier_refuses(
    backstage_installed, template_src, tmp_path
):
    bad = TUNED_BAD | CLUSTER_BAD | ELASTICACHE_BAD
    bad |= {f"bad {n}={v!r}": ({n: v} | TUNED, n) for n, v in PORTAL_ONLY_BAD}
    forms = {name: answers | REPO_URL for name, answers in ANSWER_SETS.items()}
    forms |= {f"good {n}={v!r}": {n: v} | TUNED for n, v in GOOD_FOR_BOTH}
    forms |= {name: answers for name, (answers, _) in bad.items()}
    (tmp_path / "forms.json").write_text(json.dumps(forms))

    run = backstage(tmp_path, "validate", str(TEMPLATE), str(tmp_path / "forms.json"))

    assert run.returncode == 0, run.stderr[-4000:]
    verdicts = json.loads(run.stdout)
    assert verdicts["entity"] == "ok"
    refused_by_form = {name for name, errors in verdicts["forms"].items() if errors}
    assert BEYOND_THE_FORM <= bad.keys()  # a stale entry would hide nothing
    assert refused_by_form == bad.keys() - BEYOND_THE_FORM
    for name in refused_by_form:  # the form's errors name the field
        field = bad[name][1]
        assert any(field in error for error in verdicts["forms"][name]), name
    # copier agrees: the stories above prove the imported bad answers; these are new.
    tuned = {"customise": True}
    assert [
        (n, v)
        for n, v in PORTAL_ONLY_BAD
        if not copier_refuses(template_src, tmp_path, {n: v} | tuned)
    ] == []
    assert [
        (n, v) for n, v in GOOD_FOR_BOTH if copier_refuses(template_src, tmp_path, {n: v} | tuned)
    ] == []


# Rules between two answers: a static form cannot say them, so the fetch step refuses
# them with copier's own message, before anything is published.
CROSS_FIELD = {
    "sentinel_quorum": {"sentinel_quorum": 1},
    "sentinel_port": {"sentinel_port": 6379},
    "redis_cpu_limit": {"redis_cpu_request": "2", "redis_cpu_limit": "1"},
    "redis_memory_limit": {"redis_memory_request": "2Gi", "redis_memory_limit": "1Gi"},
    # The release floor depends on the engine (Redis 6.2, Valkey 7.2).
    "redis_version": {"engine": "valkey", "redis_version": "7.0.15"},
    # ElastiCache's engine versions depend on the engine (Valkey 7.2+, Redis OSS 7.0-7.1).
    "cache_engine_version": {
        "topology": "elasticache",
        "engine": "valkey",
        "vpc_id": "vpc-0123456789abcdef0",
        "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "app_security_group_id": "sg-0123456789abcdef0",
        "cache_engine_version": "7.1",
    },
    # A rule the form cannot say (a table of ElastiCache's node families and their sizes).
    "node_type": ELASTICACHE_FORM | {"node_type": "cache.t4g.xlarge"},
    # The cluster bus port must differ from the client port.
    "cluster_bus_port": {"topology": "cluster", "cluster_bus_port": 6379},
    # A generated SecretStore needs the cluster's OIDC provider; a ClusterSecretStore refuses one.
    "oidc_provider_arn": {
        "secret_delivery": "external-secrets",
        "secret_store": "",
        "oidc_provider_arn": "",
    },
}


@pytest.fixture(scope="module")
def cross_field_presses(backstage_installed, tmp_path_factory) -> dict:
    forms = {field: answers | {"customise": True} for field, answers in CROSS_FIELD.items()}
    presses = built_once(tmp_path_factory, "portal-cross-field", press_for_json(forms))
    return {
        name: press | {"published": Path(press["published"])} for name, press in presses.items()
    }


@pytest.mark.timeout(PRESS_S * len(CROSS_FIELD))
@pytest.mark.parametrize("field", CROSS_FIELD)
def test_rules_between_answers_stop_the_button_before_anything_is_published(
    cross_field_presses, template_src, tmp_path, field
):
    assert copier_refuses(template_src, tmp_path, CROSS_FIELD[field] | {"customise": True})

    press = cross_field_presses[field]

    assert "error" in press, f"the button published {field}={CROSS_FIELD[field]}"
    assert f"Validation error for question {field}: must " in press["error"]
    assert list(press["published"].iterdir()) == []


OLD, NEW = "v0.1.0", "v0.2.0"
RELEASED_FORM = {"service_name": "ledger", "customise": True, "kms_key_id": "alias/ledger"}


@pytest.fixture(scope="module")
def released_template(tmp_path_factory) -> tuple[Path, Path]:
    """The template at OLD, and at NEW with two conditional files, a conditional folder
    and a README edit; backstage/ exported at each release: (repo, exports / TAG).
    Built once per run; its tests only clone and read it."""
    repo, exports = built_once(tmp_path_factory, "portal-releases", release_two_versions)
    return Path(repo), Path(exports)


def release_two_versions(folder: Path) -> list[str]:
    repo = snapshot_template(folder / "released", OLD)
    exports = folder / "exports"
    export.write(exports / OLD, export.render(repo, str(repo), OLD))
    tpl = repo / "template"
    (tpl / "{% if kms_key_id %}KMS.md{% endif %}.jinja").write_text(
        "Encrypted with {{ kms_key_id }}.\n"
    )
    # A file name that tests an answer the form shows for Sentinel only, without repeating
    # its `when`: where the form did not show it, copier's default decides, in both.
    (tpl / "{% if 'python' in client_languages %}PYTHON.md{% endif %}.jinja").write_text(
        "Python client for {{ topology }}.\n"
    )
    limits = tpl / "{% if redis_cpu_limit %}limits{% endif %}"
    limits.mkdir()
    (limits / "README.md.jinja").write_text("CPU limit: {{ redis_cpu_limit }}\n")
    readme = tpl / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nRelease notes: CHANGELOG.md.\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "new")
    git(repo, "tag", NEW)
    export.write(exports / NEW, export.render(repo, str(repo), NEW))
    return [str(repo), str(exports)]


def test_a_portal_repository_follows_the_template_with_copier_update(
    backstage_installed, released_template, tmp_path
):
    repo_src, exports = released_template
    answers = RELEASED_FORM
    repo, _ = press_the_button(exports / OLD / "template.yaml", answers, tmp_path / "old")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "init")

    copier.run_update(
        repo,
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
        vcs_ref=NEW,
        conflict="inline",
    )

    assert yaml.safe_load((repo / ".copier-answers.yml").read_text())["_commit"] == NEW
    assert "Release notes: CHANGELOG.md." in (repo / "README.md").read_text()
    assert (repo / "KMS.md").read_text() == "Encrypted with alias/ledger.\n"
    assert not (repo / "limits").exists()  # its name renders empty: copier skips it
    # The updated repository is what both routes make at the new release; the portal's
    # conditional parts are steps with `if:` that Backstage's runner evaluates.
    fresh = copier_copy(repo_src, answers, tmp_path / "copier-new", NEW)
    assert tree(fresh) == tree(repo)
    assert (repo / "PYTHON.md").read_text() == "Python client for sentinel.\n"


def test_the_new_releases_conditional_parts_are_what_copier_makes(
    backstage_installed, released_template, tmp_path
):
    repo_src, exports = released_template
    answers = RELEASED_FORM
    conditional = {
        "limits": {"redis_cpu_limit": "2"},
        "no-kms": {"kms_key_id": ""},
        "cluster": {"topology": "cluster"},  # client_languages not shown: copier's [python]
        "node-only": {"client_languages": ["node"]},
    }
    forms = {name: answers | extra for name, extra in conditional.items()}
    presses = press_the_buttons(exports / NEW / "template.yaml", forms, tmp_path / "new")
    for name, form in forms.items():
        made = copier_copy(repo_src, form, tmp_path / f"copier-{name}", NEW)
        assert_same_repository(made, presses[name][0])


def test_the_committed_portal_files_are_fresh(tmp_path):
    assert cli.main(["backstage", "export", "--check"]) == 0, (
        "backstage/ is stale: run `redis-scaffold backstage export`"
    )
    out = tmp_path / "backstage"
    assert cli.main(["backstage", "export", "--out", str(out)]) == 0
    (out / "template.yaml").write_text("edited by hand\n")
    assert cli.main(["backstage", "export", "--out", str(out), "--check"]) == 1
