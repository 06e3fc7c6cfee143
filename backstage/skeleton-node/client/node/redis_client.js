{% from '.portal-context.jinja' import down_after_ms, engine_name, master_set, redis_replicas, service_name with context %}"use strict";
/**
 * {{ engine_name }} clients for {{ service_name }}: this service's settings for
 * @example-org/redis-service-client.
 *
 * The logic (majority vote, failover announcements, confirmed writes) is the
 * redis-service-client library, released with the template; README.md says how the app
 * installs it, follows its fixes, or vendors it. This file holds only what is this
 * service's own: the environment the redis-env component sets, the master set, the timing.
 *
 *     const { reader, writer, writeConfirmed } = require("./redis_client");
 *     const w = writer();                       // once per process; w.disconnect() at exit
 *     await w.set("cart:42", "3 items");        // idempotent: safe to retry
 *     await writeConfirmed(writer({ retries: 0 }), ["INCR", "cart:42:version"]);
 *     await reader().get("cart:42");
 */
const lib = require("@example-org/redis-service-client");

// REDIS_HOST, REDIS_READ_PORT, REDIS_SENTINEL_PORT, REDIS_MASTER_SET ({{ master_set }}), REDIS_PASSWORD
const ENV_VARS = lib.ENV_VARS;
const DOWN_AFTER_MS = {{ down_after_ms }}; // the sentinels' down-after-milliseconds: retries last twice that
const REPLICAS = {{ redis_replicas - 1 }}; // every replica of the {{ redis_replicas }} pods: a confirmed write survives a failover
const TIMEOUT_MS = 1000;

function settingsFromEnv(env = process.env) {
  return lib.settingsFromEnv(env, { envVars: ENV_VARS, downAfterMs: DOWN_AFTER_MS, replicas: REPLICAS, timeoutMs: TIMEOUT_MS });
}

/** A client on the read Service (any pod). Use it for reads only. */
const reader = (settings = settingsFromEnv()) => lib.reader(settings);
/** A client on the master the majority of sentinels names; disconnect() it at exit. */
const writer = (settings = settingsFromEnv(), options = {}) => lib.writer(settings, options);

module.exports = { ...lib, ENV_VARS, REPLICAS, settingsFromEnv, reader, writer };

if (require.main === module) {
  // node redis_client.js: write a key through the master, read it back through the Service.
  lib.example(settingsFromEnv(), "{{ service_name }}").then(console.log, (error) => {
    console.error(`${error.name}: ${error.message}`);
    process.exit(1);
  });
}
