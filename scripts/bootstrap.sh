#!/usr/bin/env bash
# Install what the demo and the tests need, idempotently, on a fresh Debian machine:
# redis-server and redis-sentinel from Debian's packages (and nftables, for the
# partition tests), and a virtualenv (.venv)
# with this project and its test dependencies from PyPI.
# terraform and kubectl are not in Debian's archive; the machine image provides them
# (the tests say so clearly when they are missing).
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
command -v redis-sentinel >/dev/null 2>&1 || missing+=(redis-sentinel)
command -v git >/dev/null 2>&1 || missing+=(git)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v unshare >/dev/null 2>&1 || missing+=(util-linux)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
# nft draws the network partitions of the fault tests (in their private namespace).
command -v nft >/dev/null 2>&1 || [ -x /usr/sbin/nft ] || missing+=(nftables)
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "bootstrap: installing ${missing[*]} from Debian's packages"
  $sudo apt-get update -qq
  # policy-rc.d-less containers would otherwise try to start the packaged redis service.
  DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
stamp=.venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)
if [ ! -f "$stamp" ]; then
  echo "bootstrap: installing the project into .venv"
  .venv/bin/python -m pip install --quiet --upgrade pip >/dev/null
  .venv/bin/python -m pip install --quiet -e ".[test]"
  rm -f .venv/.installed-* && touch "$stamp"
fi

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
