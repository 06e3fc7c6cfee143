"""Shared fixtures live in tests/fixtures/, one module per real part they start."""

pytest_plugins = [
    "tests.fixtures.generation",
    "tests.fixtures.aws",
    "tests.fixtures.topology",
    "tests.fixtures.versions",
]
