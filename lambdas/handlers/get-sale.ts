import { createRedisClient } from "../adapters/redis/client.js";
import { RedisSaleStore } from "../adapters/redis/sale-store.js";
import { SaleNotFoundError } from "../domain/errors.js";
import { saleIdSchema } from "../domain/sale.js";
import { httpHandler } from "../http/http-handler.js";
import { pathParameter } from "../http/request.js";
import { json } from "../http/responses.js";
import { readRedisConfig } from "../platform/config.js";
import { traced } from "../platform/tracing.js";

const reservations = traced(
  "Redis",
  new RedisSaleStore(await createRedisClient(readRedisConfig())),
);

/** GET /sales/{saleId}: the sale's live state, read in one HGETALL. */
export const handler = httpHandler(
  async (event) => {
    const saleId = pathParameter(event, "saleId", saleIdSchema);
    const sale = await reservations.getSale(saleId, Date.now());
    if (sale === null) throw new SaleNotFoundError(saleId);
    const { version: _version, ...visible } = sale;
    return json(200, visible);
  },
  { public: true },
);
