#!/bin/sh
# Start this pod's Sentinel, monitoring the master the other sentinels name (else the
# last master recorded in $DATA_DIR, else the bootstrap host). Environment contract:
# see common.sh.
#
# The runtime config ($RUN_DIR/sentinel.conf, mode 600; Sentinel rewrites it) is
# $CONFIG_DIR/sentinel.conf with the master's address put into `sentinel monitor`, plus
# the per-pod lines and the password. The sentinel id of a previous run in this pod is
# kept, so peers do not count a restarted sentinel twice. On every switch of master,
# record-master.sh writes the new master to $DATA_DIR, so a full restart resumes from it.
set -eu
. "$CONFIG_DIR/common.sh"

master=$(find_master)
umask 077
printf '%s\n' "$master" > "$LAST_MASTER_FILE.tmp"
mv "$LAST_MASTER_FILE.tmp" "$LAST_MASTER_FILE"

conf="$RUN_DIR/sentinel.conf"
myid=""
if [ -f "$conf" ]; then
  myid=$(awk '$1 == "sentinel" && $2 == "myid" { print $3; exit }' "$conf")
fi
{
  awk -v host="$master" -v port="$REDIS_PORT" \
    '$1 == "sentinel" && $2 == "monitor" { $4 = host; $5 = port } { print }' \
    "$CONFIG_DIR/sentinel.conf"
  echo "port $SENTINEL_PORT"
  tls_conf "$SENTINEL_PORT"
  echo "bind $BIND_ADDRESS"
  echo "dir $RUN_DIR"
  echo "sentinel announce-ip $ANNOUNCE_HOST"
  if [ -n "$myid" ]; then
    echo "sentinel myid $myid"
  fi
  echo "sentinel client-reconfig-script $MASTER_SET $CONFIG_DIR/record-master.sh"
  acl_default_user
  printf 'sentinel sentinel-pass %s\n' "$(quoted_password)"
  printf 'sentinel auth-pass %s %s\n' "$MASTER_SET" "$(quoted_password)"
  extra_conf
} > "$conf.tmp"
mv "$conf.tmp" "$conf"

log "monitoring $MASTER_SET at $master"
exec "${SENTINEL_COMMAND:-redis-sentinel}" "$conf"
