"""Releases and the way back to them: a team's repository installs the hooks of the
template release it was made from, wherever that template lives, and a copy from an
untagged template says at once that it cannot be updated, and what to run.

- `make install-hooks` (part of `make install`) for a local-path and a file:// template,
  really run, pip offline from the install routes' wheelhouse;
- https, SSH (`git@host:org/repo.git`, `ssh://`), gh: templates: the exact requirement
  pip receives, parsed by `packaging` and resolved by `pip install --dry-run` as far as
  pip goes offline (it must reach the git clone, not refuse the requirement);
- copier's closing message, run through the real copier CLI, tagged and untagged.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from tests.fixtures.generation import TEMPLATE_TAG, git

COPIER = str(Path(sys.executable).parent / "copier")


def run(argv, cwd, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def copy(src: str, dst: Path, *extra: str) -> subprocess.CompletedProcess:
    """The copier CLI, as a platform team's user runs it (tasks skipped: no hooks here)."""
    result = run(
        [COPIER, "copy", "--trust", "--defaults", "--skip-tasks", *extra, src, str(dst)], dst.parent
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def with_answers(repo: Path, src: str, commit: str) -> Path:
    answers = repo / ".copier-answers.yml"
    lines = [
        f'_src_path: "{src}"' if line.startswith("_src_path:") else
        f'_commit: "{commit}"' if line.startswith("_commit:") else line
        for line in answers.read_text().splitlines()
    ]  # fmt: skip
    answers.write_text("\n".join(lines) + "\n")
    return repo


def requirement_of(repo: Path) -> str:
    result = run([sys.executable, "scripts/hooks-requirement.py"], repo)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.fixture(scope="module")
def repo(template_src, tmp_path_factory) -> Path:
    dst = tmp_path_factory.mktemp("copy") / "shopping-cart-redis"
    copy(str(template_src), dst, "--vcs-ref", TEMPLATE_TAG)
    return dst


# ---------------------------------------------------------------- make install
@pytest.mark.parametrize(
    ("src", "commit", "expected"),
    [
        (
            "https://github.com/acme/redis-template",
            "v0.3.0",
            "redis-scaffold @ git+https://github.com/acme/redis-template@v0.3.0",
        ),
        (
            "https://github.com/acme/redis-template.git",
            "v0.3.0-3-gabc1234",
            "redis-scaffold @ git+https://github.com/acme/redis-template.git@abc1234",
        ),
        (
            "git@github.com:acme/redis-template.git",
            "v0.3.0",
            "redis-scaffold @ git+ssh://git@github.com/acme/redis-template.git@v0.3.0",
        ),
        (
            "ssh://git@gitlab.example.com:2222/platform/redis-template.git",
            "v0.3.0",
            "redis-scaffold @ git+ssh://git@gitlab.example.com:2222/platform/redis-template.git@v0.3.0",
        ),
        (
            "gh:acme/redis-template",
            "v1.0.0",
            "redis-scaffold @ git+https://github.com/acme/redis-template.git@v1.0.0",
        ),
    ],
    ids=["https", "https-described", "scp-ssh", "ssh-url", "gh-prefix"],
)
def test_remote_templates_give_pip_a_valid_vcs_requirement(repo, tmp_path, src, commit, expected):
    project = with_answers(Path(shutil.copytree(repo, tmp_path / "svc")), src, commit)
    requirement = requirement_of(project)
    assert requirement == expected
    parsed = Requirement(requirement)
    assert parsed.name == "redis-scaffold" and parsed.url.startswith("git+")

    # pip accepts it and goes as far as cloning (which offline fails); it never says
    # "Invalid requirement", the failure the sed-based install had.
    env = {
        **os.environ,
        "PIP_NO_INDEX": "1",
        "PIP_CONFIG_FILE": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_SSH_COMMAND": "false",
        "GIT_ALLOW_PROTOCOL": "file",  # no network protocol at all: git refuses at once
    }
    result = run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--quiet", requirement],
        tmp_path,
        env,
        timeout=120,
    )
    assert result.returncode != 0
    assert "Invalid requirement" not in result.stderr
    assert "git clone" in result.stderr or "Cloning" in result.stdout + result.stderr


