import { PostgresOrderRows } from "../lambdas/adapters/postgres/order-rows.js";
import { createPostgresPool } from "../lambdas/adapters/postgres/pool.js";
import { createRedisClient } from "../lambdas/adapters/redis/client.js";
import { RedisHoldLedger } from "../lambdas/adapters/redis/hold-ledger.js";
import { RedisSaleStore } from "../lambdas/adapters/redis/sale-store.js";
import { createSqsClient } from "../lambdas/adapters/sqs/client.js";
import { sqsQueueDepths } from "../lambdas/adapters/sqs/queue-depths.js";
import {
  readDatabaseConfig,
  readQueuesConfig,
  readRedisConfig,
} from "../lambdas/platform/config.js";
import { useStackEnvDefaults } from "../local/stack-env.js";

/**
 * Clients for the ops commands, configured by the same variables as the
 * Lambdas (so they run against AWS from a host inside the VPC), defaulting
 * to the running local stack.
 */
export async function opsContext() {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";
  useStackEnvDefaults();
  const redis = await createRedisClient(readRedisConfig());
  const db = await createPostgresPool(readDatabaseConfig());
  const queues = readQueuesConfig();
  const sqs = createSqsClient(queues.sqs);
  return {
    redis,
    reservations: new RedisSaleStore(redis),
    payments: new RedisHoldLedger(redis),
    db,
    sqs,
    queues,
    orderRows: new PostgresOrderRows(db),
    queueDepths: sqsQueueDepths(sqs, queues),
    async close() {
      redis.disconnect();
      sqs.destroy();
      await db.end();
    },
  };
}
