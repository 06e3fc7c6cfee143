"""Fleet updates through Renovate, with Renovate itself, offline (docs/updating.md, "The fleet").

The platform's releases are tests/fixtures/versions.py's two tags (v1: the working tree;
v2: a renamed answer, a renamed file, an added manifest, a changed README line). A team
generated its repository from v1 with `_src_path` a `file://` URL (a fleet's names an
https or SSH URL), customised it, made its own edits and committed. Then:

- Renovate 44 runs once, `--platform=local` (a lookup, no branch): its copier manager
  extracts the template from the answers file and proposes v2, and no other manager runs;
- `renovate-config-validator --strict` accepts the generated renovate.json;
- the update command Renovate runs (read from the installed Renovate's code) keeps the
  team's edits, and the repository's CI check (`redis-scaffold update . --check`) and the
  post-upgrade task pass; with edits the release collides with (a changed line, a renamed
  file), copier still exits 0 and both checks fail, naming the files;
- the copy-time warning and `redis-scaffold update` agree on what Renovate can follow.

Renovate and Node 24 come from tests/renovate/package-lock.json (`scripts/bootstrap.sh
test`). One Renovate run and one validator run for the module: each is a Node process
that loads all of Renovate.
"""

from __future__ import annotations

import functools
import json
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import copier
import copier._main as copier_main
import jinja2
import pytest
import yaml
from copier._main import Worker, as_operation
from jinja2.sandbox import SandboxedEnvironment
from jinja2_ansible_filters import AnsibleCoreFiltersExtension

from redis_scaffold.cli import main
from redis_scaffold.fleet import renovate_problems
from redis_scaffold.project import ANSWERS_FILE, read_answers
from tests.fixtures.generation import REPO_ROOT, git
from tests.fixtures.interview import scripted_person
from tests.fixtures.releases import NEXT, RELEASES
from tests.fixtures.versions import (
    NEW_WORKFLOW,
    OLD_WORKFLOW,
    TEAM_TITLE,
    TEAM_WORKFLOW_LINE,
    V1,
    V2,
    commit_all,
    init_repo,
    overlapping_edit,
    team_edits,
)

MODULES = REPO_ROOT / "tests/renovate/node_modules"
NODE = MODULES / "node/bin/node"  # Node 24, the `node` package's binary
TOOLS = {
    "renovate": MODULES / "renovate/dist/renovate.js",
    "renovate-config-validator": MODULES / "renovate/dist/config-validator.js",
}
COPIER = Path(sys.executable).parent / "copier"


