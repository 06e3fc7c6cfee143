// Types of redis_client.js (the generated Node client): the same contract as the Python one.
import type { Redis, SentinelConnector } from "ioredis";

export declare const ENV_VARS: readonly string[];
/** Replicas writeConfirmed waits for by default: all of them. */
export declare const REPLICAS: number;
/** Reconnections a writer's command waits through before it fails. */
export declare const DEFAULT_RETRIES: number;
/** How long a writer's connection looks for a master before it gives up (ms). */
export declare const GIVE_UP_MS: number;

export interface Settings {
  hosts: string[];
  readPort: number;
  sentinelPort: number;
  masterSet: string;
  /** Not enumerable: never printed with the settings. */
  readonly password: string;
}

export interface SentinelAnswer {
  ip: string;
  port: string;
  flags: string;
  "config-epoch"?: string;
  "num-other-sentinels"?: string;
  [field: string]: string | undefined;
}

export declare function settingsFromEnv(env?: Record<string, string | undefined>): Settings;
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
export declare function chooseMaster(
  answers: SentinelAnswer[],
  voters: number,
): { host: string; port: number } | null;
export declare class MajorityConnector extends SentinelConnector {}
export declare class NotConfirmedError extends Error {}
/** No master found within the writer's giveUpMs; the commands waiting reject with it. */
export declare class MasterNotFoundError extends Error {}
