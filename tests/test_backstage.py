"""The developer-portal button makes the same repository as `copier copy`.

A platform team registers backstage/template.yaml in Backstage. Its form is generated
from copier.yml; its fetch:cookiecutter step runs real cookiecutter on the generated
skeleton, with the form's values passed the way the action passes them. The repository
that comes out must be byte for byte what copier makes, answers file included, so that
`copier update` keeps working on it.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import copier
import jsonschema
import pytest
import yaml
from cookiecutter.main import cookiecutter

from redis_scaffold import cli
from redis_scaffold.portal import export as backstage
from tests.fixtures.generation import git, snapshot_template

OLD, NEW = "v0.1.0", "v0.2.0"

PAYMENTS = {  # a team that changes what a team changes
    "service_name": "payments",
    "redis_replicas": 5,
    "redis_namespace": "data",
    "app_namespace": "payments-api",
    "app_deployment": "payments-api",
    "kms_key_id": "alias/payments",
    "redis_cpu_limit": "2",
    "secret_recovery_window_days": 30,
}


# ------------------------------------------------------------------------ helpers
@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> Path:
    """backstage/ exported at each release of `template_repo`: exports / TAG."""
    return tmp_path_factory.mktemp("exports")


@pytest.fixture(scope="module")
def template_repo(tmp_path_factory, exports) -> Path:
    """The template at OLD, and at NEW with a conditional file, folder and a README edit."""
    repo = snapshot_template(tmp_path_factory.mktemp("template"), OLD)
    backstage.write(exports / OLD, backstage.render(repo, str(repo), OLD))
    tpl = repo / "template"
    (tpl / "{% if kms_key_id %}KMS.md{% endif %}.jinja").write_text(
        "Encrypted with {{ kms_key_id }}.\n")
    (tpl / "{% if redis_cpu_limit %}limits{% endif %}").mkdir()
    (tpl / "{% if redis_cpu_limit %}limits{% endif %}" / "README.md.jinja").write_text(
        "CPU limit: {{ redis_cpu_limit }}\n")
    readme = tpl / "README.md.jinja"
    readme.write_text(readme.read_text() + "\nRelease notes: CHANGELOG.md.\n")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "new")
    git(repo, "tag", NEW)
    backstage.write(exports / NEW, backstage.render(repo, str(repo), NEW))
    return repo


def form_values(template: dict, answers: dict) -> dict:
    """What Backstage hands fetch:cookiecutter: the form data (defaults filled in by the
    form, answers typed by the user) through the step's `values` expressions."""
    page = template["spec"]["parameters"][0]["properties"]
    form = {k: v["default"] for k, v in page.items() if "default" in v} | answers
    values = {}
    for key, expression in template["spec"]["steps"][0]["input"]["values"].items():
        name, dump = re.fullmatch(r"\$\{\{ parameters\.(\w+)( \| dump)? \}\}", expression).groups()
        if name in form:
            values[key] = json.dumps(form[name]) if dump else form[name]
    return values


def portal_render(skeleton_root: Path, answers: dict, out: Path) -> Path:
    template = yaml.safe_load((skeleton_root / "template.yaml").read_text())
    assert template["spec"]["steps"][0]["input"]["url"] == "./skeleton"
    config = out.parent / f"{out.name}-cookiecutter.yaml"  # keep replays out of $HOME
    config.write_text(f"replay_dir: {out.parent}/replay\ncookiecutters_dir: {out.parent}/cc\n")
    return Path(cookiecutter(str(skeleton_root / "skeleton"), no_input=True,
                             extra_context=form_values(template, answers),
                             output_dir=str(out), config_file=str(config)))


def copier_render(template_repo: Path, answers: dict, dst: Path, tag: str = OLD) -> Path:
    copier.run_copy(str(template_repo), dst, data=answers, defaults=True, unsafe=True,
                    quiet=True, vcs_ref=tag, skip_tasks=True)
    return dst


def tree(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o111 != 0)
            for p in sorted(root.rglob("*")) if p.is_file() and ".git" not in p.parts}


def assert_same_tree(expected: Path, actual: Path) -> None:
    want, got = tree(expected), tree(actual)
    assert sorted(got) == sorted(want)
    assert [p for p in want if want[p] != got[p]] == []


# -------------------------------------------------------------------------- stories
@pytest.mark.parametrize("answers", [
    pytest.param({}, id="defaults"),
    pytest.param(PAYMENTS, id="payments"),
    # Backstage may hand numbers over as strings; copier casts them, so does the rendition.
    pytest.param({k: str(v) if isinstance(v, int) else v for k, v in PAYMENTS.items()},
                 id="payments-numbers-as-strings"),
])
def test_the_portal_makes_the_repository_copier_makes(template_repo, exports, tmp_path, answers):
    portal = portal_render(exports / OLD, answers, tmp_path / "portal")
    made = copier_render(template_repo, answers, tmp_path / "copier")

    assert_same_tree(made, portal)
    recorded = yaml.safe_load((portal / ".copier-answers.yml").read_text())
    assert (recorded["_src_path"], recorded["_commit"]) == (str(template_repo), OLD)
    assert "redis_maxmemory_bytes" not in recorded  # computed values stay unrecorded


