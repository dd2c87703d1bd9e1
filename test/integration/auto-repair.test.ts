import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresOrderRows } from "../../lambdas/adapters/postgres/order-rows.js";
import { RedisHoldLedger } from "../../lambdas/adapters/redis/hold-ledger.js";
import { RedisRepairLock } from "../../lambdas/adapters/redis/repair-lock.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { type AutoRepairDeps, autoRepair } from "../../lambdas/domain/auto-repair.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { rowsOfSale, testDb } from "../support/db.js";
import { testRedis, uniqueSaleId } from "../support/fixtures.js";

/**
 * The scheduled repair (lambdas/domain/auto-repair.ts) against real Redis and
 * Postgres: it finishes stale reservations while messages are still queued,
 * leaves young ones, is bounded, and two runs at once do nothing twice.
 */

let redis: Redis;
let db: pg.Pool;
let reservations: RedisSaleStore;

beforeAll(() => {
  redis = testRedis();
  db = testDb();
  reservations = new RedisSaleStore(redis);
});
afterAll(async () => {
  await redis.quit();
  await db.end();
});

const GRACE_MS = 60_000;

/** A sale with `stale` reservations older than the grace period and `young` ones inside it, none sent. */
async function saleWithReservations(stale: number, young: number) {
  const saleId = uniqueSaleId("rep");
  await reservations.upsertSale(
    { id: saleId, name: "repair", stock: 100, perUserLimit: 1, startsAtMs: 0, endsAtMs: 0 },
    Date.now() - 10 * GRACE_MS,
  );
  for (let i = 0; i < stale + young; i++) {
    const outcome = await reservations.reserve({
      saleId,
      userId: `u${i}`,
      quantity: 1,
      nowMs: i < stale ? Date.now() - 2 * GRACE_MS : Date.now(),
      orderId: newOrderId(saleId, randomUUID()),
      idempotencyKey: undefined,
    });
    expect(outcome.kind).toBe("accepted");
  }
  return saleId;
}

function deps(saleId: string, lockKey: string): AutoRepairDeps {
  return {
    reservations,
    payments: new RedisHoldLedger(redis),
    orderRows: new PostgresOrderRows(db),
    now: Date.now,
    // Messages still queued: the scheduled repair does not wait for empty queues.
    queueDepths: async () => ({ orders: 7, dlq: 0 }),
    // Only this test's sale (the shared Redis holds other tests' sales).
    index: { remember: async () => {}, newest: async () => [{ id: saleId, createdAtMs: 0 }] },
    lock: new RedisRepairLock(redis, lockKey),
  };
}

const options = {
  graceMs: GRACE_MS,
  endedWithinMs: 86_400_000,
  maxSales: 50,
  maxRepairs: 500,
  lockTtlMs: 30_000,
};

async function booksOf(saleId: string) {
  const rows = await rowsOfSale(db, saleId);
  const orders = await reservations.listOrders(saleId);
  const sale = await reservations.getSale(saleId, Date.now());
  return {
    rows: rows.length,
    distinctRows: new Set(rows.map((r) => r.order_id)).size,
    reserved: orders.filter((o) => o.state === "reserved").length,
    confirmed: orders.filter((o) => o.state === "confirmed").length,
    remaining: sale?.remaining,
  };
}

describe("scheduled order repair", () => {
  it("two runs at once: one repairs, the other finds the lock taken; a third finds nothing to do", async () => {
    const saleId = await saleWithReservations(30, 2);
    const lockKey = `repair:lock:${saleId}`;
    const [a, b] = await Promise.all([
      autoRepair(deps(saleId, lockKey), options),
      autoRepair(deps(saleId, lockKey), options),
    ]);
    expect([a.outcome, b.outcome].sort()).toEqual(["done", "locked"]);
    const done = a.outcome === "done" ? a : b;
    expect(done).toMatchObject({ staleFound: 30, repaired: 30, backlog: 0, inFlight: 2 });
    expect(await booksOf(saleId)).toEqual({
      rows: 30,
      distinctRows: 30,
      reserved: 2,
      confirmed: 30,
      remaining: 68,
    });
    // The lock was released by its holder: the next run goes ahead and has nothing to do.
    const again = await autoRepair(deps(saleId, lockKey), options);
    expect(again).toMatchObject({ outcome: "done", staleFound: 0, repaired: 0, inFlight: 2 });
    expect((await booksOf(saleId)).rows).toBe(30);
  });

  it("two runs that both get past the lock (it expired under a slow run) still write each order once", async () => {
    const saleId = await saleWithReservations(40, 0);
    const [a, b] = await Promise.all([
      autoRepair(deps(saleId, `repair:lock:${saleId}:a`), options),
      autoRepair(deps(saleId, `repair:lock:${saleId}:b`), options),
    ]);
    expect(a.outcome).toBe("done");
    expect(b.outcome).toBe("done");
    // Each run may report an order it found already confirmed as repaired; the books count it once.
    expect(await booksOf(saleId)).toEqual({
      rows: 40,
      distinctRows: 40,
      reserved: 0,
      confirmed: 40,
      remaining: 60,
    });
  });

  it("is bounded per run: the rest is the backlog the next run takes", async () => {
    const saleId = await saleWithReservations(25, 0);
    const lockKey = `repair:lock:${saleId}`;
    const first = await autoRepair(deps(saleId, lockKey), { ...options, maxRepairs: 10 });
    expect(first).toMatchObject({ staleFound: 25, repaired: 10, backlog: 15 });
    const second = await autoRepair(deps(saleId, lockKey), { ...options, maxRepairs: 10 });
    expect(second).toMatchObject({ staleFound: 15, repaired: 10, backlog: 5 });
    const third = await autoRepair(deps(saleId, lockKey), { ...options, maxRepairs: 10 });
    expect(third).toMatchObject({ staleFound: 5, repaired: 5, backlog: 0 });
    expect(await booksOf(saleId)).toMatchObject({ rows: 25, distinctRows: 25, reserved: 0 });
  });

  it("the lock is released only by its holder's token", async () => {
    const lock = new RedisRepairLock(redis, `repair:lock:${randomUUID()}`);
    const token = await lock.acquire(30_000);
    expect(token).not.toBeNull();
    expect(await lock.acquire(30_000)).toBeNull();
    await lock.release("someone-else");
    expect(await lock.acquire(30_000)).toBeNull();
    await lock.release(token ?? "");
    expect(await lock.acquire(30_000)).not.toBeNull();
  });
});
