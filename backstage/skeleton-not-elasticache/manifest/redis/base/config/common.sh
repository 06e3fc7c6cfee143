{% from '.portal-context.jinja' import topology with context %}{% if topology == 'sentinel' %}{% with %}# Shared by the start, pre-stop and health scripts (sourced, never run).
#
# Contract: every per-host fact comes from the environment, so the same scripts run
# in a pod and on loopback (redis_scaffold/sandbox/topology.py).
#   REDIS_PASSWORD  the password (from the Secret); never written outside $RUN_DIR
#                   and never passed on a command line (the CLI reads it from
#                   REDISCLI_AUTH, or VALKEYCLI_AUTH for valkey-cli)
#   ANNOUNCE_HOST   this pod's stable name, announced to peers and clients
#                   (<pod>.<headless service>.<namespace>.svc.<domain>; an IP on loopback)
#   BIND_ADDRESS    address the servers listen on (0.0.0.0 in a pod)
#   PEER_HOSTS      every pod's stable name, space-separated; the first is the
#                   bootstrap master
#   REDIS_PORT, SENTINEL_PORT
#   CONFIG_DIR      the read-only ConfigMap (this directory)
#   DATA_DIR        the persistent volume (AOF, RDB, last known master)
#   RUN_DIR         writable scratch space for the runtime configs (mode 600)
# Optional:
#   PASSWORD_FILE   the Secret's volume (its current password): the probes and the
#                   pre-stop hook sign in with it when it is there (cli-functions: cli_password)
#   TLS_DIR         set (tls: yes): the certificate Secret's mount (tls.crt, tls.key,
#                   ca.crt); the servers then listen with TLS only and every CLI call
#                   speaks TLS (cli-functions: cli, tls_conf)
#   EXTRA_CONF      a file appended to the runtime config (later lines win); unset in
#                   the manifests, used to tune timing without editing this directory
#   CLI_TIMEOUT     seconds allowed for each CLI call (default 2)
#   SERVER_COMMAND, SENTINEL_COMMAND, CLI_COMMAND
#                   the engine's programs: redis-server, redis-sentinel, redis-cli
#                   (the default) or valkey-server, valkey-sentinel, valkey-cli

: "${REDIS_PASSWORD:?REDIS_PASSWORD is not set}"
: "${ANNOUNCE_HOST:?ANNOUNCE_HOST is not set}"
: "${BIND_ADDRESS:?BIND_ADDRESS is not set}"
: "${PEER_HOSTS:?PEER_HOSTS is not set}"
: "${REDIS_PORT:?REDIS_PORT is not set}"
: "${SENTINEL_PORT:?SENTINEL_PORT is not set}"
: "${CONFIG_DIR:?CONFIG_DIR is not set}"
: "${DATA_DIR:?DATA_DIR is not set}"
: "${RUN_DIR:?RUN_DIR is not set}"
CLI_TIMEOUT="${CLI_TIMEOUT:-2}"

# The master set name is the one in sentinel.conf's `sentinel monitor` line.
MASTER_SET=$(awk '$1 == "sentinel" && $2 == "monitor" { print $3; exit }' "$CONFIG_DIR/sentinel.conf")
LAST_MASTER_FILE="$DATA_DIR/sentinel-last-master"

{% with %}log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

# Where this pod's own servers answer.
local_host() {
  if [ "$BIND_ADDRESS" = "0.0.0.0" ]; then echo 127.0.0.1; else echo "$BIND_ADDRESS"; fi
}

# rcli HOST PORT COMMAND...: one bounded CLI call (cli).
rcli() {
  _h=$1 _p=$2
  shift 2
  cli "$CLI_TIMEOUT" -h "$_h" -p "$_p" --raw "$@"
}

