"""The generated workflows, run step by step as a GitHub runner runs them.

A platform team released the template (a real `vX.Y.Z` tag in a clone, reached through a
`file://` URL as a runner would reach a git host); a service team generated its
repository from it and pushed. Every `run:` step of every generated workflow then runs
in bash with the runner's environment (tests/fixtures/workflow_runner.py), pip offline
from the install routes' wheelhouse, and the OIDC role's credentials replaced by the AWS
emulator's. Nothing else is faked: the hooks are installed from the tag by pip, the
secret is created by the installed `redis-scaffold`, copier compares the real tags.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import copier
import pytest
import yaml

from redis_scaffold.sandbox import emulator
from tests.fixtures.aws import assert_absent
from tests.fixtures.generation import TEMPLATE_TAG, git
from tests.fixtures.workflow_runner import Runner

ELASTICACHE = {
    "topology": "elasticache",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "app_security_group_id": "sg-0123456789abcdef0",
}
VARIANTS = {
    "sentinel-avp": {},
    "sentinel-eso": {"secret_delivery": "external-secrets", "secret_store": "aws-secrets-manager"},
    "cluster": {"topology": "cluster"},
    "elasticache": ELASTICACHE,
}
# What the check job reports on a GitHub-hosted runner, outside the cluster's network:
# the hooks installed, the password read from the secret, the in-cluster address unreachable.
UNREACHABLE = {"sentinel": 21, "cluster": 31}


@pytest.fixture(scope="module")
def release(template_src, tmp_path_factory):
    """The platform team's release: a clone of the template with its vX.Y.Z tag."""
    clone = tmp_path_factory.mktemp("release") / "redis-template.git"  # copier: .git means git
    git(template_src.parent, "clone", "-q", str(template_src), str(clone))
    assert git(clone, "tag", "--list").split() == [TEMPLATE_TAG]
    return clone


def make_repository(release, dst, answers: dict):
    """copier copy from the file:// URL, then the service team's first commit."""
    copier.run_copy(
        f"file://{release}",
        dst,
        data=answers,
        defaults=True,
        unsafe=True,
        quiet=True,
        vcs_ref=TEMPLATE_TAG,
        skip_tasks=True,
    )
    git(dst, "init", "-q", "-b", "main")
    git(dst, "add", "-A")
    git(dst, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "new")
    return dst


@pytest.fixture(scope="module")
def toolcache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("toolcache")


