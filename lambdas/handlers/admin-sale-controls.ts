import { createRedisClient } from "../adapters/redis/client.js";
import { RedisSaleStore } from "../adapters/redis/sale-store.js";
import { SaleNotFoundError } from "../domain/errors.js";
import { saleIdSchema } from "../domain/sale.js";
import { saleControlsRequestSchema } from "../http/admin-schemas.js";
import { httpHandler } from "../http/http-handler.js";
import { pathParameter, requireAdmin, validBody } from "../http/request.js";
import { json } from "../http/responses.js";
import { readRedisConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";
import { traced } from "../platform/tracing.js";

const reservations = traced(
  "Redis",
  new RedisSaleStore(await createRedisClient(readRedisConfig())),
);

/**
 * POST /admin/sales/{saleId}/controls (admin): pause or resume buying, close
 * the sale now, change the per-user limit or the rate limit. The whole body is
 * validated first (a 4xx changes nothing), then every field given is written
 * in one script call per sale hash; the reserve script reads these fields
 * itself, so they bind every buy container from its next request on. closeNow
 * ends the sale at this handler's Date.now(). The answer is the sale as it now
 * is (as GET /sales/{saleId} shows it).
 */
export const handler = httpHandler(async (event) => {
  const adminId = requireAdmin(event);
  const saleId = pathParameter(event, "saleId", saleIdSchema);
  const controls = validBody(event, saleControlsRequestSchema);
  const nowMs = Date.now();
  if (!(await reservations.applyControls(saleId, controls, nowMs)))
    throw new SaleNotFoundError(saleId);
  const sale = await reservations.getSale(saleId, Date.now());
  if (sale === null) throw new SaleNotFoundError(saleId);
  logger.info("sale controls applied", { saleId, adminId, ...controls });
  const { version: _version, ...visible } = sale;
  return json(200, visible);
});
