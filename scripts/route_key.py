"""Print the key of the install-route environments (.venv-routes/<key>/).

The hash of what pyproject.toml says about installing (build-system, project,
tool.setuptools), not of the test runner's settings, so that a pytest option does not
rebuild them. scripts/route-venvs.sh names the folder with it; tests/fixtures/copier_cli.py
finds copier-alone there.
"""

import hashlib
import json
import sys
import tomllib
from pathlib import Path


def route_key(pyproject: Path) -> str:
    spec = tomllib.loads(pyproject.read_text())
    install = [
        spec.get("build-system"),
        spec.get("project"),
        spec.get("tool", {}).get("setuptools"),
    ]
    return hashlib.sha256(json.dumps(install, sort_keys=True).encode()).hexdigest()[:16]


if __name__ == "__main__":
    print(route_key(Path(sys.argv[1] if len(sys.argv) > 1 else "pyproject.toml")))
