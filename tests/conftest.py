"""Shared fixtures live in tests/fixtures/, one module per real part they start.

The `slow` marker (`make test-fast` deselects it) is applied here, by one rule: a test
is slow when it starts real servers or runs a whole tool chain end to end, that is, when
it uses one of SLOW_FIXTURES (directly or through another fixture), or when its module
says so (`pytestmark = pytest.mark.slow`, for stories with no such fixture: the demo).

The longest modules run first. pytest-xdist hands out tests in collection order and a
worker that runs dry steals from the others (`--dist worksteal`, pyproject.toml), so
when the long modules come first the end of the run holds short tests and no worker is
left alone with a long one. The order comes from tests/durations.json (seconds per test
module, refreshed by a run with `--record-durations`); a module it does not list keeps
its place after the listed ones. A set-up that several workers would otherwise each
build (the portal's presses, the real releases) is built once per run through
tests/fixtures/shared.py's `built_once` (xdist's `xdist_group` marks are lost with
pytest 9.2).

Each worker keeps copier's mirror cache to itself (`copier_cache`), and the Go tools
run with a slower collector (GOGC, below): see each for why.
"""

import json
import os
from collections import defaultdict
from pathlib import Path

import pytest

DURATIONS = Path(__file__).with_name("durations.json")

# The Go tools the tests run (terraform and the aws provider, kubectl kustomize, promtool,
# Prometheus, redis_exporter, actionlint) collect garbage at a quarter of Go's default
# pace: the aws provider builds every AWS service's schema at each start, and spends
# about a quarter less CPU so (3.9 -> 2.9 s a `terraform validate`). Their output is
# the same; memory is no concern for one test's run.
os.environ.setdefault("GOGC", "400")

pytest_plugins = [
    "tests.fixtures.generation",
    "tests.fixtures.aws",
    "tests.fixtures.topology",
    "tests.fixtures.versions",
    "tests.fixtures.releases",
    "tests.fixtures.tls",
    "tests.fixtures.routes",
]

# fixture -> what it starts
SLOW_FIXTURES = {
    "topology": "redis and sentinel processes on loopback",
    "topology_factory": "redis and sentinel processes on loopback",
    "tls_redis": "redis-server processes with TLS on loopback",
    "terraform": "the Terraform CLI and the aws provider",
    "template_versions": "template releases and copier update between them",
    "real_releases": "the real releases and copier update from them",
    "routes": "the install routes' virtual environments, copier and the CLI as installed",
    "backstage_installed": "node and a stock cookiecutter: the portal's button",
    "scan_venv": "the security scanners (checkov, zizmor) over every rendered variant",
}


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--record-durations",
        action="store_true",
        help=f"write each test module's total duration to {DURATIONS.name} (orders later runs)",
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
    recorded = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}
    modules = list(dict.fromkeys(_module(item.nodeid) for item in items))
    rank = {m: i for i, m in enumerate(sorted(modules, key=lambda m: -recorded.get(m, 0)))}
    items.sort(key=lambda item: rank[_module(item.nodeid)])  # stable: a module keeps its order


def _module(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


_spent: dict[str, float] = defaultdict(float)


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    _spent[_module(report.nodeid)] += report.duration  # setup, call and teardown


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    if config.getoption("--record-durations") and not hasattr(config, "workerinput"):
        DURATIONS.write_text(json.dumps(_merged(), indent=1) + "\n")


def _merged() -> dict[str, float]:
    """The recorded durations, updated with this run's modules (a partial run keeps the rest)."""
    recorded = json.loads(DURATIONS.read_text()) if DURATIONS.is_file() else {}
    recorded.update({m: round(s, 1) for m, s in _spent.items()})
    return dict(sorted(recorded.items()))


@pytest.fixture(scope="session", autouse=True)
def copier_cache(tmp_path_factory: pytest.TempPathFactory):
    """copier (9.19) keeps a git mirror of every remote template, file:// URLs included,
    in the user's cache, and refreshes it with `git remote update` on each use: two
    workers refreshing one mirror at once fail ("cannot lock ref"), and a run would
    leave mirrors in ~/.cache. Each worker keeps its own, in its temporary folder."""
    patch = pytest.MonkeyPatch()
    patch.setenv("COPIER_CACHE_DIR", str(tmp_path_factory.mktemp("copier-cache")))
    yield
    patch.undo()
