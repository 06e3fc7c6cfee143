#!/bin/sh
# Probe of the redis container: health-redis.sh startup|liveness|readiness
#   startup    the dataset is loaded (PING answers PONG)
#   liveness   the server answers (PONG, or LOADING while it loads its data)
#   readiness  PONG, and this node sees the cluster as ok (every slot served), so the
#              seed Service only hands out nodes of a working cluster
# Environment contract: see common.sh.
set -u
. "$CONFIG_DIR/common.sh"
: "${BIND_ADDRESS:?BIND_ADDRESS is not set}"
mode="${1:?usage: health-redis.sh startup|liveness|readiness}"
here=$(local_host)

pong=$(rcli "$here" "$REDIS_PORT" PING 2>&1) || { echo "no answer: $pong"; exit 1; }
case "$mode" in
  liveness)
    tls_reload "$REDIS_PORT" || true # a renewed certificate, loaded in place
    case "$pong" in PONG | LOADING*) exit 0 ;; esac
    echo "$pong"; exit 1 ;;
  startup)
    [ "$pong" = "PONG" ] && exit 0
    echo "$pong"; exit 1 ;;
  readiness)
    [ "$pong" = "PONG" ] || { echo "$pong"; exit 1; }
    state=$(cluster_field "$here" cluster_state)
    [ "$state" = "ok" ] && exit 0
    echo "cluster_state ${state:-unknown}"; exit 1 ;;
  *)
    echo "unknown mode $mode"; exit 2 ;;
esac