def test_a_portal_repository_follows_the_template_with_copier_update(
    template_repo, exports, tmp_path
):
    answers = {"service_name": "ledger", "kms_key_id": "alias/ledger"}
    repo = portal_render(exports / OLD, answers, tmp_path / "portal")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-qm", "init")

    copier.run_update(repo, defaults=True, overwrite=True, unsafe=True, quiet=True,
                      skip_tasks=True, vcs_ref=NEW, conflict="inline")

    assert yaml.safe_load((repo / ".copier-answers.yml").read_text())["_commit"] == NEW
    assert "Release notes: CHANGELOG.md." in (repo / "README.md").read_text()
    assert (repo / "KMS.md").read_text() == "Encrypted with alias/ledger.\n"
    assert not (repo / "limits").exists()  # its name renders empty: copier skips it
    # The updated repository is what both routes make at the new release.
    fresh = copier_render(template_repo, answers, tmp_path / "copier-new", NEW)
    assert_same_tree(fresh, repo)
    assert_same_tree(fresh, portal_render(exports / NEW, answers,
                                          tmp_path / "portal-new"))


# ---------------------------------------------------------------------- the form
@pytest.fixture(scope="module")
def plain_template(template_repo, tmp_path_factory) -> Path:
    """The OLD release as a plain folder: copier reads it in place, without cloning."""
    folder = tmp_path_factory.mktemp("plain")
    archive = subprocess.run(["git", "-C", str(template_repo), "archive", OLD],
                             check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(folder)], input=archive, check=True)
    return folder


def copier_refuses(template: Path, tmp_path: Path, answers: dict) -> bool:
    try:
        copier.run_copy(str(template), tmp_path / "refused", data=answers, defaults=True,
                        unsafe=True, quiet=True, skip_tasks=True, pretend=True)
    except ValueError:
        return True
    return False


BAD_FOR_BOTH = [
    ("service_name", "Shopping_Cart"), ("service_name", "a" * 31),
    ("description", 'a "quoted" line'), ("owner", "group:default/"),
    ("lifecycle", "retired"), ("redis_namespace", "-redis"),
    ("redis_replicas", 4), ("redis_replicas", 11), ("down_after_ms", 999),
    ("redis_image", "bitnami/redis"), ("redis_image", "redis:7.4"),
    ("redis_version", "latest"), ("redis_version", "6.0.20"), ("redis_port", 80),
    ("storage_size", "8GB"), ("redis_cpu_limit", "two"), ("aws_region", "europe"),
    ("secret_name", "app-redis-AbC123"), ("kms_key_id", "my-key"),
    ("secret_recovery_window_days", 3),
]
GOOD_FOR_BOTH = [("kms_key_id", "alias/team/key"), ("redis_cpu_limit", ""),
                 ("secret_recovery_window_days", 0), ("redis_replicas", 7)]
# Rules between two answers: a static form cannot say them; the fetch step refuses them.
CROSS_FIELD = [{"sentinel_quorum": 1}, {"redis_replicas": 5, "sentinel_quorum": 6},
               {"sentinel_port": 6379}, {"redis_cpu_request": "2", "redis_cpu_limit": "1"}]


def test_the_form_mirrors_copier_questions():
    template = yaml.safe_load((backstage.REPO_ROOT / "backstage/template.yaml").read_text())
    pages = template["spec"]["parameters"]
    for page in pages:
        jsonschema.Draft7Validator.check_schema(page)
    fields = pages[0]["properties"]
    config = yaml.safe_load((backstage.REPO_ROOT / "copier.yml").read_text())
    asked = {k: v for k, v in config.items()
             if not k.startswith("_") and v.get("when") is not False}
    assert list(fields) == list(asked)
    for name, question in asked.items():
        field = fields[name]
        if "{{" not in str(question.get("default")):
            assert field["default"] == question["default"], name
        if "choices" in question:
            assert field.get("enum", field.get("items", {}).get("enum")) == question["choices"]
        assert " ".join(str(question.get("help", "")).split()) in field.get("description", "")
    assert fields["owner"]["ui:field"] == "OwnerPicker"
    assert pages[1]["properties"]["repoUrl"]["ui:field"] == "RepoUrlPicker"
    assert [s["action"] for s in template["spec"]["steps"]] == [
        "fetch:cookiecutter", "publish:github", "catalog:register"]
    assert template["spec"]["steps"][2]["input"]["catalogInfoPath"] == "/catalog-info.yaml"


def test_the_form_refuses_what_copier_refuses(plain_template, exports, tmp_path):
    template = yaml.safe_load((exports / OLD / "template.yaml").read_text())
    page = template["spec"]["parameters"][0]
    form = jsonschema.Draft7Validator(page)
    filled = {k: v["default"] for k, v in page["properties"].items() if "default" in v}

    def verdict(name, value):  # (the form accepts, copier accepts)
        return (form.is_valid(filled | {name: value}),
                not copier_refuses(plain_template, tmp_path, {name: value}))

    assert {(n, v): verdict(n, v) for n, v in BAD_FOR_BOTH} == {
        case: (False, False) for case in BAD_FOR_BOTH}
    assert {(n, v): verdict(n, v) for n, v in GOOD_FOR_BOTH} == {
        case: (True, True) for case in GOOD_FOR_BOTH}

    for answers in CROSS_FIELD:
        assert copier_refuses(plain_template, tmp_path, answers), answers
        with pytest.raises(ValueError, match="Validation error for question"):
            portal_render(exports / OLD, answers, tmp_path / "cross")


def test_the_committed_portal_files_are_fresh(tmp_path):
    assert cli.main(["backstage", "export", "--check"]) == 0, (
        "backstage/ is stale: run `redis-scaffold backstage export`")
    out = tmp_path / "backstage"
    assert cli.main(["backstage", "export", "--out", str(out)]) == 0
    (out / "template.yaml").write_text("edited by hand\n")
    assert cli.main(["backstage", "export", "--out", str(out), "--check"]) == 1
    assert subprocess.run(["git", "diff", "--quiet", "--no-index", str(out / "skeleton"),
                           str(backstage.REPO_ROOT / "backstage/skeleton")]).returncode == 0
