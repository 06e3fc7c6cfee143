"use strict";
/**
 * Sentinel clients for a service's Redis (ioredis): reads through the Service, writes to
 * the master. The logic behind the template's generated client/node/redis_client.js
 * adapter, which gives it the service's own settings; versioned and released with the
 * template (README.md).
 *
 * Reads go to hosts:readPort, the Service that spreads connections over every pod, the
 * master included (a read may lag a write by a little). Writes go to the master that
 * the majority of sentinels names (hosts:sentinelPort, master set masterSet), found
 * again the moment a sentinel announces a failover (ioredis' failoverDetector:
 * `+switch-master` on every sentinel, and `+odown`). The password is needed by the
 * sentinels too. Outside Kubernetes, hosts may list several: the writer asks each, the
 * reader moves to the next one that answers. With REDIS_PASSWORD_FILE (the Secret
 * mounted as a file, which the kubelet refreshes) the password is read from that file,
 * and again when it changes: the clients then reconnect with the new password, so a
 * rotation needs no restart (PasswordFile).
 *
 *     const lib = require("@example-org/redis-service-client");
 *     const settings = lib.settingsFromEnv(process.env, { downAfterMs: 5000, replicas: 2 });
 *     const w = lib.writer(settings);          // once per process; w.disconnect() at exit
 *     await w.set("cart:42", "3 items");       // idempotent: safe to retry
 *     await lib.writeConfirmed(lib.writer(settings, { retries: 0 }), ["INCR", "cart:42:version"]);
 *     await lib.reader(settings).get("cart:42");
 *
 * ioredis: the range package.json declares is the range the template's version matrix
 * runs every fault story on (its oldest and newest release). The private ioredis
 * methods this relies on are all in MajorityConnector (see there).
 */
const fs = require("fs");
const tls = require("tls");
const { default: Redis, SentinelConnector } = require("ioredis");

const ENV_VARS = ["REDIS_HOST", "REDIS_READ_PORT", "REDIS_SENTINEL_PORT", "REDIS_MASTER_SET", "REDIS_PASSWORD"];
// Optional: TLS (the redis-env component sets the first two when the service has tls).
// Every connection, to the sentinels included, then speaks TLS, verifying the server's
// certificate against the CA and its name (Node's check); the last two give a client
// certificate where the servers ask for one (mutual TLS).
const TLS_ENV_VARS = ["REDIS_TLS", "REDIS_TLS_CA_FILE", "REDIS_TLS_CERT_FILE", "REDIS_TLS_KEY_FILE"];
// Optional: the password as a file the kubelet refreshes (the redis-env component mounts it).
const PASSWORD_FILE_ENV = "REDIS_PASSWORD_FILE";
const POLL_MS = 1000;
// A client busy when the password changes reconnects as soon as it has no command in
// flight (checked every IDLE_CHECK_MS), or after SETTLE_MS at the latest (its commands
// are then resent after the reconnection, as after any lost connection).
const IDLE_CHECK_MS = 10;
const SETTLE_MS = 5000;

// Sentinel waits down-after-milliseconds (settings.downAfterMs, the service's own)
// before it starts a failover, which then takes a second or two. A write keeps waiting
// through reconnections for about twice that; reconnections wait 10 ms three times, then
// 20 ms, 40 ms, ... up to 250 ms, and a sentinel's announcement of the new master
// reconnects at once (the new master refuses writes, NOREPLICAS, until a replica has
// attached). A writer that finds no master for about as long gives up: every command
// waiting for it rejects with MasterNotFoundError and the client ends.
const BACKOFF_BASE_MS = 10;
const BACKOFF_CAP_MS = 250;
const TIMEOUT_MS = 1000;
const CONFIRM_TIMEOUT_MS = 500;
// "disconnected" is not one: a sentinel names the new master before its own link to it is up.
const DOWN_FLAGS = ["s_down", "o_down", "failover_in_progress"];

const failoverMs = (settings) => 2 * settings.downAfterMs;
const defaultRetries = (settings) => Math.ceil(failoverMs(settings) / BACKOFF_CAP_MS) + 5;

