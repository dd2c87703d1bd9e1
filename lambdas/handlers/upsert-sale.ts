import { createRedisClient } from "../adapters/redis/client.js";
import { RedisRecentSalesIndex } from "../adapters/redis/recent-sales-index.js";
import { RedisSaleStore } from "../adapters/redis/sale-store.js";
import { upsertSale } from "../domain/upsert-sale.js";
import { httpHandler } from "../http/http-handler.js";
import { requireAdmin, validBody } from "../http/request.js";
import { json } from "../http/responses.js";
import { saleDefinitionSchema } from "../http/schemas.js";
import { readRedisConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";
import { traced } from "../platform/tracing.js";

const redis = await createRedisClient(readRedisConfig());
const deps = {
  reservations: traced("Redis", new RedisSaleStore(redis)),
  recentSales: traced("Redis", new RedisRecentSalesIndex(redis)),
  logger,
};

/** POST /sales (admin scope): create a sale (201), or restock/reschedule it (200). */
export const handler = httpHandler(async (event) => {
  const adminId = requireAdmin(event);
  const definition = validBody(event, saleDefinitionSchema);
  const { created, sale } = await upsertSale(deps, definition, Date.now());
  logger.info(`sale ${created ? "created" : "updated"}`, {
    saleId: definition.id,
    adminId,
    stock: definition.stock,
  });
  const { version: _version, ...visible } = sale;
  return json(created ? 201 : 200, visible);
});