def renovate(
    tool: str, args: list[str], cwd: Path, home: Path, log_level: str = "warn"
) -> subprocess.CompletedProcess:
    """Run a Renovate tool under Node 24 as a self-hosted bot does: copier on PATH."""
    if not (NODE.exists() and TOOLS[tool].exists()):
        pytest.fail(f"{tool} is not installed in {MODULES}: run scripts/bootstrap.sh test")
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.pathsep.join([str(COPIER.parent), "/usr/bin", "/bin"]),
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "RENOVATE_BASE_DIR": str(home / "renovate"),
        "LOG_LEVEL": log_level,
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    return subprocess.run(
        [str(NODE), str(TOOLS[tool]), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def renovate_update_command(tag: str) -> list[str]:
    """The command the installed Renovate's copier manager runs to update to ``tag``, with
    the bot's `allowScripts` and the repository's `ignoreScripts: false`."""
    source = (MODULES / "renovate/dist/modules/manager/copier/artifacts.js").read_text()
    options = re.search(r"DEFAULT_COMMAND_OPTIONS = \[([^\]]*)\]", source)
    assert options and '"--trust"' in source, "Renovate's copier manager has changed"
    flags = re.findall(r"[\"'](--[a-z-]+)[\"']", options.group(1))
    assert flags == ["--skip-answered", "--defaults"], flags
    return ["copier", "update", *flags, "--trust", "--answers-file", ANSWERS_FILE, "--vcs-ref", tag]


def renovate_update(project: Path, tag: str = V2) -> subprocess.CompletedProcess:
    command = renovate_update_command(tag)
    return subprocess.run(
        [str(COPIER), *command[1:]], cwd=project, capture_output=True, text=True, timeout=300
    )


def check_conflicts(project: Path) -> subprocess.CompletedProcess:
    """The post-upgrade task renovate.json names, as Renovate runs it."""
    (task,) = json.loads((project / "renovate.json").read_text())["packageRules"][0][
        "postUpgradeTasks"
    ]["commands"]
    return subprocess.run(task.split(), cwd=project, capture_output=True, text=True)


@pytest.fixture(scope="module")
def release_url(template_versions, tmp_path_factory) -> str:
    """The releases where a git host would serve them (copier: a `.git` URL is git)."""
    clone = tmp_path_factory.mktemp("host") / "redis-template.git"
    git(clone.parent, "clone", "-q", str(template_versions.src), str(clone))
    return f"file://{clone}"


@pytest.fixture(scope="module")
def team_repo(release_url, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Generated from v1 (customised: 5 pods), the team's edits committed."""
    dst = tmp_path_factory.mktemp("fleet") / "cart-redis"
    return team_repository(release_url, V1, {"customise": True, "redis_replicas": 5}, dst)


def team_repository(url: str, tag: str, answers: dict, dst: Path) -> tuple[Path, dict[str, str]]:
    """Generated from the release `tag` of `url`, the team's edits committed."""
    copier.run_copy(
        url,
        dst,
        data=answers,
        vcs_ref=tag,
        defaults=True,
        unsafe=True,
        quiet=True,
        skip_tasks=True,
    )
    init_repo(dst)
    marks = team_edits(dst)
    commit_all(dst, "team edits")
    return dst, marks


def clone(team_repo, tmp_path: Path) -> Path:
    return Path(shutil.copytree(team_repo[0], tmp_path / "cart-redis", symlinks=True))


def test_renovate_finds_the_template_and_proposes_the_next_release(
    team_repo, release_url, tmp_path
):
    project, _ = team_repo
    report = tmp_path / "report.json"
    result = renovate(
        "renovate",
        ["--platform=local", "--report-type=file", f"--report-path={report}"],
        project,
        tmp_path / "home",
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    (repository,) = json.loads(report.read_text())["repositories"].values()
    # Only the copier manager: the template's releases carry every other pin.
    assert list(repository["packageFiles"]) == ["copier"]
    (answers_file,) = repository["packageFiles"]["copier"]
    assert answers_file["packageFile"] == ANSWERS_FILE
    (dep,) = answers_file["deps"]
    assert (dep["depName"], dep["datasource"], dep["currentValue"]) == (
        release_url,
        "git-tags",
        V1,
    )
    assert [update["newValue"] for update in dep["updates"]] == [V2]


def test_the_generated_renovate_config_passes_the_strict_validator(team_repo, tmp_path):
    project, _ = team_repo
    result = renovate(
        "renovate-config-validator", ["--strict"], project, tmp_path / "home", log_level="info"
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-4000:]
    assert "Validating renovate.json" in result.stdout
    assert "Config validated successfully against 1 file(s)" in result.stdout
    config = json.loads((project / "renovate.json").read_text())
    assert config["enabledManagers"] == ["copier"] and config["ignoreScripts"] is False
    minimum = yaml.safe_load((REPO_ROOT / "copier.yml").read_text())["_min_copier_version"]
    assert config["constraints"]["copier"] == f">={minimum}"


def test_renovates_update_keeps_the_team_edits_and_passes_the_ci_check(team_repo, tmp_path, capsys):
    project = clone(team_repo, tmp_path)
    result = renovate_update(project)
    assert result.returncode == 0, result.stderr[-3000:]
    for path, line in team_repo[1].items():
        assert line in (project / path).read_text(), path
    recorded = read_answers(project)
    assert recorded["_commit"] == V2 and recorded["redis_pods"] == 5
    assert check_conflicts(project).returncode == 0  # the post-upgrade task
    commit_all(project, "Update the template to v2")  # Renovate's commit
    assert main(["update", str(project), "--check", "--base", "HEAD~1"]) == 0
    assert f"on template release {V2}, nothing left to resolve" in capsys.readouterr().out


def test_with_edits_the_release_collides_with_the_ci_check_fails(team_repo, tmp_path, capsys):
    project = clone(team_repo, tmp_path)
    overlapping_edit(project)  # the README's first line; the file the release renames
    commit_all(project, "our own title")
    result = renovate_update(project)
    assert result.returncode == 0, result.stderr[-3000:]  # copier says nothing is wrong
    dropped = OLD_WORKFLOW.removeprefix("template/").removesuffix(".jinja")
    assert not (project / dropped).exists()  # deleted, the team's line with it

    task = check_conflicts(project)
    assert task.returncode == 1 and "README.md" in task.stderr  # Renovate's artifact notice
    commit_all(project, "Update the template to v2")  # Renovate commits it all the same
    assert main(["update", str(project), "--check", "--base", "HEAD~1"]) == 1
    err = capsys.readouterr().err
    assert "README.md (conflict markers on lines" in err
    assert f"{dropped} (deleted by the template update with your edits in it" in err

    # The team resolves on the branch: its title over the new README, its workflow line
    # carried to the file that replaced the old one. Then the check passes.
    readme = project / "README.md"
    readme.write_text(
        TEAM_TITLE + "\n" + take_the_release_side(readme.read_text()).partition("\n")[2]
    )
    renamed = project / NEW_WORKFLOW.removeprefix("template/").removesuffix(".jinja")
    renamed.write_text(renamed.read_text() + TEAM_WORKFLOW_LINE + "\n")
    commit_all(project, "Resolve the template update")
    assert check_conflicts(project).returncode == 0
    assert main(["update", str(project), "--check", "--base", "HEAD~2"]) == 0


def take_the_release_side(text: str) -> str:
    """What a person does in an editor: keep the 'after updating' side of each conflict."""
    kept, side = [], None
    for line in text.splitlines(keepends=True):
        if line.startswith("<<<<<<<"):
            side = "ours"
        elif line.startswith(("=======", "|||||||")) and side:
            side = "theirs" if line.startswith("=") else "base"
        elif line.startswith(">>>>>>>"):
            side = None
        elif side in (None, "theirs"):
            kept.append(line)
    return "".join(kept)


# ------------------------------------------------------- what Renovate can follow
# (_src_path, _commit) -> the answers a warning names
EXAMPLES = [
    ("https://github.com/acme/redis-template.git", "v0.3.0", set()),
    ("git@github.com:acme/redis-template.git", "0.3.0", set()),
    ("deploy@git.example.com:platform/redis-template.git", "v0.3.0", set()),
    ("ssh://git@gitlab.example.com:2222/platform/redis-template.git", "v1.0.0rc1", set()),
    ("file:///srv/git/redis-template", "v0.3.0", set()),
    ("/tmp/backstage-fetch-1a2b/template", "v0.3.0", {"_src_path"}),
    ("gh:acme/redis-template", "v0.3.0", {"_src_path"}),
    ("./redis-template", "v0.3.0", {"_src_path"}),
    ("https://github.com/acme/redis-template.git", "v0.3.0-1-g1234567", {"_commit"}),
    ("https://github.com/acme/redis-template.git", "1f3e5a7", {"_commit"}),
    ("../redis-template", "HEAD", {"_src_path", "_commit"}),
]


@functools.cache
def message_template() -> jinja2.Template:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(REPO_ROOT), extensions=[AnsibleCoreFiltersExtension]
    )
    return env.from_string(
        yaml.safe_load((REPO_ROOT / "copier.yml").read_text())["_message_after_copy"]
    )


def copy_message(src: str, commit: str) -> str:
    """copier.yml's closing message for a copy with these answers, rendered as copier
    does (sandboxed Jinja with the Ansible filters), words joined on one line."""
    context = {
        "service_name": "cart",
        "engine": "redis",
        "topology": "sentinel",
        "_copier_conf": {"dst_path": "cart-redis", "answers_file": ANSWERS_FILE},
        "_copier_answers": {"_src_path": src, "_commit": commit},
    }
    return " ".join(message_template().render(context).split())


def test_the_copy_message_and_redis_scaffold_update_agree_on_what_renovate_can_follow():
    for src, commit, named in EXAMPLES:
        message = copy_message(src, commit)
        said = {
            key
            for key, phrase in (
                ("_src_path", "which Renovate cannot look up"),
                ("_commit", "no release tag here"),
            )
            if phrase in message
        }
        assert said == named, (src, commit, message)
        problems = renovate_problems({"_src_path": src, "_commit": commit})
        assert {problem.split()[0] for problem in problems} == named, problems
    # Each says what to do.
    (problem,) = renovate_problems({"_src_path": "gh:acme/redis-template", "_commit": "v1.0.0"})
    assert "set it to https://github.com/acme/redis-template.git in .copier-answers.yml" in problem
    assert "or set _src_path to it in .copier-answers.yml" in copy_message("./t", "v1.0.0")


def test_redis_scaffold_update_says_when_renovate_cannot_follow(
    team_repo, template_versions, release_url, tmp_path, capsys
):
    project = clone(team_repo, tmp_path)
    answers = project / ANSWERS_FILE
    plain = str(template_versions.src)
    answers.write_text(answers.read_text().replace(json.dumps(release_url), json.dumps(plain)))
    commit_all(project, "answers name a plain path")
    assert main(["update", str(project), "--check"]) == 0  # copier can; Renovate cannot
    err = " ".join(capsys.readouterr().err.split())
    assert (
        f"warning: Renovate cannot follow this repository: _src_path {plain!r} is not a URL "
        "Renovate can look up: set it to the template's URL" in err
    )


def test_the_portal_export_says_when_its_repositories_could_not_be_followed(tmp_path, capsys):
    """What the portal records as _src_path is its template URL: a local checkout's path
    (a portal host's temporary clone) would leave every repository it makes behind."""
    out = tmp_path / "backstage"
    argv = ["backstage", "export", "--out", str(out), "--template-url", str(tmp_path)]
    assert main(argv) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert (
        "Renovate cannot follow the repositories the portal makes: "
        f"_src_path {str(tmp_path)!r} is not a URL Renovate can look up" in err
    )


# ------------------------------------------- repositories made by the real releases
# The fleet has repositories from every release. Each story: a repository generated by a
# real release with answers of its own, the team's edits committed, then Renovate's
# update command to this tree (tests/fixtures/releases.py tags it NEXT).
RELEASE_ANSWERS = {
    "v0.1.0": {
        "service_name": "cart",
        "redis_replicas": 5,
        "down_after_ms": 5000,
        "kms_key_id": "alias/cart",
    },
    "v0.2.0": {"service_name": "cart", "size": "medium", "owner": "team-cart"},
    "v0.3.0": {
        "service_name": "cart",
        "topology": "cluster",
        "engine": "valkey",
        "secret_delivery": "external-secrets",
        "oidc_provider_arn": (
            "arn:aws:iam::123456789012:oidc-provider/"
            "oidc.eks.us-east-1.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF"
        ),
    },
}


@pytest.fixture(scope="module")
def real_release_url(real_releases) -> str:
    return f"file://{real_releases}"


def a_line_the_release_changes(before: Path, after: Path) -> tuple[str, str]:
    """(file, line): a line of the older release's README or Makefile that the update
    removed or rewrote, and that no team edit touched."""
    for name in ("README.md", "Makefile"):
        kept = set((after / name).read_text().splitlines())
        for line in (before / name).read_text().splitlines():
            if line.strip() and line not in kept:
                return name, line
    pytest.fail("the update changed no line of README.md or Makefile")


@pytest.mark.parametrize("tag", RELEASE_ANSWERS)
def test_a_repository_from_an_older_release_follows_renovate_to_this_one(
    tag, real_releases, real_release_url, tmp_path, capsys
):
    assert set(RELEASE_ANSWERS) == set(RELEASES)  # every release has its story
    project, marks = team_repository(
        real_release_url, tag, RELEASE_ANSWERS[tag], tmp_path / "cart-redis"
    )
    collides = Path(shutil.copytree(project, tmp_path / "collides", symlinks=True))

    result = renovate_update(project, NEXT)
    assert result.returncode == 0, result.stderr[-3000:]
    for path, line in marks.items():
        assert line in (project / path).read_text(), path
    recorded = read_answers(project)
    assert recorded["_commit"] == NEXT
    assert {k: recorded[k] for k in RELEASE_ANSWERS[tag]} == RELEASE_ANSWERS[tag]
    assert not list(project.rglob("*.rej"))
    assert check_conflicts(project).returncode == 0  # the post-upgrade task
    commit_all(project, f"Update the template to {NEXT}")
    assert main(["update", str(project), "--check", "--base", "HEAD~1"]) == 0, (
        capsys.readouterr().err
    )

    # Another team changed a line this release rewrites: copier exits 0 all the same,
    # and the checks refuse the pull request, naming the file.
    name, line = a_line_the_release_changes(collides, project)
    edited = collides / name
    edited.write_text(edited.read_text().replace(line, line + " (our own wording)", 1))
    commit_all(collides, "our own wording")
    assert renovate_update(collides, NEXT).returncode == 0
    task = check_conflicts(collides)
    assert task.returncode == 1 and name in task.stderr, task.stderr
    commit_all(collides, f"Update the template to {NEXT}")
    capsys.readouterr()
    assert main(["update", str(collides), "--check", "--base", "HEAD~1"]) == 1
    assert f"{name} (conflict markers on lines" in capsys.readouterr().err


WALKS = 8  # complete interviews of each release, each drawn at random (reproducible)


@pytest.mark.parametrize("tag", RELEASE_ANSWERS)
def test_every_answer_set_of_an_older_release_takes_the_new_questions_defaults(
    tag, real_releases, tmp_path, monkeypatch
):
    """Renovate always passes --defaults: every question added since a release needs a
    default valid for whatever that release's interview recorded, and no recorded answer
    may be dropped by the update (copier drops a recorded answer its new rules refuse,
    silently, and takes the default instead).

    The older release's own interview (copier's loop, a scripted person, the edge
    answers of tests/fixtures/interview.py) records an answer set; copier's own
    migrations of this tree run on it; then this tree's interview runs as `copier update
    --skip-answered --defaults` does. Interviews that end in the older release's own
    errors (its invalid defaults, since fixed) made no repository and are passed over."""
    monkeypatch.setattr(copier_main, "unsafe_prompt", scripted_person(random.Random(tag)))
    old = Worker(src_path=str(real_releases), dst_path=tmp_path / "x", vcs_ref=tag, quiet=True)
    project = tmp_path / "cart-redis"
    project.mkdir()
    new = Worker(
        src_path=str(real_releases),
        dst_path=project,
        vcs_ref=NEXT,
        unsafe=True,
        quiet=True,
        defaults=True,
        skip_answered=True,
    )
    complete, added = 0, set()
    for _ in range(40 * WALKS):
        try:
            old._ask()
        except (ValueError, AssertionError):
            continue  # the older release's interview ended here: no repository was made
        recorded = dict(old._answers_to_remember())
        migrated, updated = update_answers(new, project, recorded)
        assert updated["_commit"] == NEXT
        dropped = {
            k: (v, updated.get(k))
            for k, v in migrated.items()
            if not k.startswith("_") and updated.get(k) != v
        }
        assert not dropped, f"answers {tag} recorded that the update changed: {dropped}"
        added |= updated.keys() - migrated.keys()
        complete += 1
        if complete == WALKS:
            break
    assert complete == WALKS, f"only {complete} interviews of {tag} reached the end"
    assert added, f"no question added since {tag}?"


@as_operation("update")
def update_answers(new: Worker, project: Path, recorded: dict) -> tuple[dict, dict]:
    """(answers after the migrations, answers after this tree's interview) for a
    repository whose answers file holds ``recorded``."""
    answers_file = project / ANSWERS_FILE
    answers_file.write_text(yaml.safe_dump(recorded))
    new.__dict__.pop("subproject", None)  # a new repository for the same worker
    new._execute_tasks(new.template.migration_tasks("before", new.subproject.template))
    migrated = yaml.safe_load(answers_file.read_text())
    new.__dict__.pop("subproject", None)  # read the migrated answers
    new._ask()
    return migrated, dict(new._answers_to_remember())


def test_fleet_status_says_which_repositories_lag_and_which_renovate_cannot_follow(
    real_release_url, tmp_path, capsys
):
    """A platform team's view: answers files fetched from each repository (or checkouts),
    against the template's tags as git lists them."""
    fleet = {
        "cart-redis": (real_release_url, "v0.1.0"),
        "search-redis": (real_release_url, NEXT),
        "legacy-redis": ("/tmp/backstage-fetch-1a2b/template", "v0.2.0-3-gabc1234"),
    }
    for name, (src, commit) in fleet.items():
        (tmp_path / name).mkdir()
        answers = {"_commit": commit, "_src_path": src, "service_name": name}
        (tmp_path / name / ANSWERS_FILE).write_text(yaml.safe_dump(answers))
    repositories = [str(tmp_path / "cart-redis"), str(tmp_path / "search-redis" / ANSWERS_FILE)]
    repositories.append(str(tmp_path / "legacy-redis"))

    assert main(["fleet", "status", *repositories, "--template", real_release_url]) == 1
    captured = capsys.readouterr()
    rows = [line.split("\t") for line in captured.out.splitlines()]
    assert rows == [
        ["repository", "release", "status", "renovate"],
        ["cart-redis", "v0.1.0", f"behind (latest {NEXT})", "followed by Renovate"],
        ["search-redis", NEXT, "current", "followed by Renovate"],
        ["legacy-redis", "v0.2.0-3-gabc1234", f"behind (latest {NEXT})", rows[3][3]],
    ]
    assert rows[3][3] == (
        "not followed: _src_path '/tmp/backstage-fetch-1a2b/template' is not a URL Renovate "
        "can look up; _commit 'v0.2.0-3-gabc1234' is not a release tag, so Renovate never "
        "proposes an update"
    )
    assert "2 of 3 behind the latest release" in captured.err

    assert main(["fleet", "status", repositories[1], "--template", real_release_url]) == 0
    missing = str(tmp_path / "no-such-template.git")
    assert main(["fleet", "status", repositories[1], "--template", missing]) == 2
    assert f"cannot list the release tags of {missing}" in capsys.readouterr().err