/**
 * The settings from `env` (process.env by default). `service` gives the service's own
 * values: downAfterMs (its sentinels' down-after-milliseconds), replicas (how many a
 * confirmed write waits for: all of them), timeoutMs, envVars (the names of the host,
 * read port, sentinel port, master set and password variables, in that order).
 */
function settingsFromEnv(env = process.env, service = {}) {
  const { envVars = ENV_VARS, downAfterMs = 30000, replicas = 1, timeoutMs = TIMEOUT_MS } = service;
  const missing = envVars.filter((name) => !env[name]);
  if (missing.length) {
    throw new Error(`missing environment variables: ${missing.join(", ")}`);
  }
  const [host, readPort, sentinelPort, masterSet, password] = envVars.map((name) => env[name]);
  const [tlsFlag = "", caFile, certFile, keyFile] = TLS_ENV_VARS.map((name) => env[name]);
  if (!["", "true", "false"].includes(tlsFlag.toLowerCase())) {
    throw new Error(`REDIS_TLS must be true or false (got '${tlsFlag}')`);
  }
  const settings = {
    hosts: host.split(",").map((h) => h.trim()).filter(Boolean),
    readPort: Number(readPort),
    sentinelPort: Number(sentinelPort),
    masterSet,
    downAfterMs: Number(downAfterMs),
    replicas: Number(replicas),
    timeoutMs: Number(timeoutMs),
    tls: tlsFlag.toLowerCase() === "true",
    tlsCaFile: caFile || null,
    tlsCertFile: certFile || null,
    tlsKeyFile: keyFile || null,
    passwordFile: env[PASSWORD_FILE_ENV] || null,
  };
  // Not enumerable: never printed with the settings, never serialised. With a password
  // file, what the file says now (the env's value is only what it said at the start).
  const file = settings.passwordFile;
  Object.defineProperty(settings, "password", file ? { get: () => passwordFile(file).password, enumerable: false } : { value: password, enumerable: false });
  return settings;
}

/**
 * The password from a file the kubelet refreshes (REDIS_PASSWORD_FILE). The Secret is
 * mounted as a volume (no subPath): on a rotation the kubelet writes the new files into
 * a fresh directory and swaps the `..data` symlink to it, atomically. A timer (unref'd:
 * it never keeps the process alive) stats the file every pollMs (the inode and mtime
 * change with the swap) and re-reads it when they change; when the password changed it
 * calls its listeners with it (the clients reconnect: followPasswordFile). The password
 * is never in its errors.
 */
class PasswordFile {
  constructor(path, pollMs = POLL_MS) {
    this.path = path;
    this.changes = 0;
    this.stamp = this.stat();
    Object.defineProperty(this, "password", { value: this.read(), writable: true, enumerable: false });
    this.listeners = new Set();
    this.timer = setInterval(() => this.check(), pollMs);
    this.timer.unref();
  }

  stat() {
    try {
      const st = fs.statSync(this.path);
      return `${st.ino}:${st.mtimeMs}:${st.size}`;
    } catch {
      return null;
    }
  }

  read() {
    let password;
    try {
      password = fs.readFileSync(this.path, "utf8").replace(/[\r\n]+$/, "");
    } catch (error) {
      throw new Error(`${PASSWORD_FILE_ENV}: cannot read ${this.path} (${error.code})`);
    }
    if (!password) throw new Error(`${PASSWORD_FILE_ENV}: ${this.path} is empty`);
    return password;
  }

  /** One poll; true when the password changed now. */
  check() {
    const stamp = this.stat();
    if (stamp === null || stamp === this.stamp) return false;
    let password;
    try {
      password = this.read();
    } catch {
      return false; // half-written or gone for a moment: keep the one we have
    }
    this.stamp = stamp;
    if (password === this.password) return false;
    this.password = password;
    this.changes += 1;
    for (const listener of [...this.listeners]) listener(password);
    return true;
  }

  close() {
    clearInterval(this.timer);
  }
}

const passwordFiles = new Map();

