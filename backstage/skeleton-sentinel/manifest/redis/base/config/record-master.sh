#!/bin/sh
# Sentinel's client-reconfig-script: called on every switch of master with
#   <master-name> <role> <state> <from-host> <from-port> <to-host> <to-port>
# Records the new master in $DATA_DIR (inherited from the sentinel's environment) so
# that a full restart of every pod resumes from the last master, not from pod 0.
# Exit 0 always: a failure here must not make Sentinel retry the script.
[ -n "${DATA_DIR:-}" ] && [ -n "${6:-}" ] || exit 0
umask 077
printf '%s\n' "$6" > "$DATA_DIR/sentinel-last-master.tmp" \
  && mv "$DATA_DIR/sentinel-last-master.tmp" "$DATA_DIR/sentinel-last-master"
exit 0
