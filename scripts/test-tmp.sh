#!/usr/bin/env bash
# Print (and create) the folder for the tests' scratch files: on /dev/shm when it is a
# writable tmpfs with room (4 GiB free: the suite's peak is far below), else under
# $TMPDIR or /tmp. Used by the Makefile as TMPDIR and pytest's --basetemp parent.
set -euo pipefail
dir=""
if [ -d /dev/shm ] && [ -w /dev/shm ]; then
  free_kb=$(df -Pk /dev/shm | awk 'NR == 2 { print $4 }')
  [ "${free_kb:-0}" -ge $((4 * 1024 * 1024)) ] && dir=/dev/shm/redis-scaffold-tests
fi
[ -n "$dir" ] || dir="${TMPDIR:-/tmp}/redis-scaffold-tests"
mkdir -p "$dir"
echo "$dir"
