import { createPostgresPool } from "../adapters/postgres/pool.js";
import { reconcileDeps } from "../adapters/reconcile-deps.js";
import { createRedisClient } from "../adapters/redis/client.js";
import { createSqsClient } from "../adapters/sqs/client.js";
import { ServiceUnavailableError } from "../domain/errors.js";
import { reconcileSale } from "../domain/reconcile.js";
import { saleIdSchema } from "../domain/sale.js";
import { reconcileRequestSchema } from "../http/admin-schemas.js";
import { httpHandler } from "../http/http-handler.js";
import { pathParameter, requireAdmin, validBody } from "../http/request.js";
import { json } from "../http/responses.js";
import { readDatabaseConfig, readQueuesConfig, readRedisConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";

const RETRY_AFTER_SECONDS = 5;
const queues = readQueuesConfig();
const sqs = createSqsClient(queues.sqs);
const deps = reconcileDeps({
  redis: await createRedisClient(readRedisConfig()),
  db: await createPostgresPool(readDatabaseConfig()),
  sqs,
  queues,
});

/** POST /admin/sales/{saleId}/reconcile (admin): the reconcile report, optionally repairing. */
export const handler = httpHandler(async (event) => {
  const adminId = requireAdmin(event);
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
