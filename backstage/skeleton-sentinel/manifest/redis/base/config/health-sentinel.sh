#!/bin/sh
# Probe of the sentinel container: health-sentinel.sh startup|liveness|readiness
#   startup, liveness  the sentinel answers PING (liveness: and it runs the mounted
#                      certificate; a renewed one fails it, for a restart: tls_reload)
#   readiness          and it names a master for the set
# Environment contract: see common.sh.
set -u
. "$CONFIG_DIR/common.sh"
mode="${1:?usage: health-sentinel.sh startup|liveness|readiness}"
here=$(local_host)

pong=$(rcli "$here" "$SENTINEL_PORT" PING 2>&1)
[ "$pong" = "PONG" ] || { echo "no answer: $pong"; exit 1; }
case "$mode" in
  startup) exit 0 ;;
  liveness)
    # A renewed certificate: Sentinel cannot reload it in place (no CONFIG command), so
    # this probe fails and the kubelet restarts the sentinel container, which loads it.
    tls_reload "$SENTINEL_PORT" || exit 1
    exit 0 ;;
  readiness)
    port=$(rcli "$here" "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$MASTER_SET" | sed -n 2p)
    case "$port" in '' | *[!0-9]*) echo "no master known for $MASTER_SET"; exit 1 ;; esac
    exit 0 ;;
  *)
    echo "unknown mode $mode"; exit 2 ;;
esac
