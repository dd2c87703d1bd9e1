import { createRedisClient } from "../adapters/redis/client.js";
import { RedisReservations } from "../adapters/redis/sale-store.js";
import { ShardsImmutableError, StockBelowSoldError } from "../domain/errors.js";
import { rememberSale } from "../domain/recent-sales.js";
import { httpHandler } from "../http/http-handler.js";
import { requireScope, validBody } from "../http/request.js";
import { json } from "../http/responses.js";
import { saleDefinitionSchema } from "../http/schemas.js";
import { readRedisConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";

const redis = await createRedisClient(readRedisConfig());
const reservations = new RedisReservations(redis);

/**
 * POST /sales (admin scope): create a sale, or restock/reschedule it. `stock`
 * is the sale's total; units already sold stay sold.
 */
export const handler = httpHandler(async (event) => {
  const adminId = requireScope(event, "admin");
  const definition = validBody(event, saleDefinitionSchema);
  const nowMs = Date.now();
  const outcome = await reservations.upsertSale(definition, nowMs);
  if (outcome.kind === "stock_below_sold") {
    throw new StockBelowSoldError(definition.id, outcome.sold);
  }
  if (outcome.kind === "shards_immutable") {
    throw new ShardsImmutableError(definition.id, outcome.shards);
  }
  logger.info(`sale ${outcome.kind}`, { saleId: definition.id, adminId, stock: definition.stock });
  // The dashboard's list of recent sales; a convenience, so a failure here fails nothing.
  await rememberSale(redis, definition.id, nowMs).catch((error: unknown) =>
    logger.warn("could not record the sale in the recent-sales list", {
      saleId: definition.id,
      error: error instanceof Error ? error.message : String(error),
    }),
  );
  const sale = await reservations.getSale(definition.id, nowMs);
  if (sale === null) throw new Error(`sale ${definition.id} vanished right after its upsert`);
  const { version: _version, ...visible } = sale;
  return json(outcome.kind === "created" ? 201 : 200, visible);
});
