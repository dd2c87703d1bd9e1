import { randomUUID } from "node:crypto";
import { metricsSink, publishMetrics } from "../adapters/metrics/emf-metrics.js";
import { BuyStatsRecorder } from "../adapters/redis/buy-counters.js";
import { createRedisClient } from "../adapters/redis/client.js";
import { RedisSaleStore } from "../adapters/redis/sale-store.js";
import { createSqsClient, SqsOrderQueue } from "../adapters/sqs/client.js";
import { DomainError, InvalidRequestError } from "../domain/errors.js";
import { buy } from "../domain/purchase.js";
import { saleIdSchema } from "../domain/sale.js";
import { SoldOutCache } from "../domain/sold-out-cache.js";
import { httpHandler } from "../http/http-handler.js";
import { callerId, header, pathParameter, validBody } from "../http/request.js";
import { json } from "../http/responses.js";
import { buyRequestSchema, idempotencyKeySchema } from "../http/schemas.js";
import { readBuyConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";
import { traced } from "../platform/tracing.js";

// Cold start: config, clients and scripts once per container.
const config = readBuyConfig();
const redis = await createRedisClient(config.redis);
const stats = new BuyStatsRecorder(redis, Date.now);
const deps = {
  reservations: traced("Redis", new RedisSaleStore(redis)),
  queue: new SqsOrderQueue(createSqsClient(config.sqs), config.ordersQueueUrl),
  counters: stats,
  soldOut: new SoldOutCache(config.soldOutCacheMs, Date.now),
  now: Date.now,
  uuid: randomUUID,
  logger,
  metrics: metricsSink,
};

/** POST /sales/{saleId}/buy: reserve in Redis, hand the order to SQS, answer 202. */
export const handler = httpHandler(async (event) => {
  const userId = callerId(event);
  const saleId = pathParameter(event, "saleId", saleIdSchema);
  const { quantity } = validBody(event, buyRequestSchema);
  const idempotencyKey = idempotencyKeyOf(header(event, "idempotency-key"));

  const started = performance.now();
  let outcome = "ACCEPTED";
  try {
    const order = await buy(deps, { saleId, userId, quantity, idempotencyKey });
    logger.info("buy accepted", {
      saleId,
      orderId: order.orderId,
      quantity,
      replayed: order.replayed,
    });
    if (order.replayed) outcome = "REPLAYED";
    return json(202, { orderId: order.orderId, status: "pending" });
  } catch (error) {
    outcome = error instanceof DomainError ? error.code : "INTERNAL_ERROR";
    throw error;
  } finally {
    // No counters for unknown sales (random ids must not create keys), nor for failures
    // that are not domain outcomes.
    if (outcome !== "SALE_NOT_FOUND" && outcome !== "INTERNAL_ERROR")
      stats.latency(saleId, performance.now() - started);
    stats.maybeFlush();
    // One EMF line per buy: the outcome is a bounded code (outcomes.ts), never the sale.
    metricsSink.count("Buys");
    publishMetrics({ outcome });
  }
});

function idempotencyKeyOf(raw: string | undefined): string | undefined {
  if (raw === undefined) return undefined;
  const parsed = idempotencyKeySchema.safeParse(raw);
  if (!parsed.success) throw new InvalidRequestError(parsed.error.issues[0]?.message ?? "bad key");
  return parsed.data;
}
