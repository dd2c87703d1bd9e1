import { PostgresDrawRows } from "../adapters/postgres/draw-rows.js";
import { createPostgresPool } from "../adapters/postgres/pool.js";
import { createRedisClient } from "../adapters/redis/client.js";
import { RedisDrawStore } from "../adapters/redis/draw-store.js";
import { publishedDraw, publishedEntriesPage } from "../domain/published-draw.js";
import { saleIdSchema } from "../domain/sale.js";
import { httpHandler } from "../http/http-handler.js";
import { pathParameter, validQuery } from "../http/request.js";
import { json } from "../http/responses.js";
import { drawEntriesQuerySchema } from "../http/schemas.js";
import { readDatabaseConfig, readRedisConfig } from "../platform/config.js";
import { traced } from "../platform/tracing.js";

const draws = traced("Redis", new RedisDrawStore(await createRedisClient(readRedisConfig())));
const rows = traced(
  "Postgres",
  new PostgresDrawRows(await createPostgresPool(readDatabaseConfig())),
);

/**
 * GET /sales/{saleId}/draw and GET /sales/{saleId}/draw/entries?page=N
 * (public): the draw's commitment, then its revealed seed, entry list and
 * winners, so anyone can recompute it (npm run verify-draw).
 */
export const handler = httpHandler(
  async (event) => {
    const saleId = pathParameter(event, "saleId", saleIdSchema);
    if (event.routeKey.endsWith("/draw/entries")) {
      const { page } = validQuery(event, drawEntriesQuerySchema);
      // A drawn list never changes: pages may be cached.
      return json(200, await publishedEntriesPage(draws, rows, saleId, page), {
        "cache-control": "public, max-age=60",
      });
    }
    return json(200, await publishedDraw(draws, rows, saleId), { "cache-control": "no-store" });
  },
  { public: true },
);
