import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { insertOrders, PostgresOrderRows } from "../../lambdas/adapters/postgres/order-rows.js";
import { saleKeys } from "../../lambdas/adapters/redis/keys.js";
import {
  RECENT_SALES_CAP,
  RECENT_SALES_KEY,
  RedisRecentSalesIndex,
} from "../../lambdas/adapters/redis/recent-sales-index.js";
import { historyKey, RedisSaleCounters } from "../../lambdas/adapters/redis/sale-counters.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { type SaleStatsDeps, saleStats } from "../../lambdas/domain/sale-stats.js";
import type { SaleStatsView } from "../../lambdas/domain/sale-stats-view.js";
import { localJwtSettings, signLocalToken } from "../../local/auth.js";
import {
  createHttpHost,
  type HttpLambda,
  listen,
  loadRouteHandlers,
} from "../../local/http-host.js";
import { testDb } from "../support/db.js";
import {
  admin,
  buyer,
  createSaleVia,
  invoke,
  testRedis,
  uniqueSaleId,
} from "../support/fixtures.js";

let redis: Redis;
let reservations: RedisSaleStore;
let db: pg.Pool;
let upsertSale: HttpLambda;
let stats: HttpLambda;
let sales: HttpLambda;

beforeAll(async () => {
  redis = testRedis();
  reservations = new RedisSaleStore(redis);
  db = testDb();
  const handlerOf = (module: { handler: unknown }) => module.handler as HttpLambda;
  upsertSale = handlerOf(await import("../../lambdas/handlers/upsert-sale.js"));
  stats = handlerOf(await import("../../lambdas/handlers/admin-sale-stats.js"));
  sales = handlerOf(await import("../../lambdas/handlers/admin-sales.js"));
});
afterAll(async () => {
  await redis.quit();
  await db.end();
});

const T0 = Date.parse("2026-11-25T12:00:00Z");

const createSale = (stock = 10, perUserLimit = 2) =>
  createSaleVia(upsertSale, { name: "Dashboard drop", stock, perUserLimit }, "dash");

async function reserve(saleId: string, userId: string, quantity = 1) {
  const orderId = newOrderId(saleId, randomUUID());
  const outcome = await reservations.reserve({
    saleId,
    userId,
    quantity,
    nowMs: Date.now(),
    orderId,
    idempotencyKey: undefined,
  });
  return { outcome, orderId, userId, quantity };
}

function deps(overrides: Partial<SaleStatsDeps> = {}): SaleStatsDeps & { clock: number } {
  const d: SaleStatsDeps & { clock: number } = {
    clock: T0,
    counters: new RedisSaleCounters(redis),
    orderRows: new PostgresOrderRows(db),
    queueDepths: async () => ({ orders: 3, dlq: 1 }),
    now: (): number => d.clock,
    ...overrides,
  };
  return d;
}

const statsEvent = (saleId: string, claims = admin(), rawQueryString = "") => ({
  routeKey: "GET /admin/sales/{saleId}/stats",
  method: "GET",
  path: `/admin/sales/${saleId}/stats`,
  rawQueryString,
  pathParameters: { saleId },
  claims,
});

