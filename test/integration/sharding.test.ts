import { randomUUID } from "node:crypto";
import { Logger } from "@aws-lambda-powertools/logger";
import calculateSlot from "cluster-key-slot";
import type { Redis } from "ioredis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresOrderRows } from "../../lambdas/adapters/postgres/order-rows.js";
import { homeShard, saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { RedisSaleStore, splitStock } from "../../lambdas/adapters/redis/sale-store.js";
import { queueDepth } from "../../lambdas/adapters/sqs/queue-depths.js";
import { persistOrders } from "../../lambdas/domain/persist-orders.js";
import { reconcileSale } from "../../lambdas/domain/reconcile.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { testDb } from "../support/db.js";
import { testRedis, uniqueSaleId } from "../support/fixtures.js";
import { testSqs } from "../support/sqs.js";
import { sqsRecord } from "../support/sqs-records.js";

let redis: Redis;
let reservations: RedisSaleStore;
let db: pg.Pool;
const sqs = testSqs();
const NOW = Date.parse("2026-11-25T12:00:00Z");
const NO_RATE_LIMIT = { burst: 0, perSecond: 1 };

beforeAll(() => {
  redis = testRedis();
  reservations = new RedisSaleStore(redis);
  db = testDb();
});
afterAll(async () => {
  await redis.quit();
  await db.end();
});

async function shardedSale(stock: number, shards: number, perUserLimit = 2) {
  const id = uniqueSaleId("sh");
  const created = await reservations.upsertSale(
    {
      id,
      name: "sharded",
      stock,
      perUserLimit,
      startsAtMs: 0,
      endsAtMs: 0,
      rateLimit: NO_RATE_LIMIT,
      shards,
    },
    NOW,
  );
  expect(created).toMatchObject({ kind: "created", remaining: stock });
  return id;
}

const buy = (saleId: string, userId: string, quantity = 1) =>
  reservations.reserve({
    saleId,
    userId,
    quantity,
    nowMs: NOW,
    orderId: newOrderId(saleId, randomUUID()),
    idempotencyKey: undefined,
  });

async function shardRemaining(saleId: string, shards: number) {
  return Promise.all(
    Array.from({ length: shards }, async (_, s) =>
      Number(await redis.hget(saleKeys(saleId, s).sale, "remaining")),
    ),
  );
}

/** Users whose home shard is `shard`. */
function usersHomedOn(shard: number, shards: number, count: number): string[] {
  const users: string[] = [];
  for (let i = 0; users.length < count; i++)
    if (homeShard(`u${i}`, shards) === shard) users.push(`u${i}`);
  return users;
}

describe("stock sharding", () => {
  it("splits the stock over shards whose keys live in different cluster slots", async () => {
    const saleId = await shardedSale(10, 4);
    expect(await shardRemaining(saleId, 4)).toEqual([3, 3, 2, 2]);
    const slots = new Set([0, 1, 2, 3].map((s) => calculateSlot(saleKeys(saleId, s).sale)));
    expect(slots.size).toBe(4);
    expect(await reservations.getSale(saleId, NOW)).toMatchObject({
      stock: 10,
      remaining: 10,
      sold: 0,
      shards: 4,
      status: "open",
    });
  });

  it("sells exactly the stock under 10,000 concurrent buys from 1,000 users, limit 2 exact", async () => {
    const saleId = await shardedSale(100, 4, 2);
    const outcomes = await Promise.all(
      Array.from({ length: 10_000 }, (_, i) => buy(saleId, `user-${Math.floor(i / 10)}`)),
    );

    expect(outcomes.filter((o) => o.kind === "accepted")).toHaveLength(100);
    expect(await shardRemaining(saleId, 4)).toEqual([0, 0, 0, 0]);
    const held = new Map<string, number>();
    for (let s = 0; s < 4; s++) {
      for (const [user, units] of Object.entries(await redis.hgetall(saleKeys(saleId, s).buyers))) {
        expect(held.has(user)).toBe(false); // a buyer's units are counted on one shard only
        held.set(user, Number(units));
      }
    }
    expect([...held.values()].reduce((a, b) => a + b, 0)).toBe(100);
    expect(Math.max(...held.values())).toBeLessThanOrEqual(2);
    expect(await reservations.getSale(saleId, NOW)).toMatchObject({
      remaining: 0,
      sold: 100,
      status: "sold_out",
    });
  });

  it("is sold out only when every shard is empty: buyers of an empty home shard borrow from the others", async () => {
    const saleId = await shardedSale(3, 3, 1);
    const [a, b, c, d] = usersHomedOn(0, 3, 4) as [string, string, string, string];
    expect((await buy(saleId, a)).kind).toBe("accepted");
    expect((await buy(saleId, b)).kind).toBe("accepted");
    expect((await buy(saleId, c)).kind).toBe("accepted");
    expect(await buy(saleId, d)).toMatchObject({
      kind: "refused",
      reason: "SOLD_OUT",
      uncounted: true,
    });
    expect(await shardRemaining(saleId, 3)).toEqual([0, 0, 0]);
  });

  it("keeps the per-user limit exact when units are borrowed, and gives refused units back", async () => {
    const saleId = await shardedSale(4, 2, 2);
    const [drainer, buyer] = usersHomedOn(0, 2, 2) as [string, string];
    expect((await buy(saleId, drainer, 2)).kind).toBe("accepted"); // empties shard 0
    expect((await buy(saleId, buyer, 2)).kind).toBe("accepted"); // borrows shard 1's two units
    expect(await shardRemaining(saleId, 2)).toEqual([0, 0]);

    await reservations.upsertSale(
      {
        id: saleId,
        name: "sharded",
        stock: 6,
        perUserLimit: 2,
        startsAtMs: 0,
        endsAtMs: 0,
        rateLimit: NO_RATE_LIMIT,
      },
      NOW,
    );
    expect(await shardRemaining(saleId, 2)).toEqual([1, 1]);
    expect(await buy(saleId, buyer)).toMatchObject({ kind: "refused", reason: "LIMIT_REACHED" });
    expect(await shardRemaining(saleId, 2)).toEqual([1, 1]);
  });

  it("gives a released order's units back to the shard they came from", async () => {
    const saleId = await shardedSale(2, 2, 2);
    const [first, second] = usersHomedOn(0, 2, 2) as [string, string];
    await buy(saleId, first);
    const borrowed = await buy(saleId, second); // shard 0 is empty now; the unit comes from shard 1
    if (borrowed.kind !== "accepted") throw new Error("expected a borrowed unit");
    expect(await shardRemaining(saleId, 2)).toEqual([0, 0]);

    expect(await reservations.release(saleId, borrowed.orderId, second)).toBe("released");
    expect(await shardRemaining(saleId, 2)).toEqual([0, 1]);
  });

  it("refuses to change the shard count, and to restock below what the shards sold", async () => {
    const saleId = await shardedSale(4, 2);
    await buy(saleId, "x");
    const definition = { id: saleId, name: "s", perUserLimit: 2, startsAtMs: 0, endsAtMs: 0 };
    expect(await reservations.upsertSale({ ...definition, stock: 4, shards: 3 }, NOW)).toEqual({
      kind: "shards_immutable",
      shards: 2,
    });
    expect(await reservations.upsertSale({ ...definition, stock: 0 }, NOW)).toEqual({
      kind: "stock_below_sold",
      sold: 1,
    });
  });

  it("persists and reconciles a sharded sale like any other", async () => {
    const saleId = await shardedSale(6, 3, 2);
    const messages = [];
    for (const userId of ["p1", "p2", "p3", "p4"]) {
      const outcome = await buy(saleId, userId);
      if (outcome.kind !== "accepted") throw new Error("expected an accepted buy");
      messages.push({
        orderId: outcome.orderId,
        saleId,
        userId,
        quantity: 1,
        reservedAt: new Date(NOW).toISOString(),
      });
    }
    const results = await persistOrders(
      {
        reservations,
        orderRows: new PostgresOrderRows(db),
        now: Date.now,
        logger: new Logger({ logLevel: "SILENT" }),
      },
      messages.map((m) => sqsRecord(m)),
    );
    expect(results.every((r) => r.status === "fulfilled")).toBe(true);
    const report = await reconcileSale(
      {
        reservations,
        orderRows: new PostgresOrderRows(db),
        now: Date.now,
        queueDepths: async () => ({
          orders: await queueDepth(sqs.sqs, sqs.queueUrl),
          dlq: await queueDepth(sqs.sqs, process.env.ORDERS_DLQ_URL ?? ""),
        }),
      },
      saleId,
      { repair: false, graceMs: 0 },
    );
    expect(report).toMatchObject({
      clean: true,
      redis: { stock: 6, sold: 4, confirmed: 4 },
      postgres: { rows: 4 },
    });
  });
});

describe("splitStock", () => {
  it("keeps each shard's sold units and spreads the rest evenly", () => {
    expect(
      splitStock(10, [
        { stock: 0, remaining: 0 },
        { stock: 0, remaining: 0 },
        { stock: 0, remaining: 0 },
      ]),
    ).toEqual([4, 3, 3]);
    expect(
      splitStock(10, [
        { stock: 5, remaining: 1 },
        { stock: 5, remaining: 5 },
      ]),
    ).toEqual([7, 3]);
    expect(
      splitStock(3, [
        { stock: 5, remaining: 1 },
        { stock: 5, remaining: 5 },
      ]),
    ).toBeNull();
  });
});
