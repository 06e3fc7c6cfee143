#!/usr/bin/env bash
# Run a command with no network but loopback, so that "no test reaches anything outside
# 127.0.0.0/8" is enforced by the kernel rather than by good intentions: the command
# runs in a new network namespace whose only interface is `lo`.
# Where namespaces are not permitted (no root, no user namespaces), it says so and runs
# the command as it is.
set -euo pipefail
inner='ip link set lo up && exec "$@"'
if [ "$(id -u)" = 0 ] && unshare --net true 2>/dev/null; then
  exec unshare --net -- bash -c "$inner" offline "$@"
elif unshare --map-root-user --net true 2>/dev/null; then
  exec unshare --map-root-user --net -- bash -c "$inner" offline "$@"
fi
echo "offline.sh: cannot create a network namespace here; running with the machine's network" >&2
exec "$@"