# cli SECONDS ARGS...: the engine's CLI, bounded, signed in with cli_password; with
# TLS_DIR set (tls: the certificate Secret's mount, tls.crt, tls.key and ca.crt as
# cert-manager writes them) it speaks TLS, this pod's certificate as its client's.
cli() {
  _t=$1
  shift
  if [ -n "${TLS_DIR:-}" ]; then
    set -- --tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/tls.crt" --key "$TLS_DIR/tls.key" "$@"
  fi
  _auth=$(cli_password)
  REDISCLI_AUTH="$_auth" VALKEYCLI_AUTH="$_auth" timeout "$_t" "${CLI_COMMAND:-redis-cli}" "$@"
}

# cli_password: the password the probes and hooks sign in with. The Secret's volume
# (PASSWORD_FILE) follows a password rotation in place; the env holds what the container
# started with, which the rotation's last step removes from every server. Reading the
# file keeps a container started before a rotation healthy after it (no probe failure,
# no restart); the env is the fallback where the file is absent or empty.
cli_password() {
  if [ -n "${PASSWORD_FILE:-}" ] && [ -s "$PASSWORD_FILE" ]; then
    cat "$PASSWORD_FILE"
  else
    printf '%s' "$REDIS_PASSWORD"
  fi
}

# tls_conf PORT [cluster]: with TLS_DIR set, the runtime config lines that move PORT to
# TLS (no plaintext port) and make {% if topology == 'sentinel' %}replication and the sentinels' links to the servers and
# to each other speak TLS (tls-replication){% else %}replication (tls-replication) and the cluster bus
# (tls-cluster) speak TLS{% endif %}. Printed after the `port` line: later lines
# win. Records which certificate the server loads (tls_reload).
tls_conf() {
  [ -n "${TLS_DIR:-}" ] || return 0
  tls_files_sum > "$RUN_DIR/tls-loaded-$1"
  echo "port 0"
  echo "tls-port $1"
  echo "tls-cert-file $TLS_DIR/tls.crt"
  echo "tls-key-file $TLS_DIR/tls.key"
  echo "tls-ca-cert-file $TLS_DIR/ca.crt"
  echo "tls-replication yes"
  if [ "${2:-}" = cluster ]; then echo "tls-cluster yes"; fi
}

tls_files_sum() { cat "$TLS_DIR/tls.crt" "$TLS_DIR/tls.key" "$TLS_DIR/ca.crt" | cksum; }

# tls_reload PORT: called by the liveness probes. When the mounted certificate is not
# the one the server on PORT loaded (cert-manager renewed it, the kubelet updated the
# files), have it load the new files: a server does on CONFIG SET of the same file names,
# without a restart. Fails (status 1) when it cannot{% if topology == 'sentinel' %}: a sentinel has no CONFIG command,
# so its liveness probe fails and the kubelet restarts that container alone{% endif %}.
tls_reload() {
  [ -n "${TLS_DIR:-}" ] || return 0
  _mark="$RUN_DIR/tls-loaded-$1"
  _sum=$(tls_files_sum) || return 0
  if [ -f "$_mark" ] && [ "$(cat "$_mark")" = "$_sum" ]; then return 0; fi
  if [ "$(rcli "$(local_host)" "$1" CONFIG SET tls-cert-file "$TLS_DIR/tls.crt" \
    tls-key-file "$TLS_DIR/tls.key" tls-ca-cert-file "$TLS_DIR/ca.crt" 2>&1)" = "OK" ]; then
    printf '%s\n' "$_sum" > "$_mark"
    log "loaded the renewed certificate in $TLS_DIR on port $1"
    return 0
  fi
  echo "the certificate in $TLS_DIR changed and the server on port $1 cannot load it in place"
  return 1
}

# The password as a quoted redis config argument.
quoted_password() {
  printf '"%s"' "$(printf '%s' "$REDIS_PASSWORD" | sed 's/[\\"]/\\&/g')"
}

