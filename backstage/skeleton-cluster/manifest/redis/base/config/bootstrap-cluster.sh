#!/bin/sh
# The one-shot bootstrap (the Job <name>-bootstrap): forms the Redis Cluster once every
# pod answers, and does nothing on a formed one. Environment contract: see common.sh.
#
#   1. wait (at most BOOTSTRAP_TIMEOUT s, default 300) until every pod in PEER_HOSTS
#      answers PING;
#   2. if every pod already knows its peers (a formed cluster): nothing to do (exit 0).
#      A re-run, a restarted pod or a rolling update lands here;
#   3. if any pod holds keys while not every pod is in the cluster: refuse (exit 4);
#      a cluster is never created over data;
#   4. if some pods belong to a cluster and others do not (a pod on a new, empty
#      volume, a scale-up): change nothing, say so and exit 3 (README: adding a node);
#   5. otherwise create it: `--cluster create` with CLUSTER_REPLICAS replicas per
#      master (the first pods become masters), then wait until every pod says
#      cluster_state:ok.
set -eu
. "$CONFIG_DIR/common.sh"
: "${CLUSTER_REPLICAS:?CLUSTER_REPLICAS is not set}"
wait_s="${BOOTSTRAP_TIMEOUT:-300}"

answering() {
  _missing=""
  for _peer in $PEER_HOSTS; do
    [ "$(rcli "$_peer" "$REDIS_PORT" PING 2>/dev/null)" = "PONG" ] || _missing="$_missing $_peer"
  done
  [ -z "$_missing" ]
}
i=0
until answering; do
  i=$((i + 1))
  if [ "$i" -ge "$wait_s" ]; then
    log "not every pod answers after ${wait_s}s (missing:$_missing); nothing changed"
    exit 1
  fi
  sleep 1
done

formed="" alone="" holding="" count=0
for peer in $PEER_HOSTS; do
  count=$((count + 1))
  known=$(cluster_field "$peer" cluster_known_nodes)
  assigned=$(cluster_field "$peer" cluster_slots_assigned)
  keys=$(rcli "$peer" "$REDIS_PORT" DBSIZE 2>/dev/null) || keys=""
  case "$known$assigned" in '' | *[!0-9]*)
    log "$peer does not answer CLUSTER INFO; nothing changed"; exit 1 ;;
  esac
  if [ "$known" -gt 1 ]; then
    formed="$formed $peer"
  else
    alone="$alone $peer"
  fi
  case "$keys" in '' | 0) ;; *) holding="$holding $peer" ;; esac
done

if [ -n "$formed" ] && [ -z "$alone" ]; then
  set -- $PEER_HOSTS
  log "already formed: $(cluster_field "$1" cluster_known_nodes) nodes known," \
    "$(cluster_field "$1" cluster_slots_assigned) slots assigned, state $(cluster_field "$1" cluster_state); nothing to do"
  exit 0
fi
if [ -n "$holding" ]; then
  log "refusing to touch the cluster: pods outside a formed cluster, and these pods hold" \
    "keys:$holding. Nothing changed: a cluster is never created over data"
  exit 4
fi
if [ -n "$formed" ]; then
  log "partly formed: in a cluster:$formed; alone:$alone. Nothing changed: add the" \
    "alone pods by hand (redis-cli --cluster add-node, see the README)"
  exit 3
fi

# CLUSTER MEET takes addresses: resolve the stable names (IPs are used as they are).
addresses=""
for peer in $PEER_HOSTS; do
  case "$peer" in
    *[!0-9.]*) ip=$(timeout "$CLI_TIMEOUT" getent hosts "$peer" | awk '{ print $1; exit }') || ip="" ;;
    *) ip=$peer ;;
  esac
  [ -n "$ip" ] || { log "cannot resolve $peer; nothing changed"; exit 1; }
  addresses="$addresses $ip:$REDIS_PORT"
done
log "creating the cluster: $count pods, $CLUSTER_REPLICAS replica(s) per master"
# shellcheck disable=SC2086 # one word per address
cli 120 --cluster create $addresses \
  --cluster-replicas "$CLUSTER_REPLICAS" --cluster-yes

i=0
for peer in $PEER_HOSTS; do
  until [ "$(cluster_field "$peer" cluster_state)" = "ok" ]; do
    i=$((i + 1))
    if [ "$i" -ge "$wait_s" ]; then
      log "created, but $peer does not report cluster_state:ok after ${wait_s}s"
      exit 1
    fi
    sleep 1
  done
done
log "cluster formed: every pod reports cluster_state:ok"
