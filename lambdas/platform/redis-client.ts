import { Redis } from "ioredis";
import type { RedisConfig } from "./config.js";
import { logger } from "./logger.js";
import { defineScripts } from "./lua-scripts.js";
import { secretString } from "./secrets.js";

/**
 * A Redis client tuned for Lambda. A container can be frozen for minutes and
 * thawed with a dead socket, so every command has a deadline, retries are
 * bounded, and nothing queues forever while the connection is down: a buy
 * fails fast with 503 instead of hanging until the function times out.
 */
export async function createRedisClient(config: RedisConfig): Promise<Redis> {
  const password = config.passwordSecretArn
    ? await secretString(config.passwordSecretArn)
    : config.password;
  const redis = new Redis(config.url, {
    password,
    tls: config.tls ? {} : undefined,
    connectTimeout: config.connectTimeoutMs,
    commandTimeout: config.commandTimeoutMs,
    keepAlive: 10_000,
    noDelay: true,
    // One retry covers a socket that died while the container was frozen.
    maxRetriesPerRequest: 1,
    retryStrategy: (attempt) => Math.min(attempt * 50, 1_000),
    // Commands issued while reconnecting wait for the connection (bounded by
    // commandTimeout) rather than failing at once during a brief failover.
    enableOfflineQueue: true,
    // Concurrent invocations in the local host share one socket; pipelining
    // coalesces their EVALSHAs into fewer writes without changing semantics.
    enableAutoPipelining: true,
    connectionName: "flash-sale",
  });
  redis.on("error", (error: Error) => {
    logger.warn("redis connection error", { error: error.message });
  });
  return defineScripts(redis);
}
