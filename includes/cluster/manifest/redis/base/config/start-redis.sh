#!/bin/sh
# Start this pod's Redis Cluster node. Environment contract: see common.sh.
#
# The runtime config ($RUN_DIR/redis.conf, mode 600) includes $CONFIG_DIR/redis.conf and
# adds the per-pod lines and the password. The node's identity (node ID, slots, peers)
# is nodes.conf on the data volume: a restarted pod rejoins as itself, as a replica if
# its replica was promoted meanwhile. A brand-new node starts empty and alone; the
# bootstrap (bootstrap-cluster.sh) forms the cluster once every pod answers.
set -eu
. "$CONFIG_DIR/common.sh"
: "${ANNOUNCE_HOST:?ANNOUNCE_HOST is not set}"
: "${BIND_ADDRESS:?BIND_ADDRESS is not set}"
: "${CLUSTER_BUS_PORT:?CLUSTER_BUS_PORT is not set}"
: "${DATA_DIR:?DATA_DIR is not set}"
: "${RUN_DIR:?RUN_DIR is not set}"

# Pod IPs change on restart; nodes.conf remembers the peers' last IPs next to their
# names (ip:port@bus,hostname). Put each peer's current IP back before starting, so a
# full restart (every pod on a new IP) still finds its peers.
nodes="$DATA_DIR/nodes.conf"
if [ -s "$nodes" ] && command -v getent > /dev/null 2>&1; then
  umask 077
  while read -r id addr rest; do
    case "$addr" in
      *@*,?*)
        name=${addr##*,}
        ip=$(timeout "$CLI_TIMEOUT" getent hosts "$name" | awk '{ print $1; exit }') || ip=""
        [ -n "$ip" ] && addr="$ip:${addr##*:}"
        ;;
    esac
    printf '%s %s %s\n' "$id" "$addr" "$rest"
  done < "$nodes" > "$nodes.tmp"
  mv "$nodes.tmp" "$nodes"
  log "peer addresses in nodes.conf refreshed from their names"
fi

umask 077
conf="$RUN_DIR/redis.conf"
{
  echo "include $CONFIG_DIR/redis.conf"
  echo "port $REDIS_PORT"
  tls_conf "$REDIS_PORT" cluster
  echo "cluster-port $CLUSTER_BUS_PORT"
  echo "bind $BIND_ADDRESS"
  echo "dir $DATA_DIR"
  echo "cluster-announce-hostname $ANNOUNCE_HOST"
  if [ -n "${ANNOUNCE_IP:-}" ]; then
    echo "cluster-announce-ip $ANNOUNCE_IP"
  fi
  acl_default_user
  printf 'masterauth %s\n' "$(quoted_password)"
  extra_conf
} > "$conf.tmp"
mv "$conf.tmp" "$conf"

if [ -s "$nodes" ]; then
  log "starting cluster node $ANNOUNCE_HOST (identity from nodes.conf)"
else
  log "starting new cluster node $ANNOUNCE_HOST (no nodes.conf yet: waits for the bootstrap)"
fi
exec "${SERVER_COMMAND:-redis-server}" "$conf"
