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
import re
import shutil
import subprocess
import sys
from pathlib import Path

import copier
import jinja2
import pytest
import yaml
from jinja2.sandbox import SandboxedEnvironment
from jinja2_ansible_filters import AnsibleCoreFiltersExtension

from redis_scaffold.cli import main
from redis_scaffold.fleet import renovate_problems
from redis_scaffold.project import ANSWERS_FILE, read_answers
from tests.fixtures.generation import REPO_ROOT, git
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
    copier.run_copy(
        release_url,
        dst,
        data={"customise": True, "redis_replicas": 5},
        vcs_ref=V1,
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
