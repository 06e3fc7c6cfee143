"""Every documented way in, each in a fresh venv of its own, as a newcomer would use it.

- copier alone (`pipx install copier`, then `copier copy --trust` with the tasks on):
  no boto3, no credentials, no network; the repository is always kept, the copy exits 0
  and says what to run later;
- `pip install .` without extras (what the generated repository's `make install` and its
  provision workflow do): every service-team command works; the sandbox and portal
  commands say, in one line, which extra to install;
- the sandbox extra, installed as a user installs it (`pip install '.[sandbox]'`, not
  editable): the demo, from the template files shipped inside the package.

The venvs are built before the tests go offline by scripts/route-venvs.sh (make test
runs it), together with a wheelhouse from which copier-alone's own environment is
provisioned here through pip's standard PIP_NO_INDEX / PIP_FIND_LINKS.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import boto3
import pytest

from redis_scaffold.project import read_answers
from redis_scaffold.sandbox.emulator import aws_env
from tests.fixtures.copier_cli import other_warnings
from tests.fixtures.generation import REPO_ROOT, TEMPLATE_TAG
from tests.fixtures.routes import Routes

AWS_VARS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_PROFILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
)
# Commands a service team runs; each must work after `pip install .` alone.
SERVICE_COMMANDS = (
    ["secret", "ensure"],
    ["sentinel", "check"],
    ["cluster", "check"],
    ["elasticache", "check"],
    ["update"],
    ["adopt"],
    ["post-copy"],
    ["fleet", "status"],  # the platform team's
)


def clean_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """No AWS setting anywhere in the chain, no pip setting of this machine, plus `extra`."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in AWS_VARS and not k.startswith(("PIP_", "VIRTUAL_ENV", "PYTHON"))
    }
    env.update(
        AWS_CONFIG_FILE=str(tmp_path / "no-aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "no-aws-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        PIP_CONFIG_FILE=os.devnull,
    )
    env.update(extra)
    return env


def run(
    argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 300
) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def no_traceback(result: subprocess.CompletedProcess) -> bool:
    return "Traceback" not in result.stdout + result.stderr


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # bound, never listening: connections are refused


# ------------------------------------------------------------------ copier alone
@pytest.fixture(scope="session")
def hook_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """XDG_CACHE_HOME for copier-alone runs: the hook's environment is made once per session."""
    return tmp_path_factory.mktemp("xdg-cache")


def copier_alone(routes: Routes, template: Path, dst: Path, env: dict[str, str], *data: str):
    argv = [
        routes.bin("copier", "copier"),
        "copy",
        "--trust",
        "--defaults",
        "--vcs-ref",
        TEMPLATE_TAG,
    ]
    for item in data:
        argv += ["--data", item]
    return run([*argv, str(template), str(dst)], env, dst.parent, timeout=900)


def assert_complete(dst: Path) -> None:
    for path in (
        "manifest/redis/base/kustomization.yaml",
        "terraform/terraform.tfvars.json",
        "client/python/redis_client.py",
        "Makefile",
        ".copier-answers.yml",
    ):
        assert (dst / path).is_file(), f"{path} missing from the generated repository"


def test_copier_alone_has_no_hook_dependencies(routes, tmp_path):
    """The precondition of the route: next to copier there is no boto3 and no redis-scaffold."""
    for module in ("boto3", "redis", "redis_scaffold", "moto"):
        probe = run(
            [routes.bin("copier", "python"), "-c", f"import {module}"],
            clean_env(tmp_path),
            tmp_path,
        )
        assert probe.returncode == 1 and "ModuleNotFoundError" in probe.stderr, module


def test_copier_alone_without_credentials_keeps_the_repository(
    routes, template_src, tmp_path, hook_cache
):
    env = clean_env(
        tmp_path,
        XDG_CACHE_HOME=str(hook_cache),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(routes.wheelhouse),
    )
    dst = tmp_path / "cart"
    result = copier_alone(routes, template_src, dst, env, "create_secret=true")

    assert result.returncode == 0, result.stderr[-3000:]
    assert_complete(dst)
    assert read_answers(dst)["create_secret"] is True
    # The hook got its own environment (copier's has no boto3), ran, and said what to do.
    assert list(hook_cache.glob("redis-scaffold/post-copy-*/.complete"))
    assert "redis-scaffold secret ensure: No AWS credentials were found" in result.stderr
    assert (
        "Run `make secret-ensure (or make secret)` once the problem above is fixed."
        in result.stderr
    )
    assert no_traceback(result)


def test_copier_alone_without_network_keeps_the_repository(routes, template_src, tmp_path):
    # pip's index is a loopback port nobody listens on: the same as no network at all.
    env = clean_env(
        tmp_path,
        XDG_CACHE_HOME=str(tmp_path / "empty-cache"),
        PIP_INDEX_URL=f"http://127.0.0.1:{closed_port()}/simple",
        PIP_RETRIES="0",
    )
    dst = tmp_path / "cart"
    result = copier_alone(
        routes, template_src, dst, env, "create_secret=true", "check_sentinel=true"
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert_complete(dst)
    assert (
        "warning: the post-copy hooks did not run: redis-scaffold could not be installed"
        in result.stderr
    )
    assert (
        "warning: the repository is complete; run `make install && make secret-ensure (or make secret)` "
        "and `make install && make check` in it later." in result.stderr
    )
    assert no_traceback(result)


def test_copier_alone_with_credentials_creates_the_secret(
    routes, template_src, tmp_path, hook_cache, moto_server
):
    from redis_scaffold.sandbox.emulator import reset

    reset(moto_server)
    env = clean_env(
        tmp_path,
        XDG_CACHE_HOME=str(hook_cache),
        PIP_NO_INDEX="1",
        PIP_FIND_LINKS=str(routes.wheelhouse),
        **aws_env(moto_server),
    )
    result = copier_alone(routes, template_src, tmp_path / "cart", env, "create_secret=true")

    assert result.returncode == 0, result.stderr[-3000:]
    assert "secret shopping-cart-redis: created" in result.stdout
    client = boto3.client(
        "secretsmanager",
        region_name="us-east-1",
        endpoint_url=moto_server,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    assert client.describe_secret(SecretId="shopping-cart-redis")["Name"] == "shopping-cart-redis"
    assert other_warnings(result.stderr) == []


def test_the_post_copy_hook_exits_0_even_on_bad_arguments(tmp_path):
    hook = REPO_ROOT / "hooks" / "post_copy.py"
    result = run([sys.executable, str(hook), "--no-such-option"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 0
    assert (
        "warning: the repository is complete; run `make install && make secret-ensure"
        in result.stderr
    )


# ----------------------------------------------------------- pip install . (no extras)
def test_choosing_a_command_imports_only_its_module():
    """Listing the commands imports no third-party package; `secret ensure` no sandbox or portal."""
    probe = (
        "import sys, contextlib, io\n"
        "from redis_scaffold import cli\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    try:\n"
        "        cli.main(sys.argv[1:])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print(' '.join(sorted({m.split('.')[0] for m in sys.modules} & {'boto3', 'redis', 'yaml', "
        "'copier', 'moto', 'jsonschema'})))\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('redis_scaffold.'))))\n"
    )

    def imported(*argv: str) -> list[str]:
        result = subprocess.run(
            [sys.executable, "-c", probe, *argv],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    assert imported("--help") == ["", "redis_scaffold.cli redis_scaffold.errors"]
    third_party, ours = imported("secret", "ensure", "--help")
    assert third_party == "boto3"
    assert not any(
        m.startswith(("redis_scaffold.sandbox", "redis_scaffold.portal")) for m in ours.split()
    )


def test_no_extras_lists_commands_and_each_service_command_has_help(routes, tmp_path):
    env = clean_env(tmp_path)
    # What only the extras bring is really absent from this route.
    for module in ("moto", "jsonschema", "pytest"):
        probe = run([routes.bin("base", "python"), "-c", f"import {module}"], env, tmp_path)
        assert probe.returncode == 1, module

    listing = run([routes.bin("base", "redis-scaffold"), "--help"], env, tmp_path)
    assert listing.returncode == 0, listing.stderr
    for name in (
        "secret",
        "sentinel",
        "elasticache",
        "update",
        "adopt",
        "post-copy",
        "fleet",
        "demo",
        "backstage",
    ):
        assert f"    {name}" in listing.stdout
    assert listing.stdout.splitlines()[2].startswith(
        "Commands for repositories generated from the Redis service template: Redis Sentinel,"
    )
    version = run([routes.bin("base", "redis-scaffold"), "--version"], env, tmp_path)
    assert (version.returncode, version.stdout) == (0, "redis-scaffold 0.3.0\n")
    for group in ("secret", "sentinel", "cluster", "elasticache"):
        result = run([routes.bin("base", "redis-scaffold"), group, "--help"], env, tmp_path)
        assert result.returncode == 0, f"{group}: {result.stderr}"
    for command in SERVICE_COMMANDS:
        result = run([routes.bin("base", "redis-scaffold"), *command, "--help"], env, tmp_path)
        assert result.returncode == 0, f"{command}: {result.stderr}"
        assert result.stdout.startswith(f"usage: redis-scaffold {' '.join(command)} ")
        # Help speaks to the user: no source files, no docs folder a pip install lacks.
        assert ".py" not in result.stdout and "docs/" not in result.stdout, command


def test_no_extras_the_help_of_a_command_without_its_extra_says_what_to_install(routes, tmp_path):
    """Every page of help exits 0; the extra's absence is said, and fails only a real run."""
    env = clean_env(tmp_path)
    redis_scaffold = routes.bin("base", "redis-scaffold")
    for command, extra in (
        (["demo"], "sandbox"),
        (["backstage"], "portal"),
        (["backstage", "export"], "portal"),
    ):
        result = run([redis_scaffold, *command, "--help"], env, tmp_path)
        assert result.returncode == 0, f"{command}: {result.stderr}"
        assert result.stderr == "" and no_traceback(result)
        if command != ["demo"]:  # the demo's options need nothing from its extra
            assert f"pip install 'redis-scaffold[{extra}]'" in result.stdout, command
    export = run([redis_scaffold, "backstage", "export"], env, tmp_path)
    assert export.returncode == 3
    assert export.stderr == (
        "redis-scaffold backstage export: needs the Python package that provides 'jsonschema', "
        "which is not installed: install the portal extra with "
        "`pip install 'redis-scaffold[portal]'`.\n"
    )


def test_no_extras_an_optional_command_names_its_extra_in_one_line(routes, tmp_path):
    result = run([routes.bin("base", "redis-scaffold"), "demo"], clean_env(tmp_path), tmp_path)
    assert result.returncode == 3
    assert result.stdout == ""
    assert result.stderr == (
        "redis-scaffold demo: needs the Python package that provides 'moto', which is not "
        "installed: install the sandbox extra with `pip install 'redis-scaffold[sandbox]'`.\n"
    )


def test_no_extras_secret_ensure_dry_run_against_the_emulator(
    routes, generate, tmp_path, moto_server
):
    from redis_scaffold.sandbox.emulator import reset

    reset(moto_server)
    project = generate()
    env = clean_env(tmp_path, **aws_env(moto_server))
    result = run(
        [routes.bin("base", "redis-scaffold"), "secret", "ensure", str(project), "--dry-run"],
        env,
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("[dry run] secret shopping-cart-redis: would create")

    # Without credentials: the error's own code and one paragraph, no traceback.
    result = run(
        [routes.bin("base", "redis-scaffold"), "secret", "ensure", str(project)],
        clean_env(tmp_path),
        tmp_path,
    )
    assert result.returncode == 11
    assert result.stderr.startswith("redis-scaffold secret ensure: No AWS credentials were found")
    assert result.stderr.count("\n") == 1 and no_traceback(result)


def test_no_extras_sentinel_check_against_nothing_listening(routes, generate, tmp_path):
    project = generate()
    refused = f"127.0.0.1:{closed_port()}"
    base = [
        routes.bin("base", "redis-scaffold"),
        "sentinel",
        "check",
        str(project),
        "--sentinel",
        refused,
        "--timeout",
        "2",
    ]
    env = clean_env(tmp_path, REDIS_PASSWORD="irrelevant")

    lenient = run(base, env, tmp_path, timeout=60)
    assert lenient.returncode == 0
    assert lenient.stderr.startswith("warning: ") and refused in lenient.stderr

    strict = run([*base, "--strict"], env, tmp_path, timeout=60)
    assert strict.returncode == 21
    assert strict.stderr.startswith("redis-scaffold sentinel check: unreachable: ")
    assert refused in strict.stderr and strict.stderr.count("\n") == 1
    assert no_traceback(lenient) and no_traceback(strict)


def test_no_extras_update_adopt_and_post_copy_run(routes, generate, template_src, tmp_path):
    project = generate()
    env = clean_env(tmp_path)
    redis_scaffold = routes.bin("base", "redis-scaffold")

    # update and adopt import copier, git and packaging, then refuse this non-git directory.
    update = run([redis_scaffold, "update", str(project)], env, tmp_path)
    assert update.returncode == 2
    assert update.stderr.startswith(
        f"redis-scaffold update: {project} is not the top of a git repository"
    )
    adopt = run(
        [redis_scaffold, "adopt", str(project), "--template", str(template_src)], env, tmp_path
    )
    assert adopt.returncode == 2
    assert adopt.stderr.startswith(
        f"redis-scaffold adopt: {project} is not the top of a git repository"
    )
    missing = tmp_path / "missing"
    adopt = run(
        [redis_scaffold, "adopt", str(missing), "--template", str(template_src)], env, tmp_path
    )
    assert (adopt.returncode, adopt.stderr) == (
        2,
        f"redis-scaffold adopt: {missing} is not a directory\n",
    )

    # post-copy: the secret step fails (no credentials) as a warning; the command exits 0.
    post_copy = run([redis_scaffold, "post-copy", str(project), "--create-secret"], env, tmp_path)
    assert post_copy.returncode == 0
    assert "warning: `redis-scaffold secret ensure` did not complete (exit 11)" in post_copy.stderr
    assert no_traceback(update) and no_traceback(adopt) and no_traceback(post_copy)


# ------------------------------------------------------------- the sandbox extra
def installed_template(routes: Routes, route: str, tmp_path: Path) -> Path:
    """Where the route's redis-scaffold finds the template (it must not be this checkout)."""
    probe = run(
        [
            routes.bin(route, "python"),
            "-c",
            "from redis_scaffold.template_files import template_root; print(template_root())",
        ],
        clean_env(tmp_path),
        tmp_path,
    )
    assert probe.returncode == 0, probe.stderr
    return Path(probe.stdout.strip())


def test_the_template_ships_whole_inside_the_package(routes, tmp_path):
    """Every file of copier.yml, template/, includes/ and hooks/, dotfiles included, and
    the Python client library's sources that the sandbox's app imports (clients/python/src)."""
    root = installed_template(routes, "base", tmp_path)
    assert root.parts[-3:-1] == ("site-packages", "redis_scaffold"), root
    tracked = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--"]
        + ["copier.yml", "template", "includes", "hooks", "clients/python/src"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")
    shipped = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()}
    shipped = {p for p in shipped if "__pycache__" not in p}
    assert shipped == set(filter(None, tracked))


@pytest.mark.slow
def test_sandbox_extra_runs_the_demo_from_a_non_editable_install(routes, tmp_path):
    root = installed_template(routes, "sandbox", tmp_path)
    assert root.parts[-3:-1] == ("site-packages", "redis_scaffold"), root
    env = clean_env(tmp_path)
    result = run(
        [routes.bin("sandbox", "redis-scaffold"), "demo", "--workdir", str(tmp_path / "demo")],
        env,
        tmp_path,
        timeout=600,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    assert "Demo complete" in result.stdout
    assert no_traceback(result)
