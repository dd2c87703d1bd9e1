import { randomUUID } from "node:crypto";
import calculateSlot from "cluster-key-slot";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import type { SaleDefinition } from "../../lambdas/domain/ports.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { saleSnapshot, testRedis, uniqueSaleId } from "../support/fixtures.js";

let redis: Redis;
let reservations: RedisSaleStore;
const NOW = Date.parse("2026-11-25T12:00:00Z");
const HOUR = 3600_000;

beforeAll(() => {
  redis = testRedis();
  reservations = new RedisSaleStore(redis);
});
afterAll(() => redis.quit());

async function openSale(overrides: Partial<SaleDefinition> = {}) {
  const id = uniqueSaleId();
  await reservations.upsertSale(
    { id, name: "Test drop", stock: 10, perUserLimit: 2, startsAtMs: 0, endsAtMs: 0, ...overrides },
    NOW,
  );
  return id;
}

function reserve(
  saleId: string,
  userId: string,
  quantity = 1,
  idempotencyKey?: string,
  nowMs = NOW,
) {
  return reservations.reserve({
    saleId,
    userId,
    quantity,
    nowMs,
    orderId: newOrderId(saleId, randomUUID()),
    idempotencyKey,
  });
}

describe("reserve-8.lua", () => {
  it("reserves exactly the stock under 10,000 concurrent buys from 1,000 users with limit 2", async () => {
    const saleId = await openSale({
      stock: 100,
      perUserLimit: 2,
      rateLimit: { burst: 0, perSecond: 1 },
    });
    // Each user fires ten buys back to back, so the limit is hit before the stock runs out.
    const attempts = Array.from({ length: 10_000 }, (_, i) =>
      reserve(saleId, `user-${Math.floor(i / 10)}`),
    );
    const outcomes = await Promise.all(attempts);

    const accepted = outcomes.filter((o) => o.kind === "accepted");
    const refusedReasons = new Set(
      outcomes.flatMap((o) => (o.kind === "refused" ? [o.reason] : [])),
    );
    expect(accepted).toHaveLength(100);
    expect(refusedReasons).toEqual(new Set(["SOLD_OUT", "LIMIT_REACHED"]));

    const state = await saleSnapshot(redis, saleId);
    expect(Number(state.sale.remaining)).toBe(0);
    expect(Object.keys(state.orders)).toHaveLength(100);
    const heldByUser = Object.values(state.buyers).map(Number);
    expect(heldByUser.reduce((a, b) => a + b, 0)).toBe(100);
    expect(Math.max(...heldByUser)).toBeLessThanOrEqual(2);
  });

  it("refuses a quantity above what remains and leaves the stock unchanged", async () => {
    const saleId = await openSale({ stock: 3, perUserLimit: 5 });
    const before = await saleSnapshot(redis, saleId);
    const outcome = await reserve(saleId, "alice", 4);
    expect(outcome).toMatchObject({ kind: "refused", reason: "INSUFFICIENT_STOCK", remaining: 3 });
    expect(await saleSnapshot(redis, saleId)).toEqual(before);
  });

  it("refuses a buy over the per-user limit, counting earlier buys", async () => {
    const saleId = await openSale({ stock: 10, perUserLimit: 2 });
    expect((await reserve(saleId, "alice", 2)).kind).toBe("accepted");
    expect(await reserve(saleId, "alice", 1)).toMatchObject({
      kind: "refused",
      reason: "LIMIT_REACHED",
    });
    expect((await reserve(saleId, "bob", 1)).kind).toBe("accepted");
  });

  it("answers not_found for a sale that was never created, without a Lua error", async () => {
    const saleId = uniqueSaleId("missing");
    expect(await reserve(saleId, "alice")).toEqual({ kind: "not_found" });
    expect(await redis.exists(...Object.values(saleKeys(saleId)))).toBe(0);
  });

  it("refuses before the window opens and after it ends", async () => {
    const saleId = await openSale({ startsAtMs: NOW + HOUR, endsAtMs: NOW + 2 * HOUR });
    expect(await reserve(saleId, "alice", 1, undefined, NOW)).toMatchObject({
      reason: "SALE_NOT_OPEN",
    });
    expect((await reserve(saleId, "alice", 1, undefined, NOW + HOUR)).kind).toBe("accepted");
    expect(await reserve(saleId, "bob", 1, undefined, NOW + 2 * HOUR)).toMatchObject({
      reason: "SALE_ENDED",
    });
    expect(Number((await saleSnapshot(redis, saleId)).sale.remaining)).toBe(9);
  });

  it("replays an accepted buy with the same idempotency key without reserving again", async () => {
    const saleId = await openSale({ stock: 5, perUserLimit: 5 });
    const first = await reserve(saleId, "alice", 1, "key-1");
    const retry = await reserve(saleId, "alice", 1, "key-1");
    expect(first).toMatchObject({ kind: "accepted", replayed: false });
    expect(retry).toMatchObject({ kind: "accepted", replayed: true });
    if (first.kind !== "accepted" || retry.kind !== "accepted") throw new Error("unreachable");
    expect(retry.orderId).toBe(first.orderId);
    expect(Number((await saleSnapshot(redis, saleId)).sale.remaining)).toBe(4);

    // The key is scoped to its user: another buyer with the same key gets an order of their own.
    const other = await reserve(saleId, "bob", 1, "key-1");
    expect(other.kind === "accepted" && other.orderId !== first.orderId).toBe(true);
  });
});

