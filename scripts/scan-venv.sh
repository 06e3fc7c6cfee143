#!/usr/bin/env bash
# Build the security scanners' virtual environment (checkov and zizmor, pinned in
# tests/scan-requirements.txt) for tests/test_security.py, which runs offline
# (scripts/offline.sh) and so cannot reach PyPI itself. `make test` runs this first.
#
#   .venv-scan/<key>/   a venv holding exactly tests/scan-requirements.txt
#
# <key> is the hash of tests/scan-requirements.txt: the environment is built again only
# when that file changes (older ones are removed). The scanners live apart from .venv so
# that checkov's many pinned dependencies never constrain the project's own.
#
# Usage: scripts/scan-venv.sh [--offline]
#   --offline  never download: exit 3 when the environment for these requirements was
#              never built.
# Prints the environment's directory on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
requirements=tests/scan-requirements.txt
root=$PWD/.venv-scan
key=$(sha256sum "$requirements" | cut -c1-16)
dir=$root/$key
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9

if [ ! -f "$dir/.complete" ]; then
  if [ "${1:-}" = --offline ]; then
    echo "scan-venv: the scanners' environment for $requirements was never built: run scripts/scan-venv.sh (make test does)" >&2
    exit 3
  fi
  echo "scan-venv: building the scanners' environment in $dir" >&2
  rm -rf "$root"/*/  # older requirements
  python3 -m venv "$dir"
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --no-deps -r "$requirements"
  "$dir/bin/python" -m pip check >&2
  "$dir/bin/checkov" --version >/dev/null
  "$dir/bin/zizmor" --version >/dev/null
  touch "$dir/.complete"
fi
echo "$dir"