/** The process's one PasswordFile for `path` (one timer per file). */
function passwordFile(path) {
  if (!passwordFiles.has(path)) passwordFiles.set(path, new PasswordFile(path));
  return passwordFiles.get(path);
}

/**
 * With a password file: when the password changes, put it in the client's options
 * (`fields`: password, and sentinelPassword for a writer) and reconnect the client as
 * soon as no command is in flight. ioredis signs in with options.password on every
 * (re)connection, and a writer's reconnection also renews its subscriptions to the
 * sentinels (failoverDetector) with the new sentinelPassword; commands issued meanwhile
 * wait in the offline queue. Its connections made with the old password are then gone
 * within a moment, and the rotation's last step (retire) can proceed.
 */
function followPasswordFile(client, settings, fields) {
  if (!settings.passwordFile) return;
  const file = passwordFile(settings.passwordFile);
  const listener = (password) => {
    for (const name of fields) client.options[name] = password;
    reconnectWhenIdle(client, Date.now() + SETTLE_MS);
  };
  file.listeners.add(listener);
  client.once("end", () => file.listeners.delete(listener));
}

function reconnectWhenIdle(client, deadline) {
  if (client.status === "end" || client.status === "close") return;
  if (client.status !== "ready" || (client.commandQueue.length > 0 && Date.now() < deadline)) {
    // Connecting (it signs in with the new password) or busy: look again in a moment.
    if (client.status === "ready" || Date.now() < deadline) {
      setTimeout(() => reconnectWhenIdle(client, deadline), IDLE_CHECK_MS).unref();
    }
    return;
  }
  client.disconnect(true);
}

/** No master found within the writer's giveUpMs: no sentinel answered, or none named one. */
class MasterNotFoundError extends Error {
  constructor(message) {
    super(message);
    this.name = "MasterNotFoundError";
  }
}

/**
 * ioredis prints "[ioredis] Unhandled error event" with a stack trace for every failed
 * connection attempt of a client without an "error" listener. The errors that matter
 * reach the caller as rejected commands; this listener keeps the last one for
 * inspection (client.lastError) and prints nothing. Add your own to log them.
 */
function quiet(client) {
  client.on("error", (error) => {
    client.lastError = error;
  });
  return client;
}

function backoff(attempt) {
  return Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.max(0, attempt - 3));
}

/**
 * Node's TLS options for ioredis (undefined without TLS): one secure context (the CA, and
 * a client certificate when given) for every connection of the client, instead of one
 * built per connection (half the cost of a new TLS connection here; a writer opens many
 * through a failover). Node checks the server's name against its certificate.
 */
function tlsOptions(settings) {
  if (!settings.tls) return undefined;
  const read = (file) => (file ? fs.readFileSync(file) : undefined);
  const context = { ca: read(settings.tlsCaFile), cert: read(settings.tlsCertFile), key: read(settings.tlsKeyFile) };
  return { secureContext: tls.createSecureContext(context) };
}

/** A client on the read Service (any pod). Use it for reads only. */
function reader(settings = settingsFromEnv()) {
  let next = 0;
  const client = new Redis({
    tls: tlsOptions(settings),
    host: settings.hosts[0],
    port: settings.readPort,
    password: settings.password,
    connectTimeout: settings.timeoutMs,
    commandTimeout: settings.timeoutMs,
    maxRetriesPerRequest: 3,
    retryStrategy(attempt) {
      // Several hosts (outside Kubernetes): reconnect to the next one.
      next = (next + 1) % settings.hosts.length;
      client.options.host = settings.hosts[next];
      return backoff(attempt);
    },
  });
  followPasswordFile(client, settings, ["password"]);
  return quiet(client);
}

function hasDownFlag(answer) {
  const flags = String(answer.flags || "").split(",");
  return DOWN_FLAGS.some((flag) => flags.includes(flag));
}

/**
 * The master to write to, from the SENTINEL MASTER answers of several sentinels, or
 * null. A failover needs the votes of a majority of sentinels and raises the config
 * epoch, so the newest epoch among the sentinels that consider their master up names
 * the master the majority chose; a sentinel cut off with the old master still names it
 * under an older epoch. A master that a majority of `voters` reports down (or names
 * another master, as new) is refused: writes to it would be lost after the heal.
 */
