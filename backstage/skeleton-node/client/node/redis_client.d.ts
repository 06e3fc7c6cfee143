// Types of redis_client.js (this service's adapter): the library's, with this service's settings.
import type { Redis } from "ioredis";
import type { Settings } from "@example-org/redis-service-client";

export * from "@example-org/redis-service-client";
export declare const ENV_VARS: readonly string[];
/** Replicas writeConfirmed waits for by default: all of them. */
export declare const REPLICAS: number;
export declare function settingsFromEnv(env?: Record<string, string | undefined>): Settings;
/** A client on the read Service (any pod). Use it for reads only. */
export declare function reader(settings?: Settings): Redis;
/** A client on the master the majority of sentinels names, following failovers. */
export declare function writer(settings?: Settings, options?: { retries?: number; giveUpMs?: number }): Redis;
