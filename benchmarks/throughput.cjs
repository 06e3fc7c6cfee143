"use strict";
// The Node half of benchmarks/throughput.py: one single-threaded SET loop for <seconds>,
// through the packaged client (the generated adapter's writer(): the library) or plain
// ioredis (its own Sentinel support, the same sentinels, password and timeouts).
//   node throughput.cjs <package|plain> <adapter> <seconds> <prefix>
// Prints one JSON line: {"writes": N, "seconds": S, "cpu_us_per_write": c, "p50_ms": x, "p99_ms": y}.
const [mode, adapter, seconds, prefix] = process.argv.slice(2);
const client = require(adapter);
const { default: Redis } = require("ioredis");

function plain(settings) {
  const redis = new Redis({
    sentinels: settings.hosts.map((host) => ({ host, port: settings.sentinelPort })),
    name: settings.masterSet,
    password: settings.password,
    sentinelPassword: settings.password,
    connectTimeout: settings.timeoutMs,
    commandTimeout: settings.timeoutMs,
  });
  redis.on("error", () => {});
  return redis;
}

(async () => {
  const settings = client.settingsFromEnv();
  const w = mode === "package" ? client.writer(settings) : plain(settings);
  await w.set(`${prefix}:warm`, 0);
  const latencies = [];
  const end = process.hrtime.bigint() + BigInt(Math.round(Number(seconds) * 1e9));
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  let n = 0;
  for (;;) {
    const t0 = process.hrtime.bigint();
    if (t0 >= end) break;
    await w.set(`${prefix}:${n}`, n);
    latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
    n += 1;
  }
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  const cpuUsPerWrite = (used.user + used.system) / n;
  latencies.sort((a, b) => a - b);
  const at = (q) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  process.stdout.write(`${JSON.stringify({ writes: n, seconds: elapsed, cpu_us_per_write: cpuUsPerWrite, p50_ms: at(0.5), p99_ms: at(0.99) })}\n`);
  w.disconnect();
})().catch((error) => {
  console.error(`${error.name}: ${error.message}`);
  process.exit(1);
});
