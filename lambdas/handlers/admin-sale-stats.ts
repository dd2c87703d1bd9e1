import { PostgresOrderRows } from "../adapters/postgres/order-rows.js";
import { createPostgresPool } from "../adapters/postgres/pool.js";
import { createRedisClient } from "../adapters/redis/client.js";
import { RedisSaleCounters } from "../adapters/redis/sale-counters.js";
import { createSqsClient } from "../adapters/sqs/client.js";
import { sqsQueueDepths } from "../adapters/sqs/queue-depths.js";
import { SaleNotFoundError } from "../domain/errors.js";
import { saleIdSchema } from "../domain/sale.js";
import { saleStats } from "../domain/sale-stats.js";
import { saleStatsQuerySchema } from "../http/admin-schemas.js";
import { httpHandler } from "../http/http-handler.js";
import { pathParameter, requireAdmin, validQuery } from "../http/request.js";
import { json } from "../http/responses.js";
import { readSaleStatsConfig } from "../platform/config.js";
import { traced } from "../platform/tracing.js";

const config = readSaleStatsConfig();
const sqs = createSqsClient(config.queues.sqs);
const deps = {
  counters: traced("Redis", new RedisSaleCounters(await createRedisClient(config.redis))),
  orderRows: traced("Postgres", new PostgresOrderRows(await createPostgresPool(config.database))),
  queueDepths: sqsQueueDepths(sqs, config.queues),
  now: Date.now,
  sourceTimeoutMs: config.sourceTimeoutMs,
};

/**
 * GET /admin/sales/{saleId}/stats (admin): the sale's live numbers for the
 * dashboard, polled about once a second. See lambdas/domain/sale-stats.ts.
 */
export const handler = httpHandler(async (event) => {
  requireAdmin(event);
  const saleId = pathParameter(event, "saleId", saleIdSchema);
  const { window } = validQuery(event, saleStatsQuerySchema);
  const view = await saleStats(deps, saleId, { windowMs: window * 1000 });
  if (view === null) throw new SaleNotFoundError(saleId);
  return json(200, view, { "cache-control": "no-store" });
});
