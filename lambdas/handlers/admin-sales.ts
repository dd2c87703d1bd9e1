import { createRedisClient } from "../adapters/redis/client.js";
import { RedisRecentSalesIndex } from "../adapters/redis/recent-sales-index.js";
import { RedisSaleStore } from "../adapters/redis/sale-store.js";
import { recentSales } from "../domain/recent-sales.js";
import { recentSalesQuerySchema } from "../http/admin-schemas.js";
import { httpHandler } from "../http/http-handler.js";
import { requireAdmin, validQuery } from "../http/request.js";
import { json } from "../http/responses.js";
import { readRedisConfig } from "../platform/config.js";
import { traced } from "../platform/tracing.js";

const redis = await createRedisClient(readRedisConfig());
const deps = {
  index: traced("Redis", new RedisRecentSalesIndex(redis)),
  reservations: traced("Redis", new RedisSaleStore(redis)),
};

/** GET /admin/sales (admin): the most recently created sales, newest first, with their stock. */
export const handler = httpHandler(async (event) => {
  requireAdmin(event);
  const { limit } = validQuery(event, recentSalesQuerySchema);
  const sales = await recentSales(deps, limit, Date.now());
  return json(200, { sales }, { "cache-control": "no-store" });
});
