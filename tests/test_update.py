"""A team lives with its generated repository across template releases.

The template's releases are built by tests/fixtures/versions.py: v1 is the working tree,
v2 renames an answer (with the migration such a release adds), renames a file, adds a
manifest, bumps a default and changes the README's first line. The last story starts
from the real 0.1.0 release (tests/fixtures/releases.py).
"""

from __future__ import annotations

import json
import shlex
import shutil
from pathlib import Path

import copier
import pytest
import yaml

from redis_scaffold.cli import main
from redis_scaffold.project import read_answers
from tests.fixtures.generation import git
from tests.fixtures.releases import NEXT
from tests.fixtures.versions import (
    ADDED_MANIFEST,
    NEW_WORKFLOW,
    OLD_WORKFLOW,
    README_V2_MARK,
    TEAM_TITLE,
    TEAM_WORKFLOW_LINE,
    V1,
    V2,
    TemplateVersions,
    commit_all,
    fresh_copy,
    generate_service,
    init_repo,
    overlapping_edit,
    run,
    team_edits,
    tree,
)


@pytest.fixture(scope="session")
def pristine_v1(template_versions, tmp_path_factory) -> Path:
    """One service generated at the oldest release, customised to 5 pods, committed."""
    return generate_service(
        template_versions,
        tmp_path_factory.mktemp("pristine") / "cart",
        V1,
        {"customise": True, "redis_replicas": 5},
    )


@pytest.fixture
def service(pristine_v1, tmp_path) -> Path:
    return Path(shutil.copytree(pristine_v1, tmp_path / "cart", symlinks=True))


def answers(project: Path) -> dict:
    return read_answers(project)


def rendered_path(template_path: str) -> str:
    return template_path.removeprefix("template/").removesuffix(".jinja")


def check_script(project: Path):
    return run(["sh", "scripts/check-conflicts.sh"], project)


def pre_commit_hook(project: Path):
    """Run the conflict hook exactly as pre-commit would: its entry, no file names."""
    config = yaml.safe_load((project / ".pre-commit-config.yaml").read_text())
    (hook,) = [h for r in config["repos"] for h in r["hooks"] if h["id"] == "no-update-conflicts"]
    assert hook["pass_filenames"] is False and hook["always_run"] is True
    return run(shlex.split(hook["entry"]), project)


def test_update_keeps_team_edits_migrates_answers_and_equals_a_fresh_copy(
    template_versions, service, tmp_path, capsys
):
    # A team generated its service at the oldest release with 5 pods, then made its edits.
    project = service
    v1_redis_version = answers(project)["redis_version"]
    marks = team_edits(project)
    commit_all(project, "team edits")

    assert main(["update", str(project), "--defaults"]) == 0
    out = capsys.readouterr()
    assert f"is now on template release {V2}" in out.out + out.err  # _message_after_update

    # Every team edit survived.
    for path, line in marks.items():
        assert line in (project / path).read_text(), path
    # The release arrived: renamed file, added manifest, changed README line.
    assert (project / rendered_path(NEW_WORKFLOW)).is_file()
    assert not (project / rendered_path(OLD_WORKFLOW)).exists()
    assert (project / ADDED_MANIFEST).is_file()
    assert README_V2_MARK in (project / "README.md").read_text().splitlines()[0]
    # The migration carried the renamed answer over; a changed default does not
    # silently move a service that recorded the old one.
    recorded = answers(project)
    assert recorded["_commit"] == V2
    assert recorded["redis_pods"] == 5 and "redis_replicas" not in recorded
    assert "replicas: 5" in (project / "manifest/redis/base/statefulset.yaml").read_text()
    assert recorded["redis_version"] == v1_redis_version
    assert check_script(project).returncode == 0

    # Apart from the team's edits, the result is exactly a fresh copy of the latest release.
    fresh = fresh_copy(template_versions, tmp_path / "fresh", recorded)
    team_edits(fresh)
    assert tree(project) == tree(fresh)

    # Updating from the latest release (the other tag) changes nothing.
    commit_all(project, "update to v2")
    assert main(["update", str(project), "--defaults"]) == 0
    assert tree(project) == tree(fresh)
    assert git(project, "status", "--porcelain") == ""


