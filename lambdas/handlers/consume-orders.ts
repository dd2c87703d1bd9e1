import sqsPartialBatchFailure from "@middy/sqs-partial-batch-failure";
import type { SQSBatchResponse, SQSEvent } from "aws-lambda";
import { createEventPublisher } from "../adapters/events/publisher.js";
import { metricsSink, publishMetrics } from "../adapters/metrics/emf-metrics.js";
import { PostgresDrawRows } from "../adapters/postgres/draw-rows.js";
import { PostgresOrderRows } from "../adapters/postgres/order-rows.js";
import { createPostgresPool } from "../adapters/postgres/pool.js";
import { createRedisClient } from "../adapters/redis/client.js";
import { RedisSaleStore } from "../adapters/redis/sale-store.js";
import { persistOrders } from "../domain/persist-orders.js";
import {
  readDatabaseConfig,
  readEventsConfig,
  readQueueMaxReceiveCount,
  readRedisConfig,
} from "../platform/config.js";
import { functionChain } from "../platform/function-chain.js";
import { logger } from "../platform/logger.js";
import { traced } from "../platform/tracing.js";

const pool = await createPostgresPool(readDatabaseConfig());
const deps = {
  reservations: traced("Redis", new RedisSaleStore(await createRedisClient(readRedisConfig()))),
  orderRows: traced("Postgres", new PostgresOrderRows(pool)),
  drawRows: traced("Postgres", new PostgresDrawRows(pool)),
  now: Date.now,
  logger,
  metrics: metricsSink,
  // OrderConfirmed for each new row (docs/events.md), after the insert; never fails a record.
  events: createEventPublisher(readEventsConfig(), logger),
};
// A record failing its last receive goes to the DLQ.
const maxReceiveCount = readQueueMaxReceiveCount();

/**
 * SQS consumer of the orders queue: persists each batch in one INSERT and
 * reports only the failed records (ReportBatchItemFailures), so SQS retries
 * those alone and moves them to the DLQ after maxReceiveCount.
 */
export const handler = functionChain<SQSEvent, SQSBatchResponse>()
  // Failures are already logged with context by persistOrders.
  .use(sqsPartialBatchFailure({ logger: () => {} }))
  .handler(async (event) => {
    const results = await persistOrders(deps, event.Records);
    const failed = event.Records.filter((_, index) => results[index]?.status === "rejected");
    metricsSink.count("OrderRecordsFailed", failed.length);
    if (maxReceiveCount > 0) {
      const last = failed.filter(
        (record) => Number(record.attributes?.ApproximateReceiveCount) >= maxReceiveCount,
      );
      metricsSink.count("OrdersDeadLettered", last.length);
    }
    publishMetrics();
    return results as unknown as SQSBatchResponse;
  });