function chooseMaster(answers, voters) {
  const epoch = (a) => Number(a["config-epoch"] || 0);
  const usable = answers.filter((a) => !hasDownFlag(a));
  if (!usable.length) return null;
  const newest = Math.max(...usable.map(epoch));
  const named = new Map();
  for (const a of usable.filter((x) => epoch(x) === newest)) {
    const key = `${a.ip}:${a.port}`;
    named.set(key, (named.get(key) || 0) + 1);
  }
  const [address] = [...named.entries()].sort((x, y) => y[1] - x[1])[0];
  const against = answers.filter((a) => epoch(a) >= newest && (`${a.ip}:${a.port}` !== address || hasDownFlag(a)));
  if (against.length >= Math.floor(voters / 2) + 1) return null;
  const [host, port] = [address.slice(0, address.lastIndexOf(":")), address.slice(address.lastIndexOf(":") + 1)];
  return { host, port: Number(port) };
}

function pairs(reply) {
  const out = {};
  for (let i = 0; Array.isArray(reply) && i + 1 < reply.length; i += 2) out[reply[i]] = reply[i + 1];
  return out;
}

// THE PRIVATE IOREDIS HOOKS, all in MajorityConnector below: it extends ioredis'
// SentinelConnector (exported, but its methods are internal) and overrides or calls
// connect, initFailoverDetector, failoverDetector(.sentinels, .disconnect,
// .isDisconnected), resolveMaster, updateSentinels, sentinelIterator.sentinels,
// connectToSentinel, sentinelNatResolve, options, stream. Checked on ioredis 5.11.1 and
// 6.0.0, the ends of the range package.json declares; checkIoredis() asserts the
// methods, and the template's version matrix runs every fault story on both ends.
const HOOKED = ["connect", "initFailoverDetector", "resolveMaster", "updateSentinels", "connectToSentinel", "sentinelNatResolve"];

/** Throw when the installed ioredis lacks a method MajorityConnector relies on; returns its version. */
function checkIoredis() {
  const missing = HOOKED.filter((name) => typeof SentinelConnector.prototype[name] !== "function");
  const { version } = require("ioredis/package.json");
  if (missing.length) {
    throw new Error(`ioredis ${version} lacks SentinelConnector.${missing.join(", ")}: redis-service-client needs a fix`);
  }
  return version;
}

/**
 * ioredis' SentinelConnector, asking every sentinel it knows (those configured and
 * those they name, SENTINEL SENTINELS) instead of the first that answers, and acting on
 * a failover announcement in every state of the connection. ioredis' own reaction to
 * `+switch-master` ends the socket, which leaves a hung master's socket open until
 * socketTimeout, does nothing while the client waits to reconnect, and ends the client
 * for good ("Connection is closed.") when it arrives while the client is resolving the
 * master: here a live socket is destroyed (the client reconnects at once), a waiting
 * reconnection starts now, and a resolution waiting for a master asks again now.
 */
class MajorityConnector extends SentinelConnector {
  /**
   * Every connection (the first, and each after a failover or a lost master) looks for a
   * master for at most options.giveUpMs; then the round of sentinels that ioredis
   * retries from scratch is not retried again, and the connection fails with
   * MasterNotFoundError, which ioredis hands to every command waiting for it.
   */
  async connect(eventEmitter) {
    const started = Date.now();
    const giveUpMs = this.options.giveUpMs;
    const retry = this.options.sentinelRetryStrategy;
    let lastError = null;
    this.options.sentinelRetryStrategy = (attempt) => (Date.now() - started >= giveUpMs ? null : retry(attempt));
    try {
      return await super.connect((type, error) => {
        if (type === "error") lastError = error;
        eventEmitter(type, error);
      });
    } catch (error) {
      const last = /Last error: (.*)$/.exec((lastError || error).message);
      throw new MasterNotFoundError(
        `no master found for '${this.options.name}' within ${giveUpMs} ms: no sentinel of ` +
          `${this.options.sentinels.map((s) => `${s.host}:${s.port}`).join(", ")} named one` +
          (last ? ` (last error: ${last[1]})` : ""),
      );
    } finally {
      this.options.sentinelRetryStrategy = retry;
    }
  }

