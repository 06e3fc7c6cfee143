"use strict";
// The write load of redis_scaffold/sandbox/load.py, run by node through the GENERATED
// Node adapter (client/node/redis_client.js): its writer(), configured from the env the
// redis-env component gives the app. One JSON line per write on stdout:
//   {"seq": 1, "started": <ms>, "acked": <ms>, "replicas": 2}
//   {"seq": 2, "started": <ms>, "at": <ms>, "error": "ReplyError:NOREPLICAS", "sample": "..."}
// Times are CLOCK_MONOTONIC (process.hrtime), the clock of Python's time.monotonic()
// on Linux: comparable with the harness's own times, whatever the wall clock does.
// Each write is SET <prefix>:<seq> <seq> and WAIT <replicas> <ms> in one pipeline (no
// WAIT when <replicas> is 0). ioredis
// resends only the commands of a pipeline that had no reply when a connection dropped;
// a WAIT resent alone would count another master's replicas, so a write during which
// the writer reconnected counts as unconfirmed (replicas -1). Stops on SIGTERM.
// Never prints the password (errors are reduced to their kind and first words).
const [snippet, prefix, waitReplicas, waitMs, pauseMs, maxSeconds] = process.argv.slice(2);
const { writer, checkIoredis } = require(snippet);

const now = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const out = (record) => process.stdout.write(`${JSON.stringify(record)}\n`);
const kind = (error) => {
  const code = /^[A-Z]+/.exec(error.message || "");
  return `${error.name || "Error"}${code ? `:${code[0]}` : ""}`;
};

let stopping = false;
process.on("SIGTERM", () => {
  stopping = true;
});

(async () => {
  // The first line names the ioredis in use (and fails loudly when a hook is gone).
  out({ ioredis: checkIoredis(), library: require("@example-org/redis-service-client/package.json").version });
  const w = writer();
  let connections = 0;
  w.on("ready", () => {
    connections += 1;
  });
  w.on("error", () => {}); // reconnections are the writer's business; writes report their own errors
  const end = Date.now() + Number(maxSeconds) * 1000;
  for (let seq = 1; !stopping && Date.now() < end; seq += 1) {
    const started = now();
    const before = connections;
    try {
      const key = `${prefix}:${String(seq).padStart(9, "0")}`;
      const pipeline = w.pipeline().set(key, seq);
      if (Number(waitReplicas)) pipeline.call("WAIT", Number(waitReplicas), Number(waitMs));
      const [[setError], [waitError, replicas] = [null, 0]] = await pipeline.exec();
      if (setError || waitError) throw setError || waitError;
      out({ seq, started, acked: now(), replicas: connections === before ? Number(replicas) : -1 });
      await sleep(Number(pauseMs));
    } catch (error) {
      out({ seq, started, at: now(), error: kind(error), sample: String(error.message).slice(0, 60) });
      await sleep(20);
    }
  }
  w.disconnect();
  out({ done: true });
  process.exit(0);
})();