@pytest.mark.parametrize("form", ["path", "file-url"])
def test_a_local_template_path_and_its_file_url_name_the_same_requirement(
    form, template_src, repo, tmp_path
):
    src = str(template_src) if form == "path" else f"file://{template_src}"
    project = with_answers(Path(shutil.copytree(repo, tmp_path / "svc")), src, TEMPLATE_TAG)
    assert requirement_of(project) == (
        f"redis-scaffold @ git+file://localhost{template_src}@{TEMPLATE_TAG}"
    )


@pytest.mark.parametrize("topology", ["sentinel", "cluster"])
def test_make_install_hooks_installs_from_a_local_template_offline(
    routes, template_src, repo, tmp_path, topology
):
    """The one requirement both local forms give (above), installed for real by make.
    Cluster: its RedisCluster adapter imports the library too (the password file)."""
    if topology == "cluster":
        repo = tmp_path / "cluster-redis"
        copy(str(template_src), repo, "--vcs-ref", TEMPLATE_TAG, "--data", "topology=cluster")
    project = with_answers(
        Path(shutil.copytree(repo, tmp_path / "svc")), str(template_src), TEMPLATE_TAG
    )
    env = {
        # python3: the interpreter the wheelhouse was built for, no project venv
        "PATH": os.pathsep.join([str(Path(sys.base_prefix) / "bin"), "/usr/bin", "/bin"]),
        "HOME": str(tmp_path),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(routes.wheelhouse),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    result = run(["make", "install-hooks"], project, env)
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    installed = run([str(project / ".venv/bin/redis-scaffold"), "--help"], project, env)
    assert installed.returncode == 0 and installed.stdout.startswith("usage: redis-scaffold")
    # The client library of the same release came along (client_languages: python), and
    # the generated adapter imports it.
    probe = (
        "import redis, redis_service_client, runpy; runpy.run_path('client/python/redis_client.py')"
    )
    assert run([str(project / ".venv/bin/python"), "-c", probe], project).returncode == 0


def test_the_requirement_script_names_what_is_missing(repo, tmp_path):
    project = Path(shutil.copytree(repo, tmp_path / "svc"))
    (project / ".copier-answers.yml").write_text("service_name: x\n")
    result = run([sys.executable, "scripts/hooks-requirement.py"], project)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("hooks-requirement: .copier-answers.yml has no _src_path")


# ---------------------------------------------------------------- releases
def test_a_copy_from_a_release_says_nothing_about_tags(repo, template_src, tmp_path):
    result = copy(str(template_src), tmp_path / "tagged", "--vcs-ref", TEMPLATE_TAG)
    assert "Next steps" in result.stderr
    assert "no release tag" not in result.stderr
    # A plain path: copier updates from it, Renovate cannot look it up; the fix is named.
    message = " ".join(result.stderr.split())
    assert f'names its template "{template_src}", which Renovate cannot look up' in message
    assert "or set _src_path to it in .copier-answers.yml and commit" in message


def test_a_copy_from_an_untagged_template_says_updates_need_a_tag(template_src, tmp_path):
    untagged = tmp_path / "redis-template"
    git(tmp_path, "clone", "-q", str(template_src), str(untagged))
    git(untagged, "tag", "-d", TEMPLATE_TAG)
    head = git(untagged, "rev-parse", "--short", "HEAD").strip()

    result = copy(str(untagged), tmp_path / "cart")
    message = " ".join(result.stderr.split())
    assert f'the template had no release tag here, so this copy records commit "{head}"' in message
    assert "`copier update`, `redis-scaffold update` and Renovate all need a vX.Y.Z tag" in message
    assert 'publish a release (their docs/updating.md, "Release")' in message
    assert "copier recopy --trust --vcs-ref vX.Y.Z" in message

    # A commit after the last release records a `git describe` string: the same warning.
    git(untagged, "tag", TEMPLATE_TAG, "HEAD")
    git(untagged, "-c", "user.name=t", "-c", "user.email=t@example.invalid", "commit", "-q",
        "--allow-empty", "-m", "after the release")  # fmt: skip
    result = copy(str(untagged), tmp_path / "cart-after", "--vcs-ref", "HEAD")
    assert f'records commit "{TEMPLATE_TAG}-1-g' in " ".join(result.stderr.split())
