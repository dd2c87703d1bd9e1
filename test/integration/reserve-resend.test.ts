import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import type { ReserveRequest } from "../../lambdas/domain/ports.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { testRedis, uniqueSaleId } from "../support/fixtures.js";

let redis: Redis;
let reservations: RedisSaleStore;

beforeAll(() => {
  redis = testRedis();
  reservations = new RedisSaleStore(redis);
});
afterAll(() => redis.quit());

/**
 * ioredis resends a command whose reply was lost when the connection dropped
 * (a Redis crash right after it ran the script). Found by the fault suite
 * (fault 5, SIGKILL): the resent reserve found its own reservation through
 * the idempotency key and came back as a replay, so the buy answered 202
 * without ever sending the order's message.
 */
describe("RedisSaleStore.reserve, run twice for one request", () => {
  it("reports the second run of the same request as its own fresh reservation, not a replay", async () => {
    const saleId = uniqueSaleId("resend");
    await reservations.upsertSale(
      { id: saleId, name: "r", stock: 5, perUserLimit: 1, startsAtMs: 0, endsAtMs: 0 },
      Date.now(),
    );
    const request: ReserveRequest = {
      saleId,
      userId: "alice",
      quantity: 1,
      nowMs: Date.now(),
      orderId: newOrderId(saleId, randomUUID()),
      idempotencyKey: "checkout-1",
    };
    // The first run's reply is lost; the client library runs the same command again.
    await reservations.reserve(request);
    const resent = await reservations.reserve(request);
    expect(resent).toMatchObject({ kind: "accepted", orderId: request.orderId, replayed: false });

    // A genuine retry (a new request, so a new order id) with the same key is still a replay.
    const retry = await reservations.reserve({
      ...request,
      orderId: newOrderId(saleId, randomUUID()),
    });
    expect(retry).toMatchObject({ kind: "accepted", orderId: request.orderId, replayed: true });
  });
});