# The default user's ACL line: the current password and, during a rotation, the
# previous one (REDIS_PASSWORD_PREVIOUS, from the Secret's "<key>_previous"), so a server
# restarted at any point of a rotation accepts both sides (docs/design.md, "Password
# rotation"). Replaces requirepass, which holds a single password.
acl_default_user() {
  printf 'user default on "%s"' "$(printf '>%s' "$REDIS_PASSWORD" | sed 's/[\\"]/\\&/g')"
  if [ -n "${REDIS_PASSWORD_PREVIOUS:-}" ] && [ "$REDIS_PASSWORD_PREVIOUS" != "$REDIS_PASSWORD" ]; then
    printf ' "%s"' "$(printf '>%s' "$REDIS_PASSWORD_PREVIOUS" | sed 's/[\\"]/\\&/g')"
  fi
  printf ' ~* &* +@all\n'
}{# Shell functions of both Kubernetes topologies' common.sh: log, rcli and cli (one bounded CLI call, password from the Secret's volume or the environment, TLS when TLS_DIR is set), tls_conf, quoted_password, acl_default_user. #}
{% endwith %}

# Print the master's host: the most common answer of the sentinels that answer, else
# the last master this pod's sentinel recorded, else the bootstrap host (the first peer).
find_master() {
  _answers=""
  for _peer in $PEER_HOSTS; do
    _out=$(rcli "$_peer" "$SENTINEL_PORT" SENTINEL get-master-addr-by-name "$MASTER_SET" 2>/dev/null) || continue
    _host=$(printf '%s\n' "$_out" | sed -n 1p)
    _port=$(printf '%s\n' "$_out" | sed -n 2p)
    case "$_port" in '' | *[!0-9]*) continue ;; esac
    case "$_host" in '' | *[!A-Za-z0-9.:-]*) continue ;; esac
    _answers="$_answers$_host
"
  done
  if [ -n "$_answers" ]; then
    _host=$(printf '%s' "$_answers" | sort | uniq -c | sort -rn | awk 'NR == 1 { print $2 }')
    log "master $_host (named by the sentinels)"
  elif [ -s "$LAST_MASTER_FILE" ]; then
    read -r _host < "$LAST_MASTER_FILE"
    log "master $_host (no sentinel answered; last master recorded in $LAST_MASTER_FILE)"
  else
    set -- $PEER_HOSTS
    _host=$1
    log "master $_host (no sentinel answered, none recorded: bootstrap host)"
  fi
  echo "$_host"
}