def resolve_taking_template_side(text: str) -> str:
    """What a person does in an editor: keep the 'after updating' side of each conflict."""
    kept, side = [], None
    for line in text.splitlines(keepends=True):
        if line.startswith("<<<<<<<"):
            side = "ours"
        elif line.startswith("|||||||") and side:
            side = "base"
        elif line.startswith("=======") and side:
            side = "theirs"
        elif line.startswith(">>>>>>>"):
            side = None
        elif side in (None, "theirs"):
            kept.append(line)
    return "".join(kept)


@pytest.mark.parametrize("mode", ["inline", "rej"])
def test_overlapping_edit_is_reported_until_resolved(service, capsys, mode):
    project = service
    overlapping_edit(project)
    commit_all(project, "our own title")

    # copier itself exits 0 here, and deletes the renamed file with the team's line
    # in it; the wrapper exits 1 and keeps that line in a .rej beside it.
    assert main(["update", str(project), "--defaults", "--conflict", mode]) == 1
    conflicted = "README.md.rej" if mode == "rej" else "README.md"
    dropped = rendered_path(OLD_WORKFLOW) + ".rej"
    err = capsys.readouterr().err
    assert conflicted in err and dropped in err
    # The generated repository's own checks see them too: make check-conflicts / pre-commit.
    for result in (check_script(project), pre_commit_hook(project)):
        assert result.returncode == 1
        assert conflicted in result.stderr and dropped in result.stderr
    # Nothing was lost: the team's lines are still there.
    assert TEAM_TITLE in (project / conflicted).read_text()
    assert TEAM_WORKFLOW_LINE in (project / dropped).read_text()
    # A second update refuses to start on top of the leftovers.
    assert main(["update", str(project), "--defaults"]) == 2
    assert conflicted in capsys.readouterr().err

    # The team resolves: the new README with its own title, no leftovers.
    readme = project / "README.md"
    body = resolve_taking_template_side(readme.read_text())
    assert README_V2_MARK in body.splitlines()[0]
    readme.write_text(TEAM_TITLE + "\n" + body.partition("\n")[2])
    (project / "README.md.rej").unlink(missing_ok=True)
    workflow = project / rendered_path(NEW_WORKFLOW)
    workflow.write_text(workflow.read_text() + TEAM_WORKFLOW_LINE + "\n")
    (project / dropped).unlink()
    assert check_script(project).returncode == 0
    assert pre_commit_hook(project).returncode == 0
    commit_all(project, "resolve the update")
    assert answers(project)["_commit"] == V2


RUNBOOK_KUSTOMIZATION = """\
namespace: cache
helmCharts:
  - name: redis
    repo: https://charts.bitnami.com/bitnami
    version: 19.0.0
    releaseName: checkout-redis
    namespace: cache
    valuesInline:
      architecture: replication
      auth:
        existingSecret: checkout-redis
        existingSecretPasswordKey: redis-password
      sentinel:
        enabled: true
        masterSet: checkout-master
      replica:
        replicaCount: 5
resources:
  - secret.yaml
"""
RUNBOOK_SECRET = """\
apiVersion: v1
kind: Secret
metadata:
  name: checkout-redis
stringData:
  redis-password: <path:teams/checkout/redis#redis-password>
"""
RUNBOOK_TERRAFORM = """\
provider "aws" {
  region = "eu-west-1"
}

resource "random_password" "redis" {
  length = 32
}

resource "aws_secretsmanager_secret" "redis" {
  name                    = "teams/checkout/redis"
  recovery_window_in_days = 14
}
"""
RUNBOOK_README = """\
## Connecting to DB

        - name: REDIS_HOST
          value: checkout-redis.cache.cluster.local

```redis
SENTINEL get-master-addr-by-name <MasterSet e.g: checkout-master>
```
"""


