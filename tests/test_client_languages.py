"""client_languages: a multiselect whose answer picks the client folders.

Story: one team wants the Python client, another Node, a third both, a fourth brings
its own client. Each gets exactly its folders (copier file-name conditions), the
Makefile installs the Python requirements only with Python, the Node package pins the
ioredis the tests run (tests/node/package-lock.json), the snippets run as generated
(`node redis_client.js` against a real topology: tests/test_clients_failover.py), and
`copier update` keeps the recorded list or adds a language.
"""

from __future__ import annotations

import json
from pathlib import Path

import copier
import pytest

from redis_scaffold.project import read_answers
from tests.fixtures.versions import V1, V2, commit_all, generate_service

NODE_FILES = {
    "client/node/redis_client.js",
    "client/node/redis_client.d.ts",
    "client/node/package.json",
    "client/node/README.md",
}
PYTHON_FILES = {
    "client/python/redis_client.py",
    "client/python/requirements.txt",
    "client/python/README.md",
}
TESTS_NODE = Path(__file__).parent / "node"


def answers(project: Path) -> dict:
    return read_answers(project)


def client_files(repo: Path) -> set[str]:
    return {p.relative_to(repo).as_posix() for p in (repo / "client").rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("chosen", "expected"),
    [
        (None, PYTHON_FILES),  # the default
        (["node"], NODE_FILES),
        (["python", "node"], PYTHON_FILES | NODE_FILES),
        ([], set()),
    ],
)
def test_each_language_is_one_folder(generate, chosen, expected):
    repo = generate({} if chosen is None else {"client_languages": chosen})
    assert client_files(repo) == expected
    recorded = answers(repo)["client_languages"]
    assert recorded == (["python"] if chosen is None else chosen)
    install = "-r client/python/requirements.txt" in (repo / "Makefile").read_text()
    assert install == ("client/python/redis_client.py" in expected)
    readme = (repo / "README.md").read_text()
    assert ("No\nclient snippet was generated" in readme) == (not expected)


def test_the_node_package_pins_the_ioredis_the_tests_run(generate):
    repo = generate({"client_languages": ["node"], "down_after_ms": 5000, "customise": True})
    package = json.loads((repo / "client/node/package.json").read_text())
    tested = json.loads((TESTS_NODE / "package.json").read_text())["dependencies"]["ioredis"]
    locked = json.loads((TESTS_NODE / "package-lock.json").read_text())
    assert package["dependencies"] == {"ioredis": tested}
    assert locked["packages"]["node_modules/ioredis"]["version"] == tested
    assert package["main"] == "redis_client.js" and package["types"] == "redis_client.d.ts"
    snippet = (repo / "client/node/redis_client.js").read_text()
    assert "const FAILOVER_MS = 2 * 5000;" in snippet  # the answers reach the snippet
    assert "const REPLICAS = 2;" in snippet


def test_copier_update_keeps_the_languages_and_can_add_one(template_versions, tmp_path):
    project = generate_service(
        template_versions, tmp_path / "svc", V1, {"client_languages": ["node"]}
    )
    assert client_files(project) == NODE_FILES

    run = dict(defaults=True, overwrite=True, unsafe=True, quiet=True, skip_tasks=True)
    copier.run_update(project, vcs_ref=V2, conflict="inline", **run)
    assert answers(project)["client_languages"] == ["node"]
    assert client_files(project) == NODE_FILES

    commit_all(project, "update to v2")
    copier.run_update(
        project, data={"client_languages": ["python", "node"]}, vcs_ref=V2, conflict="inline", **run
    )
    assert answers(project)["client_languages"] == ["python", "node"]
    assert client_files(project) == PYTHON_FILES | NODE_FILES
