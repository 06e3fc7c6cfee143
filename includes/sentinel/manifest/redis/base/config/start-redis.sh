#!/bin/sh
# Start this pod's Redis: as master if the sentinels (or, when none answers, the last
# recorded master, or the bootstrap order) name this pod, otherwise as a replica of
# the named master. Environment contract: see common.sh.
#
# The runtime config ($RUN_DIR/redis.conf, mode 600) includes $CONFIG_DIR/redis.conf and
# adds the per-pod lines and the password. Persistence is on and the master is taken
# from the sentinels first, so a restarted pod never comes back as an empty master
# while another master exists.
set -eu
. "$CONFIG_DIR/common.sh"

master=$(find_master)

# A pod named master whose volume holds no data (a lost or replaced PVC) must not start
# as an empty master while other pods hold data: its replicas would resync to the empty
# dataset. It refuses instead; the sentinels then fail over to a replica that has the
# data, and the next start (the kubelet restarts the container) joins it as a replica.
# A new cluster, where no pod holds data yet, starts as usual.
has_data() {
  for _f in "$DATA_DIR/appendonlydir" "$DATA_DIR/appendonly.aof" "$DATA_DIR/dump.rdb"; do
    [ -e "$_f" ] && return 0
  done
  return 1
}
peer_has_keys() {
  for _peer in $PEER_HOSTS; do
    [ "$_peer" = "$ANNOUNCE_HOST" ] && continue
    _keys=$(rcli "$_peer" "$REDIS_PORT" DBSIZE 2>/dev/null) || continue
    case "$_keys" in '' | *[!0-9]*) continue ;; esac
    [ "$_keys" -gt 0 ] && return 0
  done
  return 1
}
if [ "$master" = "$ANNOUNCE_HOST" ] && ! has_data && peer_has_keys; then
  log "refusing to start: named master, but $DATA_DIR holds no data while other pods do;" \
    "an empty master would wipe its replicas. Waiting for the sentinels to fail over."
  exit 1
fi

umask 077
conf="$RUN_DIR/redis.conf"
{
  echo "include $CONFIG_DIR/redis.conf"
  echo "port $REDIS_PORT"
  tls_conf "$REDIS_PORT"
  echo "bind $BIND_ADDRESS"
  echo "dir $DATA_DIR"
  echo "replica-announce-ip $ANNOUNCE_HOST"
  if [ "$master" != "$ANNOUNCE_HOST" ]; then
    echo "replicaof $master $REDIS_PORT"
  fi
  acl_default_user
  printf 'masterauth %s\n' "$(quoted_password)"
  extra_conf
} > "$conf.tmp"
mv "$conf.tmp" "$conf"

if [ "$master" = "$ANNOUNCE_HOST" ]; then
  log "starting as master ($ANNOUNCE_HOST)"
else
  log "starting as replica of $master"
fi
exec "${SERVER_COMMAND:-redis-server}" "$conf"
