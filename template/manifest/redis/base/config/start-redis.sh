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
umask 077
conf="$RUN_DIR/redis.conf"
{
  echo "include $CONFIG_DIR/redis.conf"
  echo "port $REDIS_PORT"
  echo "bind $BIND_ADDRESS"
  echo "dir $DATA_DIR"
  echo "replica-announce-ip $ANNOUNCE_HOST"
  if [ "$master" != "$ANNOUNCE_HOST" ]; then
    echo "replicaof $master $REDIS_PORT"
  fi
  printf 'requirepass %s\n' "$(quoted_password)"
  printf 'masterauth %s\n' "$(quoted_password)"
  extra_conf
} > "$conf.tmp"
mv "$conf.tmp" "$conf"

if [ "$master" = "$ANNOUNCE_HOST" ]; then
  log "starting as master ($ANNOUNCE_HOST)"
else
  log "starting as replica of $master"
fi
exec redis-server "$conf"
