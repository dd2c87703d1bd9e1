import { createRedisClient } from "../adapters/redis/client.js";
import { RedisDrawStore } from "../adapters/redis/draw-store.js";
import { DrawNotFoundError } from "../domain/errors.js";
import { saleIdSchema } from "../domain/sale.js";
import { httpHandler } from "../http/http-handler.js";
import { pathParameter, requireAdmin } from "../http/request.js";
import { json } from "../http/responses.js";
import { readRedisConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";
import { traced } from "../platform/tracing.js";

const draws = traced("Redis", new RedisDrawStore(await createRedisClient(readRedisConfig())));

/**
 * POST /admin/sales/{saleId}/draw (admin): close the entries now and let the
 * draw runner draw (202). Freezing is all it does: the draw itself runs in
 * one place, the runner, after the settle time, as at a scheduled close.
 */
export const handler = httpHandler(async (event) => {
  const adminId = requireAdmin(event);
  const saleId = pathParameter(event, "saleId", saleIdSchema);
  const outcome = await draws.freeze(saleId, Date.now(), true);
  if (outcome === "not_a_draw") throw new DrawNotFoundError(saleId);
  const sale = await draws.drawSale(saleId);
  logger.info("draw requested", { saleId, adminId, outcome });
  return json(202, {
    saleId,
    state: sale?.state ?? "frozen",
    entries: sale?.entries ?? 0,
    frozenAt: sale?.frozenAtMs ? new Date(sale.frozenAtMs).toISOString() : null,
  });
});
