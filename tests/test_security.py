"""Security scan of every generated variant, offline: checkov on the rendered manifests
(`kubectl kustomize` of each kustomization) and on the Terraform, zizmor on the GitHub
workflows. The scanners live in their own environment (scripts/scan-venv.sh, pinned by
tests/scan-requirements.txt), built before the tests go offline.

Story: a security reviewer asks what the scanners say about the repositories this
template generates. Every finding is either fixed in the template or waived, with a
reason, in security/waivers.yml, which docs/security.md shows as a table. A new finding
fails here, and so does a waiver that no variant triggers any more (stale waivers go).

The sample app (manifest/examples/) stands in for the team's own Deployment, which its
own repository scans: there only the findings that the template's components add
count, that is, those the stand-in rendered without the components does not have.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

import copier
import pytest
import yaml

from tests.fixtures.generation import REPO_ROOT, TEMPLATE_TAG

WAIVERS_FILE = REPO_ROOT / "security" / "waivers.yml"
SCANNERS = ("checkov", "zizmor")

# A well-formed digest that names no real image: the scan reads the reference, never pulls.
TEST_DIGEST = "sha256:" + hashlib.sha256(b"redis-scaffold test digest").hexdigest()

# The variants scanned. Every choice of the questions in CHOICE_QUESTIONS that copier.yml
# offers is added on its own (with CHOICE_ANSWERS when it needs more answers), so a new
# size, topology, engine, secret delivery or monitoring is scanned the day it appears.
VARIANTS = {
    "defaults": {},
    "customised": {
        "customise": True,
        "kms_key_id": "alias/shopping-cart-redis",
        "redis_cpu_limit": "1",
        "storage_class": "gp3-encrypted",
        "redis_replicas": 5,
        "redis_image_digest": TEST_DIGEST,
    },
    # Encryption in transit: the certificate's volume and the exporters over TLS.
    "tls": {
        "tls": True,
        "tls_issuer": "ClusterIssuer/platform-ca",
        "monitoring": "prometheus-operator",
    },
    # The scheduled rotation: its CronJob, ServiceAccount, NetworkPolicy and IAM role,
    # on Redis Cluster with mutual TLS (the runner mounts the servers' certificate).
    "rotation": {
        "rotation": True,
        "rotation_image": "registry.example.com/platform/redis-scaffold@" + TEST_DIGEST,
        "rotation_oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
        "topology": "cluster",
        "tls": True,
        "tls_issuer": "ClusterIssuer/platform-ca",
        "customise": True,
        "tls_auth_clients": "yes",
    },
}
CHOICE_QUESTIONS = ("size", "topology", "engine", "secret_delivery", "monitoring")
CHOICE_ANSWERS = {
    "topology=elasticache": {
        "vpc_id": "vpc-0123456789abcdef0",
        "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
        "app_security_group_id": "sg-0123456789abcdef0",
    },
    "secret_delivery=external-secrets": {
        "oidc_provider_arn": "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE",
    },
}

CHECKOV_TIMEOUT = 600  # seconds, for all variants at once (about 15 s here)
ZIZMOR_TIMEOUT = 120


def all_variants() -> dict[str, dict]:
    questions = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())
    variants = dict(VARIANTS)
    for name in CHOICE_QUESTIONS:
        question = questions.get(name)
        if not isinstance(question, dict) or "choices" not in question:
            continue
        choices = question["choices"]
        for value in choices.values() if isinstance(choices, dict) else choices:
            if value != question.get("default"):
                key = f"{name}={value}"
                variants[key] = {name: value, **CHOICE_ANSWERS.get(key, {})}
    return variants


# ------------------------------------------------------------------ waivers
def load_waivers() -> list[dict]:
    return yaml.safe_load(WAIVERS_FILE.read_text())["waivers"]


def waived_keys(waivers: list[dict]) -> set[tuple[str, str, str]]:
    return {(w["scanner"], w["check"], where) for w in waivers for where in w["where"]}


# ----------------------------------------------------------------- scanners
def scanner_env(home: Path) -> dict[str, str]:
    """No API key, no platform URL, no token: nothing that would make a scanner call out."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "ZIZMOR_OFFLINE": "true",
        "LOG_LEVEL": "WARNING",
    }


