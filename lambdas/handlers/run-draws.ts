import { randomUUID } from "node:crypto";
import { metricsSink, publishMetrics } from "../adapters/metrics/emf-metrics.js";
import { PostgresDrawRows } from "../adapters/postgres/draw-rows.js";
import { createPostgresPool } from "../adapters/postgres/pool.js";
import { createRedisClient } from "../adapters/redis/client.js";
import { RedisDrawStore } from "../adapters/redis/draw-store.js";
import { createSqsClient, SqsOrderQueue } from "../adapters/sqs/client.js";
import { type DrawRunReport, runDraws } from "../domain/run-draws.js";
import { readRunDrawsConfig } from "../platform/config.js";
import { functionChain } from "../platform/function-chain.js";
import { logger } from "../platform/logger.js";
import { traced } from "../platform/tracing.js";

const config = readRunDrawsConfig();
const deps = {
  draws: traced("Redis", new RedisDrawStore(await createRedisClient(config.redis))),
  rows: traced("Postgres", new PostgresDrawRows(await createPostgresPool(config.database))),
  orders: new SqsOrderQueue(createSqsClient(config.sqs), config.ordersQueueUrl),
  now: Date.now,
  uuid: randomUUID,
  logger,
  metrics: metricsSink,
  settleMs: config.settleMs,
  lockTtlMs: config.lockTtlMs,
  walkSteps: config.walkSteps,
};

/**
 * The draw runner, on a schedule (an EventBridge rule, every minute, in AWS;
 * a timer in the local stack): freezes entries at their close, draws, and
 * awards units in drawn order, alternates included (lambdas/domain/run-draws.ts).
 */
export const handler = functionChain<unknown, DrawRunReport>().handler(async () => {
  const report = await runDraws(deps).finally(() => publishMetrics());
  const busy = report.frozen + report.drawn + report.awarded + report.failures > 0;
  if (busy || process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined)
    logger.info("draw run", { ...report });
  else logger.debug("draw run", { ...report });
  return report;
});