{% with %}# Append $EXTRA_CONF, if any, to the config being written on stdout.
extra_conf() {
  if [ -n "${EXTRA_CONF:-}" ]; then
    echo "# from EXTRA_CONF"
    cat "$EXTRA_CONF"
  fi
}{# common.sh's extra_conf: the sandbox's EXTRA_CONF lines, appended to a runtime config. #}{% endwith %}
{% endwith %}{% elif topology == 'cluster' %}{% with %}# Shared by the start, health and bootstrap scripts of the Redis Cluster (sourced, never run).
#
# Contract: every per-host fact comes from the environment, so the same scripts run
# in a pod and on loopback (redis_scaffold/sandbox/cluster.py).
#   REDIS_PASSWORD    the password (from the Secret); never written outside $RUN_DIR
#                     and never passed on a command line (the CLI reads it from
#                     REDISCLI_AUTH, or VALKEYCLI_AUTH for valkey-cli)
#   PEER_HOSTS        every pod's stable name, space-separated
#   REDIS_PORT        the client port
#   CONFIG_DIR        the read-only ConfigMap (this directory)
# The server's scripts (start-redis.sh, health-redis.sh) also need:
#   ANNOUNCE_HOST     this pod's stable name, announced to peers and clients
#                     (<pod>.<headless service>.<namespace>.svc.<domain>; an IP on loopback)
#   BIND_ADDRESS      address the server listens on (0.0.0.0 in a pod)
#   ANNOUNCE_IP       the address peers reach this node's bus at (the pod IP; read
#                     afresh at every start, so a new pod IP is announced at once)
#   CLUSTER_BUS_PORT  the cluster bus port (cluster-port)
#   DATA_DIR          the persistent volume (AOF, RDB, nodes.conf)
#   RUN_DIR           writable scratch space for the runtime config (mode 600)
# The bootstrap (bootstrap-cluster.sh) also needs:
#   CLUSTER_REPLICAS  replicas per master
# Optional:
#   PASSWORD_FILE     the Secret's volume (its current password): the probes and the
#                     pre-stop hook sign in with it when it is there (cli-functions: cli_password)
#   TLS_DIR           set (tls: yes): the certificate Secret's mount (tls.crt, tls.key,
#                     ca.crt); the server then listens with TLS only, its bus too, and
#                     every CLI call speaks TLS (cli-functions: cli, tls_conf)
#   EXTRA_CONF        a file appended to the runtime config (later lines win); unset in
#                     the manifests, used to tune timing without editing this directory
#   CLI_TIMEOUT       seconds allowed for each CLI call (default 2)
#   SERVER_COMMAND, CLI_COMMAND
#                     the engine's programs: redis-server, redis-cli (the default) or
#                     valkey-server, valkey-cli

: "${REDIS_PASSWORD:?REDIS_PASSWORD is not set}"
: "${PEER_HOSTS:?PEER_HOSTS is not set}"
: "${REDIS_PORT:?REDIS_PORT is not set}"
: "${CONFIG_DIR:?CONFIG_DIR is not set}"
CLI_TIMEOUT="${CLI_TIMEOUT:-2}"

{% with %}log() { printf '%s: %s\n' "${0##*/}" "$*" >&2; }

# Where this pod's own servers answer.
local_host() {
  if [ "$BIND_ADDRESS" = "0.0.0.0" ]; then echo 127.0.0.1; else echo "$BIND_ADDRESS"; fi
}

# rcli HOST PORT COMMAND...: one bounded CLI call (cli).
rcli() {
  _h=$1 _p=$2
  shift 2
  cli "$CLI_TIMEOUT" -h "$_h" -p "$_p" --raw "$@"
}

# cli SECONDS ARGS...: the engine's CLI, bounded, signed in with cli_password; with
# TLS_DIR set (tls: the certificate Secret's mount, tls.crt, tls.key and ca.crt as
# cert-manager writes them) it speaks TLS, this pod's certificate as its client's.
cli() {
  _t=$1
  shift
  if [ -n "${TLS_DIR:-}" ]; then
    set -- --tls --cacert "$TLS_DIR/ca.crt" --cert "$TLS_DIR/tls.crt" --key "$TLS_DIR/tls.key" "$@"
  fi
  _auth=$(cli_password)
  REDISCLI_AUTH="$_auth" VALKEYCLI_AUTH="$_auth" timeout "$_t" "${CLI_COMMAND:-redis-cli}" "$@"
}

# cli_password: the password the probes and hooks sign in with. The Secret's volume
# (PASSWORD_FILE) follows a password rotation in place; the env holds what the container
# started with, which the rotation's last step removes from every server. Reading the
# file keeps a container started before a rotation healthy after it (no probe failure,
# no restart); the env is the fallback where the file is absent or empty.
cli_password() {
  if [ -n "${PASSWORD_FILE:-}" ] && [ -s "$PASSWORD_FILE" ]; then
    cat "$PASSWORD_FILE"
  else
    printf '%s' "$REDIS_PASSWORD"
  fi
}

# tls_conf PORT [cluster]: with TLS_DIR set, the runtime config lines that move PORT to
# TLS (no plaintext port) and make {% if topology == 'sentinel' %}replication and the sentinels' links to the servers and
# to each other speak TLS (tls-replication){% else %}replication (tls-replication) and the cluster bus
# (tls-cluster) speak TLS{% endif %}. Printed after the `port` line: later lines
# win. Records which certificate the server loads (tls_reload).
tls_conf() {
  [ -n "${TLS_DIR:-}" ] || return 0
  tls_files_sum > "$RUN_DIR/tls-loaded-$1"
  echo "port 0"
  echo "tls-port $1"
  echo "tls-cert-file $TLS_DIR/tls.crt"
  echo "tls-key-file $TLS_DIR/tls.key"
  echo "tls-ca-cert-file $TLS_DIR/ca.crt"
  echo "tls-replication yes"
  if [ "${2:-}" = cluster ]; then echo "tls-cluster yes"; fi
}

tls_files_sum() { cat "$TLS_DIR/tls.crt" "$TLS_DIR/tls.key" "$TLS_DIR/ca.crt" | cksum; }

# tls_reload PORT: called by the liveness probes. When the mounted certificate is not
# the one the server on PORT loaded (cert-manager renewed it, the kubelet updated the
# files), have it load the new files: a server does on CONFIG SET of the same file names,
# without a restart. Fails (status 1) when it cannot{% if topology == 'sentinel' %}: a sentinel has no CONFIG command,
# so its liveness probe fails and the kubelet restarts that container alone{% endif %}.
tls_reload() {
  [ -n "${TLS_DIR:-}" ] || return 0
  _mark="$RUN_DIR/tls-loaded-$1"
  _sum=$(tls_files_sum) || return 0
  if [ -f "$_mark" ] && [ "$(cat "$_mark")" = "$_sum" ]; then return 0; fi
  if [ "$(rcli "$(local_host)" "$1" CONFIG SET tls-cert-file "$TLS_DIR/tls.crt" \
    tls-key-file "$TLS_DIR/tls.key" tls-ca-cert-file "$TLS_DIR/ca.crt" 2>&1)" = "OK" ]; then
    printf '%s\n' "$_sum" > "$_mark"
    log "loaded the renewed certificate in $TLS_DIR on port $1"
    return 0
  fi
  echo "the certificate in $TLS_DIR changed and the server on port $1 cannot load it in place"
  return 1
}

# The password as a quoted redis config argument.
quoted_password() {
  printf '"%s"' "$(printf '%s' "$REDIS_PASSWORD" | sed 's/[\\"]/\\&/g')"
}

