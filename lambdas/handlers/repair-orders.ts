import { createEventPublisher } from "../adapters/events/publisher.js";
import { metricsSink, publishFigures } from "../adapters/metrics/emf-metrics.js";
import { createPostgresPool } from "../adapters/postgres/pool.js";
import { reconcileDeps } from "../adapters/reconcile-deps.js";
import { createRedisClient } from "../adapters/redis/client.js";
import { RedisEventLedger } from "../adapters/redis/event-ledger.js";
import { RedisRecentSalesIndex } from "../adapters/redis/recent-sales-index.js";
import { RedisRepairLock } from "../adapters/redis/repair-lock.js";
import { createSqsClient } from "../adapters/sqs/client.js";
import { type AutoRepairReport, autoRepair } from "../domain/auto-repair.js";
import { readRepairOrdersConfig } from "../platform/config.js";
import { functionChain } from "../platform/function-chain.js";
import { logger } from "../platform/logger.js";
import { traced } from "../platform/tracing.js";

const config = readRepairOrdersConfig();
const redis = await createRedisClient(config.redis);
const deps = {
  ...reconcileDeps({
    redis,
    db: await createPostgresPool(config.database),
    sqs: createSqsClient(config.queues.sqs),
    queues: config.queues,
  }),
  index: traced("Redis", new RedisRecentSalesIndex(redis)),
  lock: traced("Redis", new RedisRepairLock(redis)),
  // The sale events (and OrderConfirmed for the rows it writes): docs/events.md.
  events: createEventPublisher(config.events, logger),
  eventLedger: traced("Redis", new RedisEventLedger(redis)),
  logger,
  metrics: metricsSink,
};

/**
 * The scheduled repair (EventBridge, once a minute, in AWS; a timer in the
 * local stack): finishes the orders a buy left reserved without a message,
 * writes the confirmations without a row (lambdas/domain/auto-repair.ts).
 * Its one log line per run ("order repair") carries its figures for a
 * person; the same figures go out as metrics (EMF), which the repair-backlog
 * alarm and the dashboard read. A run that found the lock taken did nothing
 * and reports nothing.
 * It also sends the sale events (SaleOpened, SaleSoldOut, SaleClosed) of
 * the sales it visits, each once (their counts go out with the figures).
 */
export const handler = functionChain<unknown, AutoRepairReport>().handler(async () => {
  const report = await autoRepair(deps, config);
  const busy =
    report.staleFound > 0 ||
    report.restored > 0 ||
    report.failedSales.length > 0 ||
    report.eventsSent > 0 ||
    report.eventsFailed > 0 ||
    Object.keys(report.forAPerson).length > 0;
  if (report.failedSales.length > 0) logger.warn("order repair", { ...report });
  else if (busy || process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined)
    logger.info("order repair", { ...report });
  else logger.debug("order repair", { ...report });
  if (report.outcome === "done")
    publishFigures({
      RepairStaleFound: report.staleFound,
      RepairRepaired: report.repaired,
      RepairBacklog: report.backlog,
    });
  return report;
});
