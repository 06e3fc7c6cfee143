// Types of @example-org/redis-service-client (index.js): the same contract as the Python library.
import type { Redis, SentinelConnector } from "ioredis";

export declare const ENV_VARS: readonly string[];

export interface Settings {
  hosts: string[];
  readPort: number;
  sentinelPort: number;
  masterSet: string;
  /** The sentinels' down-after-milliseconds: retries and the give-up last about twice that. */
  downAfterMs: number;
  /** Replicas writeConfirmed waits for by default: all of them. */
  replicas: number;
  /** Connect, command and socket timeout (ms). */
  timeoutMs: number;
  /** REDIS_TLS=true: every connection speaks TLS, verified against tlsCaFile (REDIS_TLS_CA_FILE). */
  tls: boolean;
  tlsCaFile: string | null;
  /** A client certificate and key (REDIS_TLS_CERT_FILE, REDIS_TLS_KEY_FILE), for mutual TLS. */
  tlsCertFile: string | null;
  tlsKeyFile: string | null;
  /** REDIS_PASSWORD_FILE: the password is read from this file, and again when it changes. */
  passwordFile: string | null;
  /** Not enumerable: never printed with the settings. With passwordFile, what the file says now. */
  readonly password: string;
}

/** The password from a file the kubelet refreshes, polled; listeners get the new one. */
export declare class PasswordFile {
  constructor(path: string, pollMs?: number);
  readonly path: string;
  /** How many times the password changed since start. */
  readonly changes: number;
  readonly listeners: Set<(password: string) => void>;
  /** One poll; true when the password changed now. */
  check(): boolean;
  close(): void;
}
/** The process's one PasswordFile for `path`. */
export declare function passwordFile(path: string): PasswordFile;

export interface ServiceOptions {
  envVars?: readonly string[];
  downAfterMs?: number;
  replicas?: number;
  timeoutMs?: number;
}

export interface SentinelAnswer {
  ip: string;
  port: string;
  flags: string;
  "config-epoch"?: string;
  "num-other-sentinels"?: string;
  [field: string]: string | undefined;
}

export declare function checkIoredis(): string;
export declare function defaultRetries(settings: Settings): number;
export declare function failoverMs(settings: Settings): number;
export declare function settingsFromEnv(env?: Record<string, string | undefined>, service?: ServiceOptions): Settings;
/** A client on the read Service (any pod). Use it for reads only. */
export declare function reader(settings?: Settings): Redis;
/** A client on the master the majority of sentinels names, following failovers. */
export declare function writer(settings?: Settings, options?: { retries?: number; giveUpMs?: number }): Redis;
/** One write command, then WAIT for `replicas` replicas; rejects with NotConfirmedError below that. */
export declare function writeConfirmed(
  client: Redis,
  command: [string, ...(string | number | Buffer)[]],
  options?: { replicas?: number; timeoutMs?: number },
): Promise<unknown>;
export declare function chooseMaster(answers: SentinelAnswer[], voters: number): { host: string; port: number } | null;
/** Write a key through the master (WAIT-confirmed), read it back; resolves to a line saying so. */
export declare function example(settings: Settings, prefix: string): Promise<string>;
export declare class MajorityConnector extends SentinelConnector {}
export declare class NotConfirmedError extends Error {}
/** No master found within the writer's giveUpMs; the commands waiting reject with it. */
export declare class MasterNotFoundError extends Error {}