@pytest.fixture
def runner(routes, aws_env, tmp_path, toolcache):
    """A runner with no project venv on PATH, pip offline, no AWS settings of its own."""
    terraform = shutil.which("terraform")
    path = [os.path.dirname(terraform)] if terraform else []
    home = tmp_path / "home"
    home.mkdir()
    base = {
        "PATH": os.pathsep.join([*path, "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(routes.wheelhouse),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return Runner(base, emulator.aws_env(aws_env.endpoint), tmp_path / "runner", toolcache)


@pytest.fixture(scope="module")
def repositories(release, tmp_path_factory) -> dict[str, Path]:
    """Each variant's repository, generated from the release once for this module."""
    return {
        variant: make_repository(
            release, tmp_path_factory.mktemp(variant) / "shopping-cart-redis", answers
        )
        for variant, answers in VARIANTS.items()
    }


def distinct_workflows(repositories: dict[str, Path], name: str) -> dict[str, list[str]]:
    """The variants that generate `name`, grouped by the file's content: the first of each
    group -> all of them. The steps of identical files are the same steps: they run once."""
    groups: dict[bytes, list[str]] = {}
    for variant, repo in repositories.items():
        path = repo / ".github/workflows" / name
        if path.is_file():
            groups.setdefault(path.read_bytes(), []).append(variant)
    return {variants[0]: variants for variants in groups.values()}


def run_steps(workflow: dict) -> set[tuple[str, str]]:
    return {
        (job_id, step.get("name", ""))
        for job_id, job in workflow["jobs"].items()
        for step in job["steps"]
        if "run" in step
    }


def show(runs) -> str:
    return "\n".join(
        f"--- {job}/{step.name}: exit {step.returncode}\n{step.stdout[-1500:]}{step.stderr[-2500:]}"
        for job, run in runs.items()
        for step in run.steps
    )


def test_each_topology_gets_its_workflows_from_the_release(release, repositories):
    for variant, repo in repositories.items():
        recorded = yaml.safe_load((repo / ".copier-answers.yml").read_text())
        assert recorded["_src_path"] == f"file://{release}"
        assert recorded["_commit"] == TEMPLATE_TAG
        workflows = sorted(p.name for p in (repo / ".github/workflows").iterdir())
        assert workflows == (
            ["template-update.yml"]
            if VARIANTS[variant].get("topology") == "elasticache"
            else ["provision.yml", "template-update.yml"]
        ), variant


def test_template_update_runs_on_a_pull_request(repositories, runner):
    """A pull request: the repository is on the template's latest release."""
    for variant in distinct_workflows(repositories, "template-update.yml"):
        repo = repositories[variant]
        runs = runner.run_workflow(repo, "template-update.yml", "pull_request")
        assert list(runs) == ["check-update"] and runs["check-update"].ok, show(runs)
        assert '"update_available": false' in runs["check-update"].output.replace("\n", " ")
        assert "::warning::" not in runs["check-update"].output
        executed = {("check-update", step.name) for step in runs["check-update"].steps}
        document = yaml.safe_load((repo / ".github/workflows/template-update.yml").read_text())
        assert run_steps(document) <= executed, run_steps(document) - executed


@pytest.mark.parametrize("topology", ["sentinel", "cluster"])
def test_provision_creates_the_secret_and_runs_the_check_on_a_runner(
    topology, repositories, runner, aws_env
):
    """The first push to main creates the secret; the check runs on demand. Each distinct
    provision.yml of the topology runs (the Sentinel deliveries share one file)."""
    groups = {
        first: variants
        for first, variants in distinct_workflows(repositories, "provision.yml").items()
        if VARIANTS[first].get("topology", "sentinel") == topology
    }
    assert groups, f"no {topology} variant generates provision.yml"
    for variant in groups:
        repo = repositories[variant]
        executed: set[tuple[str, str]] = set()
        emulator.reset(aws_env.endpoint)  # each repository's first push meets an empty account
        # The first push to main: the hooks, installed by pip from the tag, create the secret.
        runs = runner.run_workflow(repo, "provision.yml", "push", variables={"AWS_ROLE_ARN": "x"})
        assert list(runs) == ["secret-ensure"] and runs["secret-ensure"].ok, show(runs)
        secret = aws_env.client().get_secret_value(SecretId="shopping-cart-redis")
        assert "secret shopping-cart-redis: created" in runs["secret-ensure"].output
        assert_absent(secret["SecretString"], runs["secret-ensure"].output, "the job's log")
        for value in yaml.safe_load(secret["SecretString"]).values():
            assert_absent(value, runs["secret-ensure"].output, "the job's log")
        executed |= {("secret-ensure", step.name) for step in runs["secret-ensure"].steps}

        # The check on demand, on a GitHub-hosted runner: everything up to the connection
        # works (hooks installed, password read from the secret); the in-cluster address
        # is out of reach, which --strict reports with its exit code.
        runs = runner.run_workflow(
            repo,
            "provision.yml",
            "workflow_dispatch",
            inputs={"job": f"{topology}-check"},
            variables={"AWS_ROLE_ARN": "x"},
        )
        job = runs[f"{topology}-check"]
        assert list(runs) == [f"{topology}-check"]
        *installed, checked = job.steps
        assert all(step.returncode == 0 for step in installed), show(runs)
        assert (
            checked.name
            == f"Check the {'Redis Cluster' if topology == 'cluster' else 'Sentinel'} topology"
        )
        assert checked.returncode == UNREACHABLE[topology], show(runs)
        assert "unreachable" in checked.stderr and "Traceback" not in checked.stderr
        assert ".svc.cluster.local" in checked.stderr
        for value in yaml.safe_load(secret["SecretString"]).values():
            assert_absent(value, job.output, "the check job's log")
        executed |= {(f"{topology}-check", step.name) for step in job.steps}

        # Every run: step of the file ran above.
        document = yaml.safe_load((repo / ".github/workflows/provision.yml").read_text())
        assert run_steps(document) <= executed, run_steps(document) - executed


def test_a_newer_release_warns_on_pull_requests_and_fails_the_weekly_run(release, runner, tmp_path):
    clone = tmp_path / "redis-template.git"
    git(release.parent, "clone", "-q", str(release), str(clone))
    repo = make_repository(clone, tmp_path / "shopping-cart-redis", {})
    major, minor, patch = TEMPLATE_TAG[1:].split(".")
    newer = f"v{major}.{minor}.{int(patch) + 1}"
    git(clone, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q",
        "--allow-empty", "-m", "next release")  # fmt: skip
    git(clone, "tag", newer)

    runs = runner.run_workflow(repo, "template-update.yml", "pull_request")
    assert runs["check-update"].ok, show(runs)
    assert "::warning::The template has a newer release" in runs["check-update"].output

    runs = runner.run_workflow(repo, "template-update.yml", "schedule")
    assert not runs["check-update"].ok
    assert "::error::The template has a newer release" in runs["check-update"].output


def test_the_expression_stand_in_follows_githubs_rules():
    from tests.fixtures.workflow_runner import evaluate, substitute

    context = {"github": {"event_name": "push"}, "inputs": {}, "vars": {"X": "lbl"}}
    assert evaluate("github.event_name == 'push' || inputs.job == 'a'", context) is True
    assert (
        evaluate("github.event_name == 'workflow_dispatch' && inputs.job == 'a'", context) is False
    )
    assert (
        substitute("${{ vars.Y || 'ubuntu-latest' }} ${{ vars.X || 'u' }}", context)
        == "ubuntu-latest lbl"
    )
    assert substitute("${{ github.event_name != 'pull_request' }}", context) == "true"


# ------------------------------------------------------------ actionlint and shellcheck
def lint_tool(name: str) -> str:
    tool = shutil.which(name, path=os.path.dirname(sys.executable))
    if tool is None:
        pytest.fail(f"{name} is not installed next to {sys.executable}: run scripts/bootstrap.sh")
    return tool


def actionlint(*paths) -> list[dict]:
    """actionlint's findings, with shellcheck on every run: script (both from .[test])."""
    result = subprocess.run(
        [lint_tool("actionlint"), "-shellcheck", lint_tool("shellcheck"), "-format", "{{json .}}"]
        + [str(p) for p in paths],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode in (0, 1), result.stderr
    return json.loads(result.stdout or "[]")


def test_actionlint_runs_shellcheck_on_run_scripts(tmp_path):
    """The check below would pass vacuously if shellcheck were not run: show it is."""
    workflow = tmp_path / "lint.yml"
    workflow.write_text(
        "on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
        "      - run: |\n          x=$(date)\n          echo $x\n"
    )
    assert [f["message"].split(":")[1].strip() for f in actionlint(workflow)] == ["SC2086"]


def test_actionlint_and_shellcheck_pass_on_every_generated_workflow(repositories):
    workflows = {
        repositories[first] / ".github/workflows" / name
        for name in ("template-update.yml", "provision.yml")
        for first in distinct_workflows(repositories, name)
    }
    assert len(workflows) >= 3  # template-update, and provision for Sentinel and for Cluster
    findings = actionlint(*sorted(workflows))
    assert findings == [], "\n".join(
        f"{f['filepath']}:{f['line']}: {f['message']}" for f in findings
    )
