#!/usr/bin/env bash
# Build the virtual environments of the documented install routes, for
# tests/test_install_routes.py, which runs offline (scripts/offline.sh) and so cannot
# reach PyPI itself. `make test` runs this first.
#
#   .venv-routes/<key>/wheelhouse/  wheels of every dependency of the routes, plus
#                                   setuptools and wheel (to build this project offline)
#   .venv-routes/<key>/copier/      copier alone, as `pipx install copier` gives it
#   .venv-routes/<key>/base/        `pip install .`, no extras: the service team's route
#   .venv-routes/<key>/sandbox/     `pip install '.[sandbox]'` (not editable, as a user
#                                   installs it): the route of the README's demo
#
# <key> is the hash of what pyproject.toml says about installing (scripts/route_key.py;
# not the test runner's settings): the dependencies are downloaded again only when that
# changes. The project itself is reinstalled into base/ and sandbox/ (offline, from the
# wheelhouse) whenever its sources change, so the tests always see the working tree.
#
# Usage: scripts/route-venvs.sh [--offline]
#   --offline  never download: exit 3 when the environments for this pyproject.toml were
#              never built (the tests skip then), else only refresh the project.
# Prints the directory of the environments on its last line.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD/.venv-routes
key=$(python3 scripts/route_key.py pyproject.toml)
dir=$root/$key
wheels=$dir/wheelhouse
mkdir -p "$root"
exec 9>"$root/.lock"
flock 9

# What `pip install .` builds from; never build in the working tree itself.
# copier.yml, template/, includes/, hooks/ and clients/ are package data (redis_scaffold/_template/).
package_files=(pyproject.toml README.md redis_scaffold copier.yml template includes hooks clients)
stage_source() {
  local to
  to=$(mktemp -d)
  tar --exclude=__pycache__ --exclude=node_modules --exclude='*.egg-info' --exclude='*.pyc' -cf - "${package_files[@]}" | tar -xf - -C "$to"
  echo "$to"
}
pip_offline() { "$1/bin/python" -m pip install --quiet --disable-pip-version-check --no-index --find-links "$wheels" "${@:2}"; }

if [ ! -f "$dir/.complete" ]; then
  if [ "${1:-}" = --offline ]; then
    echo "route-venvs: the install-route environments for this pyproject.toml were never built: run scripts/route-venvs.sh (make test does)" >&2
    exit 3
  fi
  echo "route-venvs: building the install-route environments in $dir" >&2
  rm -rf "$root"/*/  # older pyproject.toml versions
  mkdir -p "$wheels"
  src=$(stage_source)
  python3 -m venv "$dir/copier"
  "$dir/copier/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  # Every wheel the three routes install, and what building this project needs.
  "$dir/copier/bin/python" -m pip wheel --quiet --disable-pip-version-check --wheel-dir "$wheels" \
    "$src[sandbox]" copier "setuptools>=68" wheel
  rm -f "$wheels"/redis_scaffold-*.whl
  pip_offline "$dir/copier" copier
  python3 -m venv "$dir/base"
  pip_offline "$dir/base" "$src"
  python3 -m venv "$dir/sandbox"
  pip_offline "$dir/sandbox" "$src[sandbox]"
  rm -rf "$src"
  touch "$dir/.complete"
fi

# Keep base/ and sandbox/ on the working tree's code: reinstall the project when its
# sources changed.
sources=$(find "${package_files[@]}" -type f ! -path '*/__pycache__/*' ! -path '*/node_modules/*' ! -path '*.egg-info/*' ! -name '*.pyc' -print0 \
  | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)
for route in base sandbox; do
  if [ ! -f "$dir/$route/.source-$sources" ]; then
    src=$(stage_source)
    pip_offline "$dir/$route" --no-deps --force-reinstall "$src"
    rm -rf "$src"
    rm -f "$dir/$route"/.source-* && touch "$dir/$route/.source-$sources"
  fi
done
echo "$dir"