def hand_made_repo(root: Path) -> Path:
    """A repository written by hand from the runbook (Bitnami chart through kustomize)."""
    files = {
        "Makefile": "install:\n\tbrew install kustomize argocd-vault-plugin\n",
        "README.md": RUNBOOK_README,
        "terraform/main.tf": RUNBOOK_TERRAFORM,
        "manifest/redis/base/kustomization.yaml": RUNBOOK_KUSTOMIZATION,
        "manifest/redis/base/secret.yaml": RUNBOOK_SECRET,
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    init_repo(root)
    return root


def test_adopt_a_hand_made_repository_then_update(template_versions, tmp_path, capsys):
    project = hand_made_repo(tmp_path / "checkout")

    # Without an answers file, update refuses and points to adopt.
    assert main(["update", str(project)]) == 2
    assert "redis-scaffold adopt" in capsys.readouterr().err

    # A value the template refuses is reported with where it came from.
    assert (
        main(
            [
                "adopt",
                str(project),
                "--template",
                str(template_versions.src),
                "--vcs-ref",
                V1,
                "--data",
                "redis_replicas=4",
            ]
        )
        == 2
    )
    assert "redis_replicas" in capsys.readouterr().err

    assert (
        main(
            [
                "adopt",
                str(project),
                "--template",
                str(template_versions.src),
                "--vcs-ref",
                V1,
                "--data",
                "app_namespace=checkout-app",
            ]
        )
        == 0
    )
    recorded = answers(project)
    assert {
        k: recorded[k]
        for k in (
            "_commit",
            "service_name",
            "redis_namespace",
            "master_set",
            "redis_replicas",
            "secret_name",
            "secret_key",
            "aws_region",
            "secret_recovery_window_days",
            "app_namespace",
        )
    } == {
        "_commit": V1,
        "service_name": "checkout",
        "redis_namespace": "cache",
        "master_set": "checkout-master",
        "redis_replicas": 5,
        "secret_name": "teams/checkout/redis",
        "secret_key": "redis-password",
        "aws_region": "eu-west-1",
        "secret_recovery_window_days": 14,
        "app_namespace": "checkout-app",
    }
    assert recorded["_src_path"] == str(template_versions.src)
    assert git(project, "status", "--porcelain") == ""  # the answers file is committed
    before = tree(project)

    # From now on updates work. Files the team wrote by hand that the release
    # changes (README's first line, the kustomization's resources) come back as
    # conflicts; everything else arrives, and nothing of the team's is lost.
    assert main(["update", str(project), "--defaults"]) == 1
    err = capsys.readouterr().err
    assert "README.md" in err and "manifest/redis/base/kustomization.yaml" in err
    assert (project / ADDED_MANIFEST).is_file()
    assert answers(project)["_commit"] == V2
    assert answers(project)["redis_pods"] == 5  # migrated
    for rel, text in before.items():
        if rel != ".copier-answers.yml":
            for line in text.decode().splitlines():
                assert line in (project / rel).read_text(), (rel, line)
    # Template files the hand-made repository never had stay absent: copier keeps
    # deletions (docs/updating.md: `copier recopy` takes them all on purpose).
    assert not (project / "terraform/secret.tf").exists()


def test_update_refuses_what_it_cannot_update_safely(service, tmp_path, capsys):
    project = service

    (project / "README.md").write_text("uncommitted\n")
    assert main(["update", str(project)]) == 2
    assert "uncommitted changes (README.md)" in capsys.readouterr().err
    git(project, "checkout", "--", "README.md")

    untagged = tmp_path / "untagged"
    untagged.mkdir()
    git(untagged, "init", "-q")
    git(
        untagged,
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t.invalid",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "no tags",
    )
    recorded = answers(project)
    recorded["_src_path"] = str(untagged)
    (project / ".copier-answers.yml").write_text(yaml.safe_dump(recorded))
    commit_all(project, "point at an untagged template")
    assert main(["update", str(project)]) == 2
    assert "no PEP 440 version tags" in capsys.readouterr().err

    plain = tmp_path / "plain"
    (plain / "sub").mkdir(parents=True)
    (plain / ".copier-answers.yml").write_text(yaml.safe_dump({"_src_path": "x", "_commit": V1}))
    assert main(["update", str(plain)]) == 2
    assert "not the top of a git repository" in capsys.readouterr().err


def test_an_untuned_service_follows_the_template_defaults_and_a_tuned_one_keeps_its_own(
    template_versions, tmp_path
):
    # v2 bumps the default Redis patch release. A team that never customised gets it
    # with the update; a team that customised keeps the release it chose.
    untuned = generate_service(template_versions, tmp_path / "plain", V1)
    tuned = generate_service(template_versions, tmp_path / "tuned", V1, {"customise": True})
    assert "redis_version" not in answers(untuned)  # never asked, so never recorded
    v1_version = answers(tuned)["redis_version"]

    for project in (untuned, tuned):
        assert main(["update", str(project), "--defaults"]) == 0

    image = "manifest/redis/base/statefulset.yaml"
    assert f"redis:{v1_version}" not in (untuned / image).read_text()
    assert f"redis:{v1_version}" in (tuned / image).read_text()
    assert answers(tuned)["redis_version"] == v1_version


def test_a_service_made_with_0_1_0_updates_to_this_release_and_keeps_everything(
    real_releases, tmp_path, capsys
):
    template = TemplateVersions(real_releases, ("v0.1.0", NEXT))
    old_answers = {
        "service_name": "cart",
        "redis_replicas": 5,
        "down_after_ms": 5000,
        "kms_key_id": "alias/cart",
    }
    untouched = generate_service(template, tmp_path / "untouched", "v0.1.0", old_answers)
    edited = generate_service(template, tmp_path / "edited", "v0.1.0", old_answers)
    marks = team_edits(edited)
    commit_all(edited, "team edits")

    for project in (untouched, edited):
        assert main(["update", str(project), "--defaults"]) == 0, capsys.readouterr().err
        assert check_script(project).returncode == 0  # no conflict markers, no .rej

    # The 0.2.0 migration kept every answer 0.1.0 recorded: the service is still 5 pods
    # with its own timing and key, and equals a fresh copy of this release that says so.
    recorded = answers(untouched)
    assert recorded["_commit"] == NEXT and recorded["customise"] is True
    assert {k: recorded[k] for k in old_answers} == old_answers
    fresh = fresh_copy(template, tmp_path / "fresh", recorded)
    assert tree(untouched) == tree(fresh)
    # A team's edits survive the same update.
    for path, line in marks.items():
        assert line in (edited / path).read_text(), path
    assert answers(edited) == recorded


OIDC_PROVIDER = (
    "arn:aws:iam::123456789012:oidc-provider/"
    "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
)
ESO = {"secret_delivery": "external-secrets", "oidc_provider_arn": OIDC_PROVIDER}
ESO_FILES = [
    "manifest/components/redis-secret/external-secret.yaml",
    "manifest/components/redis-secret/secret-store.yaml",
    "terraform/secret-reader.tf",
    "terraform/secret-reader.auto.tfvars.json",
]
AVP_FILE = "manifest/components/redis-secret/secret.yaml"


def test_a_service_on_external_secrets_keeps_its_delivery_across_an_update(
    template_versions, tmp_path
):
    # Valkey too: both choices of this release survive an update.
    project = generate_service(template_versions, tmp_path / "eso", V1, ESO | {"engine": "valkey"})
    marks = team_edits(project)
    commit_all(project, "team edits")

    assert main(["update", str(project), "--defaults"]) == 0

    recorded = answers(project)
    assert recorded["_commit"] == V2
    assert {k: recorded[k] for k in ESO} == ESO and recorded["secret_store"] == ""
    assert recorded["engine"] == "valkey"
    assert (
        'image: "valkey/valkey:' in (project / "manifest/redis/base/statefulset.yaml").read_text()
    )
    for rel in ESO_FILES:
        assert (project / rel).is_file(), rel
    assert not (project / AVP_FILE).exists()
    assert "kubectl apply -k manifest/redis/base" in (project / "Makefile").read_text()
    assert check_script(project).returncode == 0
    fresh = fresh_copy(template_versions, tmp_path / "fresh", recorded)
    team_edits(fresh)
    assert tree(project) == tree(fresh)
    for path, line in marks.items():
        assert line in (project / path).read_text(), path


def test_an_update_can_switch_a_service_to_external_secrets(template_versions, tmp_path):
    project = generate_service(template_versions, tmp_path / "avp", V1)
    assert answers(project)["secret_delivery"] == "argocd-vault-plugin"
    assert (project / AVP_FILE).is_file()

    copier.run_update(
        project,
        data=ESO,
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
        vcs_ref=V2,
        conflict="inline",
    )

    assert {k: answers(project)[k] for k in ESO} == ESO
    for rel in ESO_FILES:
        assert (project / rel).is_file(), rel
    assert not (project / AVP_FILE).exists()
    assert check_script(project).returncode == 0
    assert tree(project) == tree(
        fresh_copy(template_versions, tmp_path / "fresh", answers(project))
    )


CLUSTER = {"topology": "cluster", "customise": True, "cluster_masters": 4, "engine": "valkey"}


def test_a_cluster_service_follows_the_template_with_its_answers_and_edits(
    template_versions, tmp_path
):
    project = generate_service(template_versions, tmp_path / "cluster", V1, CLUSTER)
    marks = team_edits(project)
    commit_all(project, "team edits")

    assert main(["update", str(project), "--defaults"]) == 0

    recorded = answers(project)
    assert recorded["_commit"] == V2
    assert {k: recorded[k] for k in CLUSTER} == CLUSTER
    statefulset = (project / "manifest/redis/base/statefulset.yaml").read_text()
    assert "replicas: 8" in statefulset and "sentinel" not in statefulset
    assert check_script(project).returncode == 0
    fresh = fresh_copy(template_versions, tmp_path / "fresh", recorded)
    team_edits(fresh)
    assert tree(project) == tree(fresh)
    for path, line in marks.items():
        assert line in (project / path).read_text(), path


def test_an_update_can_switch_a_sentinel_service_to_redis_cluster(template_versions, tmp_path):
    project = generate_service(template_versions, tmp_path / "outgrown", V1)
    assert (project / "manifest/redis/base/config/sentinel.conf").is_file()

    copier.run_update(
        project,
        data={"topology": "cluster"},
        defaults=True,
        overwrite=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
        vcs_ref=V2,
        conflict="inline",
    )

    assert answers(project)["topology"] == "cluster"
    assert not (project / "manifest/redis/base/config/sentinel.conf").exists()
    assert (project / "manifest/redis/base/config/bootstrap-cluster.sh").is_file()
    assert check_script(project).returncode == 0
    assert tree(project) == tree(
        fresh_copy(template_versions, tmp_path / "fresh", answers(project))
    )


ELASTICACHE = {
    "topology": "elasticache",
    "vpc_id": "vpc-0123456789abcdef0",
    "subnet_ids": "subnet-0123456789abcdef0,subnet-0123456789abcdef1",
    "app_security_group_id": "sg-0123456789abcdef0",
    "customise": True,
    "cache_replicas": 3,
}
ENDPOINTS = "manifest/components/redis-env/endpoints.env"


def test_an_elasticache_service_updates_and_keeps_its_endpoints_and_edits(
    template_versions, tmp_path
):
    project = generate_service(template_versions, tmp_path / "elasticache", V1, ELASTICACHE)
    marks = {
        "README.md": "Team note: page #cart-oncall before a failover drill.",
        "Makefile": "\t@echo team smoke test",
    }
    with (project / "README.md").open("a") as f:
        f.write(f"\n## Team notes\n\n{marks['README.md']}\n")
    with (project / "Makefile").open("a") as f:
        f.write(f"\nteam-smoke: ## Team smoke test\n{marks['Makefile']}\n")
    # What `make endpoints` writes once Terraform created the group.
    endpoints = (
        "REDIS_PRIMARY_HOST=master.shopping-cart-redis.abc123.use1.cache.amazonaws.com\n"
        "REDIS_READER_HOST=replica.shopping-cart-redis.abc123.use1.cache.amazonaws.com\n"
    )
    (project / ENDPOINTS).write_text(endpoints)
    commit_all(project, "team edits and the group's endpoints")

    assert main(["update", str(project), "--defaults"]) == 0

    recorded = answers(project)
    assert recorded["_commit"] == V2
    assert {k: recorded[k] for k in ELASTICACHE} == ELASTICACHE
    assert README_V2_MARK in (project / "README.md").read_text().splitlines()[0]
    assert (project / ENDPOINTS).read_text() == endpoints
    assert not (project / "manifest/redis").exists()  # v2's added manifest is Sentinel's
    assert json.loads((project / "terraform/terraform.tfvars.json").read_text())["replicas"] == 3
    assert check_script(project).returncode == 0
    for path, line in marks.items():
        assert line in (project / path).read_text(), path
    fresh = fresh_copy(template_versions, tmp_path / "fresh", recorded)
    (fresh / ENDPOINTS).write_text(endpoints)
    with (fresh / "README.md").open("a") as f:
        f.write(f"\n## Team notes\n\n{marks['README.md']}\n")
    with (fresh / "Makefile").open("a") as f:
        f.write(f"\nteam-smoke: ## Team smoke test\n{marks['Makefile']}\n")
    assert tree(project) == tree(fresh)
