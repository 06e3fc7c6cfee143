"""Shared fixtures live in tests/fixtures/, one module per real part they start.

The `slow` marker (`make test-fast` deselects it) is applied here, by one rule: a test
is slow when it starts real servers or runs a whole tool chain end to end, that is, when
it uses one of SLOW_FIXTURES (directly or through another fixture), or when its module
says so (`pytestmark = pytest.mark.slow`, for stories with no such fixture: the demo).
"""

import pytest

pytest_plugins = [
    "tests.fixtures.generation",
    "tests.fixtures.aws",
    "tests.fixtures.topology",
    "tests.fixtures.versions",
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
    "from_0_1_0": "the real 0.1.0 release and copier update from it",
    "routes": "the install routes' virtual environments, copier and the CLI as installed",
    "backstage_installed": "node and a stock cookiecutter: the portal's button",
    "scan_venv": "the security scanners (checkov, zizmor) over every rendered variant",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if SLOW_FIXTURES.keys() & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)
