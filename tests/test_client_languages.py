"""client_languages: a multiselect whose answer picks the client folders.

Story: one team wants the Python client, another Node, a third both, a fourth brings
its own client (and gets no client/ folder at all). Each gets exactly its folders
(copier file-name conditions), the Makefile installs the Python client library only with
Python and prints the app's pinned requirement for it, the Node package depends on the
Node client library of the same release, the adapters carry the answers and run as
generated (against a real topology, on every end of the libraries' declared ranges:
tests/test_clients_failover.py), and `copier update` keeps the recorded list or adds a
language.
"""

from __future__ import annotations

import json
import re
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
CLIENTS = Path(__file__).parents[1] / "clients"
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
    makefile = (repo / "Makefile").read_text()
    install = "scripts/hooks-requirement.py --client .copier-answers.yml" in makefile
    assert install == ("client/python/redis_client.py" in expected)
    assert ("\nclient-requirement:" in makefile) == install
    assert (repo / "client").exists() == bool(expected)
    readme = (repo / "README.md").read_text()
    assert ("No\nclient snippet was generated" in readme) == (not expected)


def test_the_adapters_carry_the_answers_and_depend_on_the_libraries_of_the_release(generate):
    repo = generate(
        {"client_languages": ["python", "node"], "down_after_ms": 5000, "customise": True}
    )
    library = json.loads((CLIENTS / "node/package.json").read_text())
    package = json.loads((repo / "client/node/package.json").read_text())
    assert package["dependencies"] == {library["name"]: library["version"]}
    assert package["main"] == "redis_client.js" and package["types"] == "redis_client.d.ts"
    snippet = (repo / "client/node/redis_client.js").read_text()
    assert "const DOWN_AFTER_MS = 5000;" in snippet  # the answers reach the adapter
    assert "const REPLICAS = 2;" in snippet
    adapter = (repo / "client/python/redis_client.py").read_text()
    assert "DOWN_AFTER_MS = 5000" in adapter and "REPLICAS = 2" in adapter
    # Short adapters: only the service's own settings (comments and docstrings aside).
    for path in ("client/python/redis_client.py", "client/node/redis_client.js"):
        assert code_lines((repo / path).read_text()) <= 60, path
    # The READMEs name the pinned library of this release, and how to vendor it.
    python_readme = (repo / "client/python/README.md").read_text()
    assert f"@v{library['version']}#subdirectory=clients/python" in python_readme
    assert "pip install --no-deps --target vendor" in python_readme
    node_readme = (repo / "client/node/README.md").read_text()
    assert f"npm install --save-exact {library['name']}@{library['version']}" in node_readme


def code_lines(text: str) -> int:
    """Lines of code: not blank, not a comment, not inside a docstring or a /* */ block."""
    text = re.sub(r'"""(.*?)"""|/\*(.*?)\*/', "", text, flags=re.DOTALL)
    lines = (line.strip() for line in text.splitlines())
    return sum(1 for line in lines if line and not line.startswith(("#", "//")))


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
