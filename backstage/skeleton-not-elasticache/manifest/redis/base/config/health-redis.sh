{% from '.portal-context.jinja' import topology with context %}{% if topology == 'sentinel' %}{% with %}#!/bin/sh
# Probe of the redis container: health-redis.sh startup|liveness|readiness
#   startup    the dataset is loaded (PING answers PONG)
#   liveness   the server answers (PONG, or LOADING / MASTERDOWN while it catches up)
#   readiness  PONG, and a replica's link to its master is up, so the read Service
#              only sends reads to synced pods
# Environment contract: see common.sh.
set -u
. "$CONFIG_DIR/common.sh"
mode="${1:?usage: health-redis.sh startup|liveness|readiness}"
here=$(local_host)

pong=$(rcli "$here" "$REDIS_PORT" PING 2>&1) || { echo "no answer: $pong"; exit 1; }
case "$mode" in
  liveness)
    tls_reload "$REDIS_PORT" || true # a renewed certificate, loaded in place
    case "$pong" in PONG | LOADING* | MASTERDOWN*) exit 0 ;; esac
    echo "$pong"; exit 1 ;;
  startup)
    [ "$pong" = "PONG" ] && exit 0
    echo "$pong"; exit 1 ;;
  readiness)
    [ "$pong" = "PONG" ] || { echo "$pong"; exit 1; }
    info=$(rcli "$here" "$REDIS_PORT" INFO replication | tr -d '\r')
    case "$info" in *role:slave*) ;; *) exit 0 ;; esac
    case "$info" in *master_link_status:up*) exit 0 ;; esac
    echo "replica not in sync with its master"; exit 1 ;;
  *)
    echo "unknown mode $mode"; exit 2 ;;
esac
{% endwith %}{% elif topology == 'cluster' %}{% with %}#!/bin/sh
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
{% endwith %}{% endif -%}
