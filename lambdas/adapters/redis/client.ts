import { Cluster, Redis, type RedisOptions } from "ioredis";
import type { RedisConfig } from "../../platform/config.js";
import { logger } from "../../platform/logger.js";
import { secretString } from "../secrets.js";
import { defineScripts, type RedisClient } from "./scripts.js";

/**
 * A Redis client tuned for Lambda. A container can be frozen for minutes and
 * thawed with a dead socket, so every command has a deadline, retries are
 * bounded, and nothing queues forever while the connection is down: a buy
 * fails fast with 503 instead of hanging until the function times out.
 *
 * With REDIS_CLUSTER=true it is a Redis Cluster client started from the
 * configuration endpoint; every key of a sale (or of one shard of a sale)
 * shares a hash tag, so each Lua call stays within one slot.
 */
export async function createRedisClient(config: RedisConfig): Promise<RedisClient> {
  const password = config.passwordSecretArn
    ? await secretString(config.passwordSecretArn)
    : config.password;
  const options: RedisOptions = {
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
    connectionName: "flash-sale",
    // An ElastiCache failover (or maintenance) demotes the node this socket
    // talks to: it answers READONLY to every write, and LOADING while a
    // restarted node reads its data. Reconnect, which resolves the endpoint's
    // name afresh (the primary endpoint now points at the promoted node), and
    // resend the command. Resending is safe: a reserve that did run is
    // recognised by its order id (reserve-8.lua), and the others are idempotent.
    reconnectOnError: reconnectOnFailover,
  };
  const client = config.cluster
    ? clusterClient(config, options)
    : new Redis(config.url, {
        ...options,
        // Concurrent invocations in the local host share one socket; pipelining
        // coalesces their EVALSHAs into fewer writes without changing semantics.
        enableAutoPipelining: true,
      });
  client.on("error", (error: Error) => {
    logger.warn("redis connection error", { error: error.message });
  });
  return defineScripts(client);
}

function clusterClient(config: RedisConfig, redisOptions: RedisOptions): Cluster {
  const url = new URL(config.url);
  return new Cluster([{ host: url.hostname, port: Number(url.port || 6379) }], {
    redisOptions,
    enableAutoPipelining: true,
    // ElastiCache's TLS certificates name the endpoints, not the node IPs the
    // cluster announces: keep host names as they are.
    dnsLookup: (address, callback) => callback(null, address),
    slotsRefreshTimeout: config.connectTimeoutMs,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    scaleReads: "master",
  });
}

/** For ioredis' reconnectOnError: 2 = reconnect and resend the failed command. */
export function reconnectOnFailover(error: Error): boolean | 1 | 2 {
  return /^(READONLY|LOADING|MASTERDOWN)\b/.test(error.message) ? 2 : false;
}
