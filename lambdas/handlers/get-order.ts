import { PostgresOrderRows } from "../adapters/postgres/order-rows.js";
import { createPostgresPool } from "../adapters/postgres/pool.js";
import { createRedisClient } from "../adapters/redis/client.js";
import { RedisSaleStore } from "../adapters/redis/sale-store.js";
import { OrderNotFoundError } from "../domain/errors.js";
import { orderStatus } from "../domain/order-status.js";
import { orderIdSchema } from "../domain/sale.js";
import { httpHandler } from "../http/http-handler.js";
import { callerId, pathParameter } from "../http/request.js";
import { json } from "../http/responses.js";
import { readDatabaseConfig, readRedisConfig } from "../platform/config.js";
import { traced } from "../platform/tracing.js";

const deps = {
  reservations: traced("Redis", new RedisSaleStore(await createRedisClient(readRedisConfig()))),
  orderRows: traced(
    "Postgres",
    new PostgresOrderRows(await createPostgresPool(readDatabaseConfig())),
  ),
};

/** GET /orders/{orderId}: the caller's own order, pending or confirmed; 404 otherwise. */
export const handler = httpHandler(async (event) => {
  const orderId = pathParameter(event, "orderId", orderIdSchema);
  const view = await orderStatus(deps, orderId, callerId(event));
  if (view === null) throw new OrderNotFoundError(orderId);
  return json(200, view);
});