  async initFailoverDetector() {
    await super.initFailoverDetector();
    if (this.failoverDetector) {
      const detector = this.failoverDetector;
      detector.disconnect = () => {
        detector.isDisconnected = true; // one reaction per connection; each sentinel announces
        this.onSwitch();
      };
      // +odown: a quorum of sentinels finds the master down, a failover is coming. Leave
      // it now; the vote refuses it (a majority reports it down) until they name a
      // master again, so a master cut off from the majority gets no more writes.
      for (const { client } of detector.sentinels) {
        client.subscribe("+odown").catch(() => {});
        client.on("message", (channel, message) => {
          const [kind, name, host, port] = String(message).split(" ");
          if (channel === "+odown" && kind === "master" && name === this.options.name) {
            this.onDown(host, Number(port));
          }
        });
      }
    }
  }

  onDown(host, port) {
    const current = this.master; // as the sentinels name it (a hostname in a cluster)
    const client = this.client;
    if (current && current.host === host && current.port === port && client && client.status === "ready" && this.stream) {
      this.stream.destroy();
    }
  }

  onSwitch() {
    const client = this.client; // set by writer()
    if (this.wake) {
      this.wake(); // a resolution waiting for a master: ask the sentinels now
    } else if (!client) {
      return;
    } else if (client.status === "reconnecting") {
      client.connect().catch(() => {}); // the pending timer then finds it connecting: a no-op
    } else if ((client.status === "ready" || client.status === "connect") && this.stream) {
      this.stream.destroy();
    }
  }

