"""The client libraries as an app gets them: built into their release artifacts, then
installed from those artifacts alone, in a clean venv / folder, offline.

Story: the platform team releases the template (docs/updating.md, "Release"): it builds
clients/python's wheel and sdist (`python -m build`) and clients/node's tarball
(`npm pack`), all at the template's version. An app installs the wheel (redis-py from the wheels
scripts/bootstrap.sh keeps in .venv-clients/wheels) and the tarball (ioredis from
npm's cache, offline), imports the library and finds the range ends it was built for.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
import tomllib
import venv
import zipfile
from pathlib import Path

import pytest

from tests.fixtures.generation import REPO_ROOT

CLIENTS = REPO_ROOT / "clients"
pytestmark = pytest.mark.slow


def run(argv, cwd: Path, env: dict | None = None, timeout: float = 300):
    result = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    return result


def test_the_libraries_are_versioned_with_the_template():
    template = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["version"]
    python = tomllib.loads((CLIENTS / "python/pyproject.toml").read_text())["project"]
    node = json.loads((CLIENTS / "node/package.json").read_text())
    init = (CLIENTS / "python/src/redis_service_client/__init__.py").read_text()
    assert python["version"] == node["version"] == template
    assert f'__version__ = "{template}"' in init
    lock = json.loads((CLIENTS / "node/package-lock.json").read_text())
    assert lock["version"] == template
    assert lock["packages"][""]["dependencies"] == node["dependencies"]


def test_the_python_library_installs_from_its_wheel_and_sdist(tmp_path):
    wheels = REPO_ROOT / ".venv-clients" / "wheels"
    if not wheels.is_dir():
        pytest.fail(f"no {wheels}: run scripts/bootstrap.sh test (make test does)")
    dist, source = tmp_path / "dist", tmp_path / "source"
    # From a copy: building writes egg-info next to the sources.
    shutil.copytree(
        CLIENTS / "python", source, ignore=shutil.ignore_patterns("*.egg-info", "build")
    )
    run(
        [sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel",
         "--outdir", str(dist), str(source)],
        tmp_path,
    )  # fmt: skip
    version = tomllib.loads((CLIENTS / "python/pyproject.toml").read_text())["project"]["version"]
    wheel = dist / f"redis_service_client-{version}-py3-none-any.whl"
    # (setuptools >= 69 names the sdist redis_service_client-..., older ones redis-service-client-...)
    sdists = sorted(dist.glob(f"redis?service?client-{version}.tar.gz"))
    assert wheel.is_file() and len(sdists) == 1, sorted(p.name for p in dist.iterdir())
    sdist = sdists[0]
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read(f"redis_service_client-{version}.dist-info/METADATA").decode()
    assert "redis_service_client/sentinel.py" in names
    assert "Requires-Dist: redis<8.2,>=5.0.1" in metadata
    with tarfile.open(sdist) as t:
        top = sdist.name.removesuffix(".tar.gz")
        assert f"{top}/src/redis_service_client/sentinel.py" in t.getnames()

    app = tmp_path / "app-venv"
    venv.create(app, with_pip=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "PIP_NO_INDEX": "1",
        "PIP_FIND_LINKS": str(wheels),
        "PIP_CONFIG_FILE": os.devnull,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }
    run([str(app / "bin/python"), "-m", "pip", "install", "--quiet", str(wheel)], tmp_path, env)
    probe = run(
        [str(app / "bin/python"), "-c",
         "import redis_service_client as c; print(c.__version__, c.check_redis_py())"],
        tmp_path,
    )  # fmt: skip
    installed, redis_py = probe.stdout.split()
    assert installed == version and (5, 0, 1) <= tuple(map(int, redis_py.split("."))) < (8, 2)


def test_the_node_library_installs_from_its_npm_pack_tarball(tmp_path):
    package = json.loads((CLIENTS / "node/package.json").read_text())
    packed = run(
        ["npm", "pack", "--json", "--pack-destination", str(tmp_path), str(CLIENTS / "node")],
        tmp_path,
    )
    info = json.loads(packed.stdout)[0]
    tarball = tmp_path / info["filename"]
    assert sorted(f["path"] for f in info["files"]) == sorted(
        ["README.md", "index.d.ts", "index.js", "package.json"]
    )

    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "app", "private": true}\n')
    # Offline, as the tests run: ioredis comes from npm's cache (scripts/bootstrap.sh filled it).
    run(
        ["npm", "install", "--offline", "--no-audit", "--no-fund", "--save-exact", str(tarball)],
        app,
    )
    dependencies = json.loads((app / "package.json").read_text())["dependencies"]
    assert list(dependencies) == [package["name"]]
    probe = run(
        ["node", "-e",
         f"const c = require({package['name']!r}); console.log(c.checkIoredis());"],
        app,
    )  # fmt: skip
    major, minor, _ = (int(p) for p in probe.stdout.strip().split("."))
    assert (5, 11) <= (major, minor) < (6, 1)
