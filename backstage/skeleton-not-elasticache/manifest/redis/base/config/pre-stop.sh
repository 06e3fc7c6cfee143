{% from '.portal-context.jinja' import topology with context %}{% if topology == 'sentinel' %}{% with %}#!/bin/sh
# preStop of the redis container: when this pod is the master, ask Sentinel to hand
# mastership to a replica (SENTINEL FAILOVER) and wait, at most PRESTOP_TIMEOUT seconds
# (default 30, below the pod's terminationGracePeriodSeconds), until the sentinels
# name another master, then demote this server to a replica of it. A replica stops
# at once. Environment contract: see common.sh.
set -u
. "$CONFIG_DIR/common.sh"
timeout_s="${PRESTOP_TIMEOUT:-30}"
here=$(local_host)

role=$(rcli "$here" "$REDIS_PORT" INFO replication 2>/dev/null | tr -d '\r' | sed -n 's/^role://p')
if [ "$role" != "master" ]; then
  log "role '${role:-unknown}': nothing to hand over"
  exit 0
fi

asked=""
for s in "$here" $PEER_HOSTS; do
  if [ "$(rcli "$s" "$SENTINEL_PORT" SENTINEL FAILOVER "$MASTER_SET" 2>/dev/null)" = "OK" ]; then
    asked=$s
    break
  fi
done
if [ -z "$asked" ]; then
  log "no sentinel accepted SENTINEL FAILOVER; stopping as master"
  exit 0
fi
log "failover requested from the sentinel at $asked"

i=0
while [ "$i" -lt "$timeout_s" ]; do
  sleep 1
  i=$((i + 1))
  now=$(rcli "$asked" "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$MASTER_SET" 2>/dev/null | sed -n 1p)
  if [ -n "$now" ] && [ "$now" != "$ANNOUNCE_HOST" ]; then
    log "mastership handed to $now"
    # Demote this server now rather than when Sentinel notices (seconds later): its
    # clients get READONLY at once, which makes them ask Sentinel for the new master.
    rcli "$here" "$REDIS_PORT" REPLICAOF "$now" "$REDIS_PORT" > /dev/null 2>&1
    exit 0
  fi
done
log "no new master after ${timeout_s}s; stopping anyway"
exit 0
{% endwith %}{% elif topology == 'cluster' %}{% with %}#!/bin/sh
# preStop of the redis container: when this node is a master, ask one of its replicas
# to take over (CLUSTER FAILOVER, the coordinated kind: the replica catches up with the
# master before the switch, so no acknowledged write is lost) and wait, at most
# PRESTOP_TIMEOUT seconds (default 30, below the pod's terminationGracePeriodSeconds),
# until this node is a replica. Its clients then get MOVED to the new master at once,
# instead of waiting cluster-node-timeout for a failover. A replica stops at once.
# Environment contract: see common.sh.
set -u
. "$CONFIG_DIR/common.sh"
: "${BIND_ADDRESS:?BIND_ADDRESS is not set}"
timeout_s="${PRESTOP_TIMEOUT:-30}"
here=$(local_host)

role=$(rcli "$here" "$REDIS_PORT" ROLE 2>/dev/null | sed -n 1p)
if [ "$role" != "master" ]; then
  log "role '${role:-unknown}': nothing to hand over"
  exit 0
fi
myid=$(rcli "$here" "$REDIS_PORT" CLUSTER MYID 2>/dev/null)
# A connected, healthy replica of this master: "id ip:port@bus[,hostname] flags ... link".
replica=$(rcli "$here" "$REDIS_PORT" CLUSTER REPLICAS "$myid" 2>/dev/null \
  | awk '$3 !~ /fail/ && $8 == "connected" { split($2, a, "@"); print a[1]; exit }')
if [ -z "$replica" ]; then
  log "no connected replica to hand the slots to; stopping as master"
  exit 0
fi
if [ "$(rcli "${replica%:*}" "${replica##*:}" CLUSTER FAILOVER 2>/dev/null)" != "OK" ]; then
  log "the replica at $replica refused CLUSTER FAILOVER; stopping as master"
  exit 0
fi
log "failover requested from the replica at $replica"

i=0
while [ "$i" -lt "$timeout_s" ]; do
  sleep 1
  i=$((i + 1))
  if [ "$(rcli "$here" "$REDIS_PORT" ROLE 2>/dev/null | sed -n 1p)" = "slave" ]; then
    log "slots handed to $replica"
    exit 0
  fi
done
log "still master after ${timeout_s}s; stopping anyway"
exit 0
{% endwith %}{% endif -%}