@pytest.fixture(scope="session")
def scan_venv() -> Path:
    out = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts/scan-venv.sh"), "--offline"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if out.returncode != 0:
        pytest.fail(
            "the security scanners' environment is missing: run `bash scripts/scan-venv.sh` "
            f"(`make test` does) before the offline tests.\n{out.stderr.strip()}"
        )
    venv = Path(out.stdout.strip().splitlines()[-1])
    for tool in SCANNERS:
        if not (venv / "bin" / tool).exists():
            pytest.fail(f"{venv} has no {tool}: rebuild it with `bash scripts/scan-venv.sh`")
    return venv


def kustomize(path: Path) -> str:
    out = subprocess.run(
        ["kubectl", "kustomize", str(path)], capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, f"kubectl kustomize {path}: {out.stderr}"
    return out.stdout


def render_variant(repo: Path, dst: Path) -> dict[str, str]:
    """Write what checkov scans for one generated repository into dst; return the
    kustomizations rendered, mapped to their stand-in baseline (or '')."""
    (dst / "k8s").mkdir(parents=True)
    targets = {}
    for path in sorted(repo.rglob("kustomization.yaml")):
        doc = yaml.safe_load(path.read_text())
        if doc["kind"] == "Component":
            continue  # scanned as part of the kustomizations that use it
        target = path.parent.relative_to(repo).as_posix()
        slug = target.replace("/", "__")
        (dst / "k8s" / f"{slug}.yaml").write_text(kustomize(path.parent))
        baseline = ""
        if target.startswith("manifest/examples/"):
            # The stand-in without the template's components: what the team brings.
            bare = dst / "standin" / slug
            shutil.copytree(path.parent, bare)
            doc.pop("components", None)
            (bare / "kustomization.yaml").write_text(yaml.safe_dump(doc))
            baseline = f"{slug}.standin"
            (dst / "k8s" / f"{baseline}.yaml").write_text(kustomize(bare))
            shutil.rmtree(dst / "standin")
        targets[slug] = baseline
    shutil.copytree(
        repo / "terraform",
        dst / "terraform",
        ignore=shutil.ignore_patterns(".terraform*", "*.tfstate*"),
    )
    return targets


def checkov_reports(venv: Path, root: Path, home: Path) -> list[dict]:
    out = subprocess.run(
        [
            str(venv / "bin/checkov"),
            "--directory",
            str(root),
            "--framework",
            "kubernetes",
            "terraform",
            "--skip-download",  # no guidelines, severities or policies from the platform
            "--output",
            "json",
            "--compact",
            "--soft-fail",
        ],
        capture_output=True,
        text=True,
        timeout=CHECKOV_TIMEOUT,
        cwd=root,
        env=scanner_env(home),
    )
    assert out.returncode == 0, f"checkov failed:\n{out.stderr[-3000:]}"
    reports = json.loads(out.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    for report in reports:
        assert report["summary"]["parsing_errors"] == 0, (
            f"checkov could not parse: {report['summary']}"
        )
    return reports


def zizmor_findings(venv: Path, repos: Path, home: Path) -> list[dict]:
    """One zizmor run over the workflows of every variant under `repos` (one process
    instead of one per variant: its start-up is most of its cost)."""
    out = subprocess.run(
        [
            str(venv / "bin/zizmor"),
            "--offline",
            "--no-config",
            "--no-ignores",  # waivers live in security/waivers.yml only, never inline
            "--persona",
            "pedantic",
            "--format",
            "json",
            "--no-exit-codes",
            "--no-progress",
            *sorted(f"{p.name}/.github/workflows" for p in repos.iterdir()),
        ],
        capture_output=True,
        text=True,
        timeout=ZIZMOR_TIMEOUT,
        cwd=repos,
        env=scanner_env(home),
    )
    assert out.returncode == 0, f"zizmor failed:\n{out.stderr[-3000:]}"
    return json.loads(out.stdout)


# -------------------------------------------------------------------- scan
def scan(venv: Path, template_src: Path, work: Path) -> tuple[list[dict], dict[str, Counter]]:
    """Every finding of every variant, and per variant and scanner the figures."""
    root, home = work / "scan", work / "home"
    home.mkdir()
    variants = all_variants()
    targets, repos = {}, {}
    for name, answers in variants.items():
        repo = work / "repos" / name.replace("=", "-")
        try:
            copier.run_copy(
                str(template_src),
                repo,
                data=answers,
                defaults=True,
                unsafe=True,
                quiet=True,
                vcs_ref=TEMPLATE_TAG,
                skip_tasks=True,
            )
        except ValueError as exc:
            pytest.fail(
                f"variant {name} does not generate with {answers}: {exc}\n"
                "give it the answers it needs in CHOICE_ANSWERS"
            )
        repos[name] = repo
        targets[name] = render_variant(repo, root / name.replace("=", "-"))

    findings: list[dict] = []
    figures: dict[str, Counter] = {name: Counter() for name in variants}
    by_dir = {name.replace("=", "-"): name for name in variants}

    failed: dict[tuple[str, str], dict[tuple[str, str, str], dict]] = {}
    for report in checkov_reports(venv, root, home):
        for status in ("passed_checks", "failed_checks"):
            for result in report["results"].get(status, []):
                parts = Path(result["file_path"].lstrip("/")).parts
                variant, kind = by_dir[parts[0]], parts[1]
                if kind == "k8s":
                    target = parts[2].removesuffix(".yaml")
                    res_kind, _, rest = result["resource"].partition(".")
                    name = rest.split(".", 1)[-1]  # without the namespace
                    where = f"{target.replace('__', '/')} {res_kind}"
                else:
                    target, where = "terraform", f"terraform {result['resource'].split('.')[0]}"
                    res_kind, name = result["resource"].split(".")[:2]
                if status == "passed_checks":
                    if not target.endswith(".standin"):
                        figures[variant]["checkov passed"] += 1
                    continue
                failed.setdefault((variant, target), {})[(result["check_id"], res_kind, name)] = {
                    "scanner": "checkov",
                    "check": result["check_id"],
                    "where": where,
                    "variant": variant,
                    "resource": result["resource"],
                    "title": result["check_name"],
                }
    for (variant, target), results in failed.items():
        if target.endswith(".standin"):
            continue
        baseline = targets[variant].get(target, "")
        brought = failed.get((variant, baseline), {}) if baseline else {}
        for key, finding in results.items():
            if key in brought:
                figures[variant]["checkov stand-in"] += 1  # the team's own Deployment, not ours
            else:
                findings.append(finding)

    for name, repo in repos.items():
        figures[name]["zizmor workflows"] = len(list((repo / ".github/workflows").glob("*.yml")))
    by_repo = {repo.name: name for name, repo in repos.items()}
    for result in zizmor_findings(venv, work / "repos", home):
        location = result["locations"][0]
        verbatim = Path(location["symbolic"]["key"]["Local"]["verbatim_path"])
        name, path = by_repo[verbatim.parts[0]], Path(*verbatim.parts[1:]).as_posix()
        findings.append(
            {
                "scanner": "zizmor",
                "check": result["ident"],
                "where": f"{path} workflow",
                "variant": name,
                "title": result["desc"],
                "resource": f"{path}:{location['concrete']['location']['start_point']['row'] + 1}",
            }
        )
    return findings, figures


def figures_table(findings: list[dict], figures: dict[str, Counter], waived: set) -> str:
    for f in findings:
        ok = (f["scanner"], f["check"], f["where"]) in waived
        figures[f["variant"]][f"{f['scanner']} {'waived' if ok else 'failed'}"] += 1
    lines = [
        "variant: checkov passed/failed/waived (stand-in findings not counted); zizmor workflows/failed/waived"
    ]
    for variant, c in figures.items():
        lines.append(
            f"  {variant}: checkov {c['checkov passed']}/{c['checkov failed']}/{c['checkov waived']}"
            f" ({c['checkov stand-in']}); zizmor {c['zizmor workflows']}/{c['zizmor failed']}/{c['zizmor waived']}"
        )
    return "\n".join(lines)


# -------------------------------------------------------------------- tests
@pytest.mark.slow
def test_every_finding_is_fixed_or_waived_and_no_waiver_is_stale(scan_venv, template_src, tmp_path):
    waivers = load_waivers()
    waived = waived_keys(waivers)
    findings, figures = scan(scan_venv, template_src, tmp_path)
    table = figures_table(findings, figures, waived)
    print(table)

    new = sorted(
        {
            (f["scanner"], f["check"], f["where"], f["title"])
            for f in findings
            if (f["scanner"], f["check"], f["where"]) not in waived
        }
    )
    seen = {(f["scanner"], f["check"], f["where"]) for f in findings}
    stale = sorted(waived - seen)
    problems = []
    if new:
        problems.append(
            "new findings (fix them in the template, or waive them with a reason in "
            "security/waivers.yml):\n"
            + "\n".join(
                f"  {s} {c} at {w}: {t} (variants: "
                + ", ".join(
                    sorted({f["variant"] for f in findings if (f["check"], f["where"]) == (c, w)})
                )
                + ")"
                for s, c, w, t in new
            )
        )
    if stale:
        problems.append(
            "stale waivers (no variant triggers them any more: remove them from "
            "security/waivers.yml and run scripts/security-waivers.py):\n"
            + "\n".join(f"  {s} {c} at {w}" for s, c, w in stale)
        )
    assert not problems, "\n\n".join(problems) + "\n\n" + table
    # Every variant was scanned by both scanners (ElastiCache has no secret to provision,
    # so no provision workflow: only the template-update one).
    for variant, c in figures.items():
        workflows = 1 if variant == "topology=elasticache" else 2
        assert c["checkov passed"] > 50 and c["zizmor workflows"] >= workflows, (variant, c)


def test_waivers_say_why():
    waivers = load_waivers()
    assert waivers, "security/waivers.yml lists no waiver"
    keys = [(w["scanner"], w["check"]) for w in waivers]
    assert len(keys) == len(set(keys)), "one entry per check: list every place under its `where`"
    for w in waivers:
        assert set(w) == {"check", "scanner", "title", "where", "reason"}, w.get("check")
        assert w["scanner"] in SCANNERS, w["check"]
        assert w["where"] and all(isinstance(x, str) and " " in x for x in w["where"]), w["check"]
        assert len(w["reason"].split()) >= 40, (
            f"{w['check']}: a reason a reviewer can weigh, please"
        )


def test_docs_security_lists_every_waiver():
    out = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts/security-waivers.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    doc = (REPO_ROOT / "docs/security.md").read_text()
    for w in load_waivers():
        assert f"`{w['check']}`" in doc


def test_container_identity_and_image_pinning(generate):
    """Non-root UID >= 10000 with fsGroup on the pod; the digest answer pins
    image:tag@digest and keeps the tag; IfNotPresent either way."""
    for answers, image in (
        ({}, "redis:7.4.6"),
        ({"customise": True, "redis_image_digest": TEST_DIGEST}, f"redis:7.4.6@{TEST_DIGEST}"),
    ):
        repo = generate(answers, name="digest" if answers else "plain")
        objs = [d for d in yaml.safe_load_all(kustomize(repo / "manifest/redis/base")) if d]
        (sts,) = [o for o in objs if o["kind"] == "StatefulSet"]
        pod = sts["spec"]["template"]["spec"]
        psc = pod["securityContext"]
        assert psc["runAsNonRoot"] is True and psc["runAsUser"] >= 10000
        assert psc["runAsGroup"] == psc["fsGroup"] == psc["runAsUser"]
        for c in pod["containers"]:
            assert c["image"] == image and c["imagePullPolicy"] == "IfNotPresent"
            assert "runAsUser" not in c["securityContext"]  # the pod's UID holds for both
        # Everything the scripts write goes to the two writable mounts (data: fsGroup; run: emptyDir).
        assert {
            m["mountPath"]
            for c in pod["containers"]
            for m in c["volumeMounts"]
            if not m.get("readOnly")
        } == {"/data", "/run/redis"}


@pytest.mark.parametrize(
    "digest", ["sha256:abc", "sha512:" + "a" * 64, "sha256:" + "A" * 64, "7.4.6@sha256:" + "a" * 64]
)
def test_bad_digest_is_refused(generate, tmp_path, digest):
    with pytest.raises(ValueError) as excinfo:
        generate({"customise": True, "redis_image_digest": digest}, name="rejected")
    assert "'redis_image_digest'" in str(excinfo.value) and "sha256:" in str(excinfo.value)
