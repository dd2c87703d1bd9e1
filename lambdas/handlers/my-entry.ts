import { createRedisClient } from "../adapters/redis/client.js";
import { RedisDrawStore } from "../adapters/redis/draw-store.js";
import { entryView } from "../domain/draw-entries.js";
import { saleIdSchema } from "../domain/sale.js";
import { httpHandler } from "../http/http-handler.js";
import { callerId, pathParameter } from "../http/request.js";
import { json } from "../http/responses.js";
import { readRedisConfig } from "../platform/config.js";
import { traced } from "../platform/tracing.js";

const draws = traced("Redis", new RedisDrawStore(await createRedisClient(readRedisConfig())));

/** GET /sales/{saleId}/entries/me: the caller's entry, its hash in the published list, and its result. */
export const handler = httpHandler(async (event) => {
  const userId = callerId(event);
  const saleId = pathParameter(event, "saleId", saleIdSchema);
  return json(200, await entryView(draws, saleId, userId), { "cache-control": "no-store" });
});