# The default user's ACL line: the current password and, during a rotation, the
# previous one (REDIS_PASSWORD_PREVIOUS, from the Secret's "<key>_previous"), so a server
# restarted at any point of a rotation accepts both sides (docs/design.md, "Password
# rotation"). Replaces requirepass, which holds a single password.
acl_default_user() {
  printf 'user default on "%s"' "$(printf '>%s' "$REDIS_PASSWORD" | sed 's/[\\"]/\\&/g')"
  if [ -n "${REDIS_PASSWORD_PREVIOUS:-}" ] && [ "$REDIS_PASSWORD_PREVIOUS" != "$REDIS_PASSWORD" ]; then
    printf ' "%s"' "$(printf '>%s' "$REDIS_PASSWORD_PREVIOUS" | sed 's/[\\"]/\\&/g')"
  fi
  printf ' ~* &* +@all\n'
}{# Shell functions of both Kubernetes topologies' common.sh: log, rcli and cli (one bounded CLI call, password from the Secret's volume or the environment, TLS when TLS_DIR is set), tls_conf, quoted_password, acl_default_user. #}
{% endwith %}

# cluster_field HOST NAME: one field of HOST's CLUSTER INFO (empty when it does not answer).
cluster_field() {
  rcli "$1" "$REDIS_PORT" CLUSTER INFO 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"
}

{% with %}# Append $EXTRA_CONF, if any, to the config being written on stdout.
extra_conf() {
  if [ -n "${EXTRA_CONF:-}" ]; then
    echo "# from EXTRA_CONF"
    cat "$EXTRA_CONF"
  fi
}{# common.sh's extra_conf: the sandbox's EXTRA_CONF lines, appended to a runtime config. #}{% endwith %}
{% endwith %}{% endif -%}