describe("a resent reserve (its reply lost in a disconnect, ioredis sends it again)", () => {
  it.each([
    ["without an idempotency key", undefined],
    ["with an idempotency key", "key-resend"],
  ])(
    "%s is the same reservation: one unit, reported as fresh so its message is sent",
    async (_label, key) => {
      const saleId = await openSale({ stock: 5, perUserLimit: 5 });
      const request = {
        saleId,
        userId: "alice",
        quantity: 1,
        nowMs: NOW,
        orderId: newOrderId(saleId, randomUUID()),
        idempotencyKey: key,
      };
      const first = await reservations.reserve(request);
      const resent = await reservations.reserve(request);
      expect(first).toMatchObject({ kind: "accepted", orderId: request.orderId, replayed: false });
      expect(resent).toMatchObject({ kind: "accepted", orderId: request.orderId, replayed: false });
      const state = await saleSnapshot(redis, saleId);
      expect(Number(state.sale.remaining)).toBe(4);
      expect(state.buyers).toEqual({ alice: "1" });
    },
  );
});

describe("release-4.lua", () => {
  it("gives units back once, however often it is called", async () => {
    const saleId = await openSale({ stock: 5, perUserLimit: 3 });
    const outcome = await reserve(saleId, "alice", 2, "key-r");
    if (outcome.kind !== "accepted") throw new Error("expected an accepted buy");

    expect(await reservations.release(saleId, outcome.orderId, "alice")).toBe("released");
    expect(await reservations.release(saleId, outcome.orderId, "alice")).toBe("already_released");

    const state = await saleSnapshot(redis, saleId);
    expect(Number(state.sale.remaining)).toBe(5);
    expect(state.buyers.alice).toBeUndefined();
    expect(state.idempotency).toEqual({});
    expect(Number(state.sale.version)).toBe(2);
    // After the release the same idempotency key reserves afresh.
    const retry = await reserve(saleId, "alice", 2, "key-r");
    expect(retry.kind === "accepted" && retry.orderId !== outcome.orderId && !retry.replayed).toBe(
      true,
    );
  });

  it("reports an unknown order without touching the sale", async () => {
    const saleId = await openSale();
    const before = await saleSnapshot(redis, saleId);
    expect(await reservations.release(saleId, newOrderId(saleId, "nope"), "alice")).toBe(
      "unknown_order",
    );
    expect(await saleSnapshot(redis, saleId)).toEqual(before);
  });
});

describe("upsert-sale-1.lua", () => {
  it("creates, then restocks keeping sold units sold, and refuses stock below sold", async () => {
    const id = uniqueSaleId();
    const definition = { id, name: "Drop", stock: 5, perUserLimit: 5, startsAtMs: 0, endsAtMs: 0 };
    expect(await reservations.upsertSale(definition, NOW)).toMatchObject({
      kind: "created",
      remaining: 5,
    });
    expect((await reserve(id, "alice", 3)).kind).toBe("accepted");

    expect(await reservations.upsertSale({ ...definition, stock: 10 }, NOW)).toMatchObject({
      kind: "updated",
      remaining: 7,
    });
    expect(await reservations.upsertSale({ ...definition, stock: 2 }, NOW)).toEqual({
      kind: "stock_below_sold",
      sold: 3,
    });
    const sale = await reservations.getSale(id, NOW);
    expect(sale).toMatchObject({ stock: 10, remaining: 7, sold: 3, status: "open" });
  });
});

describe("key layout", () => {
  it("puts every key of a sale in one Redis Cluster slot", () => {
    const slots = new Set(Object.values(saleKeys("drop-42")).map((key) => calculateSlot(key)));
    expect(slots.size).toBe(1);
  });
});