  async resolveMaster(client) {
    await this.updateSentinels(client);
    // No master a majority would accept (failing over, or being failed over): ask again
    // after a back-off that a failover announcement ends at once, as long as the client
    // still wants to connect and about twice down-after has not passed.
    const deadline = Date.now() + this.options.giveUpMs;
    for (let attempt = 1; ; attempt += 1) {
      const chosen = await this.vote();
      if (chosen) this.master = { host: chosen.host, port: chosen.port };
      if (chosen || !this.connecting || Date.now() > deadline) return chosen;
      await new Promise((resolve) => {
        const timer = setTimeout(resolve, backoff(attempt));
        this.wake = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wake = null;
    }
  }

  async vote() {
    const asked = this.sentinelIterator.sentinels.slice();
    const replies = (await Promise.all(asked.map((endpoint) => this.ask(endpoint)))).filter(Boolean);
    // One vote per sentinel: behind a Service name, a pod's sentinel also answers under
    // its own name (ioredis adds the names SENTINEL SENTINELS gives to the list).
    const answers = [...new Map(replies.map(([id, answer]) => [id, answer])).values()];
    if (!answers.length) return null;
    const voters = Math.max(...answers.map((a) => Number(a["num-other-sentinels"] || 0) + 1));
    const chosen = chooseMaster(answers, voters);
    return chosen && this.sentinelNatResolve(chosen);
  }

  async ask(endpoint) {
    const client = this.connectToSentinel(endpoint);
    client.on("error", () => {});
    try {
      const [[error, master], [idError, id]] = await client
        .pipeline()
        .sentinel("master", this.options.name)
        .sentinel("myid")
        .exec();
      return error || idError ? null : [id, pairs(master)];
    } catch {
      return null;
    } finally {
      client.disconnect();
    }
  }
}

/**
 * A client on the current master, found through Sentinel and found again after a
 * failover. Create it once per process and reuse it; disconnect() it at exit (quit()
 * alone leaves the failover detector's subscriptions to the sentinels open).
 *
 * retries: how many reconnections a command waits through before it fails (0: a
 * command in flight when the connection drops fails at once, for writes that are not
 * idempotent; ioredis would otherwise resend it after reconnecting).
 * giveUpMs: how long a connection looks for a master before the commands waiting for it
 * reject with MasterNotFoundError and the client ends (default about twice down-after).
 */
function writer(settings = settingsFromEnv(), { retries = defaultRetries(settings), giveUpMs = failoverMs(settings) } = {}) {
  const client = new Redis({
    sentinels: settings.hosts.map((host) => ({ host, port: settings.sentinelPort })),
    name: settings.masterSet,
    role: "master",
    Connector: MajorityConnector,
    giveUpMs, // MajorityConnector: how long a connection looks for a master
    // Sentinels ask for the password too; without it discovery finds no master.
    password: settings.password,
    sentinelPassword: settings.password,
    // TLS: the master (tls, with enableTLSForSentinelMode) and the sentinels (sentinelTLS).
    tls: tlsOptions(settings),
    sentinelTLS: tlsOptions(settings),
    enableTLSForSentinelMode: settings.tls,
    failoverDetector: true,
    connectTimeout: settings.timeoutMs,
    sentinelCommandTimeout: settings.timeoutMs,
    enableReadyCheck: false, // a master answers at once; saves a round trip per reconnection
    // A master that stops answering (hung, or cut off) is left after timeoutMs of silence.
    socketTimeout: settings.timeoutMs,
    retryStrategy: backoff,
    sentinelRetryStrategy: backoff,
    sentinelReconnectStrategy: () => 200,
    maxRetriesPerRequest: retries,
    autoResendUnfulfilledCommands: retries > 0,
    // READONLY (a demoted master) and NOREPLICAS (a master without replicas in sync:
    // cut off from them, or promoted a moment ago): find the master again, resend.
    reconnectOnError: (error) => (retries > 0 && /^(READONLY|NOREPLICAS)/.test(error.message) ? 2 : false),
  });
  client.connector.client = client;
  // Not enumerable, like the password on it: never printed with the client.
  Object.defineProperty(client, "serviceSettings", { value: settings, enumerable: false });
  followPasswordFile(client, settings, ["password", "sentinelPassword"]);
  return quiet(client);
}

class NotConfirmedError extends Error {}

/**
 * Run one write command, then WAIT until `replicas` replicas hold it. Resolves to the
 * command's reply; rejects with NotConfirmedError when fewer replicas confirmed within
 * timeoutMs: the write was applied on the master but may still be lost in a failover.
 * The pair is retried like any command of `client`: for a write that is not idempotent
 * use writer(settings, { retries: 0 }), so that an error never means "applied twice".
 */
async function writeConfirmed(client, command, { replicas, timeoutMs = CONFIRM_TIMEOUT_MS } = {}) {
  if (replicas === undefined) replicas = client.serviceSettings ? client.serviceSettings.replicas : 1;
  const [[error, reply], [waitError, confirmed]] = await client
    .pipeline()
    .call(...command)
    .call("WAIT", replicas, timeoutMs)
    .exec();
  if (error || waitError) throw error || waitError;
  if (Number(confirmed) < replicas) {
    throw new NotConfirmedError(`${confirmed} of ${replicas} replicas confirmed the write within ${timeoutMs} ms`);
  }
  return reply;
}

module.exports = {
  ENV_VARS,
  PasswordFile,
  passwordFile,
  checkIoredis,
  defaultRetries,
  failoverMs,
  example,
  settingsFromEnv,
  reader,
  writer,
  writeConfirmed,
  chooseMaster,
  MajorityConnector,
  NotConfirmedError,
  MasterNotFoundError,
};

/** Write a key through the master (WAIT-confirmed), read it back through the Service. */
async function example(settings, prefix) {
  const key = `${prefix}:example:${require("crypto").randomUUID()}`;
  const w = writer(settings);
  const r = reader(settings);
  try {
    await writeConfirmed(w, ["SET", key, "hello", "EX", 60]);
    return `wrote ${key} on the master, confirmed by ${settings.replicas} replicas; read back: ${await r.get(key)}`;
  } finally {
    w.disconnect();
    r.disconnect();
  }
}
