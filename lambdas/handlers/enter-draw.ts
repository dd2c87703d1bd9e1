import { randomUUID } from "node:crypto";
import { metricsSink, publishMetrics } from "../adapters/metrics/emf-metrics.js";
import { createRedisClient } from "../adapters/redis/client.js";
import { RedisDrawStore } from "../adapters/redis/draw-store.js";
import { createSqsClient, SqsOrderQueue } from "../adapters/sqs/client.js";
import { enterDraw } from "../domain/draw-entries.js";
import { DomainError } from "../domain/errors.js";
import { saleIdSchema } from "../domain/sale.js";
import { httpHandler } from "../http/http-handler.js";
import { callerId, pathParameter, validBody } from "../http/request.js";
import { json } from "../http/responses.js";
import { entryRequestSchema } from "../http/schemas.js";
import { readBuyConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";
import { traced } from "../platform/tracing.js";

// Cold start: the same clients as the buy path.
const config = readBuyConfig();
const deps = {
  draws: traced("Redis", new RedisDrawStore(await createRedisClient(config.redis))),
  queue: new SqsOrderQueue(createSqsClient(config.sqs), config.ordersQueueUrl),
  now: Date.now,
  uuid: randomUUID,
  logger,
  metrics: metricsSink,
};

/** POST /sales/{saleId}/entries: enter the draw (201), or get the first entry back (200). */
export const handler = httpHandler(async (event) => {
  const userId = callerId(event);
  const saleId = pathParameter(event, "saleId", saleIdSchema);
  const { quantity } = validBody(event, entryRequestSchema);
  let outcome = "ENTERED";
  try {
    const { entry, replayed } = await enterDraw(deps, { saleId, userId, quantity });
    if (replayed) outcome = "REPLAYED";
    logger.info("draw entry", {
      saleId,
      entryId: entry.entryId,
      quantity: entry.quantity,
      replayed,
    });
    return json(replayed ? 200 : 201, {
      entryId: entry.entryId,
      quantity: entry.quantity,
      enteredAt: new Date(entry.enteredAtMs).toISOString(),
      status: "entered",
    });
  } catch (error) {
    outcome = error instanceof DomainError ? error.code : "INTERNAL_ERROR";
    throw error;
  } finally {
    metricsSink.count("Entries");
    publishMetrics({ outcome });
  }
});
