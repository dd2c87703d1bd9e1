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

const reservations = new RedisSaleStore(await createRedisClient(readRedisConfig()));

/**
 * POST /admin/sales/{saleId}/controls (admin): pause or resume buying. The
 * flag is written to the sale's hash(es) and read by the reserve script
 * itself, so it binds every buy container from its next request on; the
 * answer is the sale as it now is (as GET /sales/{saleId} shows it).
 */
export const handler = httpHandler(async (event) => {
  const adminId = requireAdmin(event);
  const saleId = pathParameter(event, "saleId", saleIdSchema);
  const { paused } = validBody(event, saleControlsRequestSchema);
  if (!(await reservations.setPaused(saleId, paused))) throw new SaleNotFoundError(saleId);
  const sale = await reservations.getSale(saleId, Date.now());
  if (sale === null) throw new SaleNotFoundError(saleId);
  logger.info(paused ? "sale paused" : "sale resumed", { saleId, adminId });
  const { version: _version, ...visible } = sale;
  return json(200, visible);
});
