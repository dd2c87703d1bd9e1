import { PostgresOrderRows } from "../adapters/postgres/order-rows.js";
import { createPostgresPool } from "../adapters/postgres/pool.js";
import { createRedisClient } from "../adapters/redis/client.js";
import { RedisHoldLedger } from "../adapters/redis/hold-ledger.js";
import { RedisSaleStore } from "../adapters/redis/sale-store.js";
import { createSqsClient } from "../adapters/sqs/client.js";
import { sqsQueueDepths } from "../adapters/sqs/queue-depths.js";
import { ServiceUnavailableError } from "../domain/errors.js";
import { reconcileSale } from "../domain/reconcile.js";
import { saleIdSchema } from "../domain/sale.js";
import { reconcileRequestSchema } from "../http/admin-schemas.js";
import { httpHandler } from "../http/http-handler.js";
import { pathParameter, requireScope, validBody } from "../http/request.js";
import { json } from "../http/responses.js";
import { readDatabaseConfig, readQueuesConfig, readRedisConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";

const RETRY_AFTER_SECONDS = 5;
const queues = readQueuesConfig();
const sqs = createSqsClient(queues.sqs);
const redis = await createRedisClient(readRedisConfig());
const deps = {
  reservations: new RedisSaleStore(redis),
  payments: new RedisHoldLedger(redis),
  orderRows: new PostgresOrderRows(await createPostgresPool(readDatabaseConfig())),
  now: Date.now,
  queueDepths: sqsQueueDepths(sqs, queues),
};

/** POST /admin/sales/{saleId}/reconcile (admin): the reconcile report, optionally repairing. */
export const handler = httpHandler(async (event) => {
  const adminId = requireScope(event, "admin");
  const saleId = pathParameter(event, "saleId", saleIdSchema);
  const { repair, graceSeconds } = validBody(event, reconcileRequestSchema);
  // Each order's repair fails alone inside the report; what is left is Redis,
  // Postgres or SQS being unreachable: a 503 to retry, never a 500.
  const report = await reconcileSale(deps, saleId, { repair, graceMs: graceSeconds * 1000 }).catch(
    (error: unknown) => {
      logger.error("reconcile could not reach its sources", {
        saleId,
        error: error instanceof Error ? error.message : String(error),
      });
      throw new ServiceUnavailableError(
        "Reconcile could not reach Redis, Postgres or the queues; retry",
        RETRY_AFTER_SECONDS,
      );
    },
  );
  logger.info("reconcile", {
    saleId,
    adminId,
    repair,
    clean: report.clean,
    issues: report.issues.length,
  });
  return json(200, report);
});