describe("saleStats (lambdas/domain/sale-stats.ts)", () => {
  it("reads what reserve-8.lua counted in the reservation call itself", async () => {
    const saleId = await createSale(3, 1);
    await reserve(saleId, "a");
    await reserve(saleId, "b");
    await reserve(saleId, "b"); // limit reached
    await reserve(saleId, "c");
    await reserve(saleId, "d"); // sold out

    const view = (await saleStats(deps(), saleId)) as SaleStatsView;
    expect(view).toMatchObject({
      saleId,
      name: "Dashboard drop",
      status: "sold_out",
      stock: 3,
      remaining: 0,
      sold: 3,
      totals: {
        requests: 5,
        accepted: 3,
        units: 3,
        refused: { SOLD_OUT: 1, LIMIT_REACHED: 1 },
      },
      queues: { orders: 3, dlq: 1 },
      unavailable: [],
    });
    // The first look has nothing to compare with.
    expect(view.rates).toBeNull();
  });

  it("computes rates and windowed percentiles from the difference with the snapshot a window ago", async () => {
    const saleId = await createSale(100, 100);
    const key = saleKeys(saleId).stats;
    await redis.hset(key, { accepted: 10, units: 10, "refused:SOLD_OUT": 0, "lat:5": 10 });
    const d = deps();
    await saleStats(d, saleId);

    // Two seconds later: 20 more accepted, 40 sold-out refusals, a 503, and their latencies.
    await redis.hincrby(key, "accepted", 20);
    await redis.hincrby(key, "units", 20);
    await redis.hincrby(key, "refused:SOLD_OUT", 40);
    await redis.hincrby(key, "errors:SERVICE_UNAVAILABLE", 2);
    await redis.hincrby(key, "lat:1", 58);
    await redis.hincrby(key, "lat:500", 2);
    d.clock = T0 + 2_000;
    const view = (await saleStats(d, saleId)) as SaleStatsView;

    expect(view.rates).toMatchObject({
      windowSeconds: 2,
      requests: 30,
      accepted: 10,
      units: 10,
      refused: { SOLD_OUT: 20 },
      errors: { SERVICE_UNAVAILABLE: 1 },
    });
    // Window: 58 requests <= 1 ms and 2 in (300, 500]; the 10 older ones are not in it.
    // p99 is the 59.4th of 60: 1.4 of the 2 slow ones, 70% into (300, 500].
    expect(view.latency.window).toEqual({ count: 60, p50Ms: expect.any(Number), p99Ms: 440 });
    expect(view.latency.window?.p50Ms).toBeLessThanOrEqual(1);
    expect(view.latency.total?.count).toBe(70);

    // Half a second later the baseline is still the snapshot at least a second old (T0).
    d.clock = T0 + 2_500;
    const soon = (await saleStats(d, saleId)) as SaleStatsView;
    expect(soon.rates?.windowSeconds).toBe(2.5);
    expect(soon.rates?.accepted).toBe(8);
  });

  it("keeps a short history with an expiry, written only for sales that exist", async () => {
    const saleId = await createSale();
    await saleStats(deps(), saleId);
    const ttl = await redis.pttl(historyKey(saleId));
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(120_000);

    const unknown = uniqueSaleId("nope");
    expect(await saleStats(deps(), unknown)).toBeNull();
    expect(await redis.exists(historyKey(unknown), saleKeys(unknown).stats)).toBe(0);
  });

  it("compares order rows in Postgres with the units sold", async () => {
    const saleId = await createSale(10, 5);
    const bought = [
      await reserve(saleId, "a", 2),
      await reserve(saleId, "b"),
      await reserve(saleId, "c"),
    ];
    await insertOrders(
      db,
      bought.slice(0, 2).map((b) => ({
        orderId: b.orderId,
        saleId,
        userId: b.userId,
        quantity: b.quantity,
        reservedAtMs: Date.now(),
      })),
    );
    const view = (await saleStats(deps(), saleId)) as SaleStatsView;
    expect(view.orders).toEqual({
      soldUnits: 4,
      persistedRows: 2,
      persistedUnits: 3,
      inFlightUnits: 1,
    });
  });

  it("shows a failing or slow source as unavailable instead of failing", async () => {
    const saleId = await createSale();
    const broken = await saleStats(
      deps({ queueDepths: () => Promise.reject(new Error("SQS down")) }),
      saleId,
    );
    expect(broken).toMatchObject({ queues: null, unavailable: ["queues"], remaining: 10 });

    const started = Date.now();
    const slow = await saleStats(
      deps({
        queueDepths: () => new Promise(() => {}),
        sourceTimeoutMs: 100,
      }),
      saleId,
    );
    expect(slow?.unavailable).toEqual(["queues"]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});

describe("GET /admin/sales/{saleId}/stats", () => {
  it("shows a hold sale's units held, paid and returned to stock; null holds without a hold", async () => {
    const plain = await createSale(5, 1);
    expect(((await invoke(stats, statsEvent(plain))).body as SaleStatsView).holds).toBeNull();

    const saleId = uniqueSaleId("dash-hold");
    const created = await invoke(upsertSale, {
      routeKey: "POST /sales",
      method: "POST",
      path: "/sales",
      claims: admin(),
      body: JSON.stringify({
        id: saleId,
        name: "Held drop",
        stock: 5,
        perUserLimit: 2,
        price: { amount: 1999, currency: "eur" },
        holdSeconds: 60,
      }),
    });
    expect(created.status).toBe(201);
    await reserve(saleId, "a", 2);
    await reserve(saleId, "b");
    const reply = await invoke(stats, statsEvent(saleId));
    expect(reply.status).toBe(200);
    expect((reply.body as SaleStatsView).holds).toEqual({
      holdSeconds: 60,
      held: 3,
      paid: 0,
      expiredUnits: 0,
    });
  });

  it("answers an admin with the sale's live numbers, queue depths from SQS included", async () => {
    const saleId = await createSale(5, 1);
    await reserve(saleId, "a");
    const reply = await invoke(stats, statsEvent(saleId));
    expect(reply.status).toBe(200);
    expect(reply.headers["cache-control"]).toBe("no-store");
    expect(reply.body).toMatchObject({
      saleId,
      remaining: 4,
      sold: 1,
      totals: { accepted: 1 },
      orders: { soldUnits: 1, persistedRows: 0, inFlightUnits: 1 },
      queues: { orders: expect.any(Number), dlq: expect.any(Number) },
      unavailable: [],
    });
  });

  it.each([
    ["no identity", undefined, 401, "UNAUTHORIZED"],
    ["a buyer without the admin scope", buyer("alice"), 403, "FORBIDDEN"],
  ])("refuses %s", async (_label, claims, status, code) => {
    const saleId = await createSale();
    const reply = await invoke(stats, { ...statsEvent(saleId), claims });
    expect(reply.status).toBe(status);
    expect(reply.body).toMatchObject({ error: { code } });
  });

  it("answers 404 for an unknown sale and 400 for a bad window", async () => {
    const unknown = await invoke(stats, statsEvent(uniqueSaleId("none")));
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ error: { code: "SALE_NOT_FOUND" } });
    const saleId = await createSale();
    expect((await invoke(stats, statsEvent(saleId, admin(), "window=0"))).status).toBe(400);
    expect((await invoke(stats, statsEvent(saleId, admin(), "window=5"))).status).toBe(200);
  });
});

describe("GET /admin/sales", () => {
  const listEvent = (rawQueryString = "", claims = admin()) => ({
    routeKey: "GET /admin/sales",
    method: "GET",
    path: "/admin/sales",
    rawQueryString,
    claims,
  });

  it("lists the sales POST /sales created, newest first, with their stock", async () => {
    const older = await createSale(7);
    await new Promise((resolve) => setTimeout(resolve, 5));
    const newer = await createSale(9);
    await reserve(newer, "a");
    const reply = await invoke(sales, listEvent("limit=2"));
    expect(reply.status).toBe(200);
    const listed = (reply.body as { sales: Array<{ id: string }> }).sales;
    expect(listed.map((s) => s.id)).toEqual([newer, older]);
    expect(listed[0]).toEqual({
      id: newer,
      name: "Dashboard drop",
      status: "open",
      stock: 9,
      remaining: 8,
      sold: 1,
      createdAt: expect.any(String),
    });
  });

  it("keeps a restocked sale in its place, and its size capped", async () => {
    const saleId = await createSale(5);
    const firstSeen = await redis.zscore(RECENT_SALES_KEY, saleId);
    await invoke(upsertSale, {
      routeKey: "POST /sales",
      method: "POST",
      path: "/sales",
      claims: admin(),
      body: JSON.stringify({ id: saleId, name: "Restocked", stock: 50, perUserLimit: 2 }),
    });
    expect(await redis.zscore(RECENT_SALES_KEY, saleId)).toBe(firstSeen);

    for (let i = 0; i < RECENT_SALES_CAP + 5; i++) {
      await new RedisRecentSalesIndex(redis).remember(uniqueSaleId("cap"), Date.now() + i);
    }
    expect(await redis.zcard(RECENT_SALES_KEY)).toBe(RECENT_SALES_CAP);
  });

  it("refuses a caller without the admin scope", async () => {
    expect((await invoke(sales, listEvent("", buyer("alice")))).status).toBe(403);
    expect((await invoke(sales, listEvent("limit=1000"))).status).toBe(400);
  });
});

describe("the stats routes behind the local API Gateway", () => {
  it("require the admin scope", async () => {
    const jwt = localJwtSettings({});
    const server = createHttpHost({ handlers: await loadRouteHandlers(), jwt });
    const base = `http://127.0.0.1:${await listen(server, 0)}`;
    try {
      const saleId = await createSale();
      const get = async (path: string, token?: string) =>
        (
          await fetch(`${base}${path}`, {
            headers: token ? { authorization: `Bearer ${token}` } : {},
          })
        ).status;
      const buyerToken = await signLocalToken({ sub: "alice" }, jwt);
      const adminToken = await signLocalToken({ sub: "ops", scopes: ["admin"] }, jwt);
      for (const path of ["/admin/sales", `/admin/sales/${saleId}/stats`]) {
        expect([await get(path), await get(path, buyerToken), await get(path, adminToken)]).toEqual(
          [401, 403, 200],
        );
      }
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
