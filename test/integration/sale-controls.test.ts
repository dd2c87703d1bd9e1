import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saleKeys } from "../../lambdas/adapters/redis/keys.js";
import type { HttpLambda } from "../../local/http-host.js";
import {
  admin,
  buyEvent,
  buyer,
  createSaleVia,
  invoke,
  saleSnapshot,
  testRedis,
  uniqueSaleId,
} from "../support/fixtures.js";

/**
 * POST /admin/sales/{saleId}/controls beyond pause: close now, change the
 * per-user limit and the rate limit, against the real Redis (and the queue for
 * the buys). Every change binds the very next buy; every refusal changes nothing.
 */
let redis: Redis;
let buy: HttpLambda;
let getSale: HttpLambda;
let upsertSale: HttpLambda;
let controls: HttpLambda;
let stats: HttpLambda;

beforeAll(async () => {
  redis = testRedis();
  const load = (module: { handler: unknown }) => module.handler as unknown as HttpLambda;
  buy = load(await import("../../lambdas/handlers/buy.js"));
  getSale = load(await import("../../lambdas/handlers/get-sale.js"));
  upsertSale = load(await import("../../lambdas/handlers/upsert-sale.js"));
  controls = load(await import("../../lambdas/handlers/admin-sale-controls.js"));
  stats = load(await import("../../lambdas/handlers/admin-sale-stats.js"));
});
afterAll(() => redis.quit());

const createSale = (overrides: Record<string, unknown> = {}) =>
  createSaleVia(upsertSale, { name: "Controls", stock: 50, perUserLimit: 3, ...overrides }, "ctl");

function control(saleId: string, body: unknown, claims: Record<string, string> = admin()) {
  return invoke(controls, {
    routeKey: "POST /admin/sales/{saleId}/controls",
    method: "POST",
    path: `/admin/sales/${saleId}/controls`,
    pathParameters: { saleId },
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
    claims,
  });
}

async function saleOf(saleId: string) {
  const reply = await invoke(getSale, {
    routeKey: "GET /sales/{saleId}",
    method: "GET",
    path: `/sales/${saleId}`,
    pathParameters: { saleId },
  });
  expect(reply.status).toBe(200);
  return reply.body as Record<string, unknown>;
}

async function buyAs(saleId: string, userId: string, quantity = 1) {
  const reply = await invoke(buy, buyEvent(saleId, userId, JSON.stringify({ quantity })));
  return { status: reply.status, code: (reply.body as { error?: { code?: string } }).error?.code };
}

describe("POST /admin/sales/{saleId}/controls: refusals change nothing", () => {
  it("403 without the admin scope, 404 for an unknown sale", async () => {
    const saleId = await createSale();
    const before = await saleSnapshot(redis, saleId);
    const forbidden = await control(saleId, { closeNow: true }, buyer("mallory"));
    expect(forbidden.status).toBe(403);
    expect((forbidden.body as { error: { code: string } }).error.code).toBe("FORBIDDEN");
    expect(await saleSnapshot(redis, saleId)).toEqual(before);

    const unknown = uniqueSaleId("none");
    const missing = await control(unknown, { perUserLimit: 1 });
    expect(missing.status).toBe(404);
    expect(await redis.exists(saleKeys(unknown).sale)).toBe(0);
  });

  it.each([
    ["an empty body", {}],
    ["an unknown field", { perUserLimit: 2, endsAt: "2026-01-01T00:00:00Z" }],
    ["an unknown field inside rateLimit", { rateLimit: { burst: 2, perSecond: 1, x: 1 } }],
    ["perUserLimit 0", { perUserLimit: 0 }],
    ["perUserLimit above 100", { perUserLimit: 101 }],
    ["a fractional perUserLimit", { perUserLimit: 1.5 }],
    ["a negative burst", { rateLimit: { burst: -1, perSecond: 1 } }],
    ["perSecond 0", { rateLimit: { burst: 1, perSecond: 0 } }],
    ["a rateLimit without perSecond", { rateLimit: { burst: 1 } }],
    ["closeNow false", { closeNow: false }],
    ["a valid field beside a bad one", { closeNow: true, perUserLimit: 0 }],
    ["a non-boolean paused", { paused: "yes" }],
  ])("400 for %s, with no state changed", async (_name, body) => {
    const saleId = await createSale();
    const before = await saleSnapshot(redis, saleId);
    const reply = await control(saleId, body);
    expect(reply.status).toBe(400);
    expect((reply.body as { error: { code: string } }).error.code).toBe("INVALID_REQUEST");
    expect(await saleSnapshot(redis, saleId)).toEqual(before);
  });
});

describe("POST /admin/sales/{saleId}/controls: changes bind the next buy", () => {
  it("closeNow: the next buy answers SALE_ENDED, GET /sales shows the end; closing again changes nothing", async () => {
    const saleId = await createSale({ shards: 2 });
    expect((await buyAs(saleId, "early")).status).toBe(202);
    const before = Date.now();
    const closed = await control(saleId, { closeNow: true });
    expect(closed.status).toBe(200);
    const endsAt = Date.parse(String((closed.body as { endsAt: string }).endsAt));
    expect(endsAt).toBeGreaterThanOrEqual(before);
    expect(endsAt).toBeLessThanOrEqual(Date.now());
    expect(closed.body).toMatchObject({ status: "ended" });

    // Every shard holds the end (buyers on either home shard are refused).
    for (const shard of [0, 1])
      expect(Number(await redis.hget(saleKeys(saleId, shard).sale, "endsAt"))).toBe(endsAt);
    for (const user of ["early", "late-1", "late-2", "late-3"])
      expect(await buyAs(saleId, user)).toEqual({ status: 409, code: "SALE_ENDED" });

    const shown = await saleOf(saleId);
    expect(shown).toMatchObject({ status: "ended", endsAt: new Date(endsAt).toISOString() });
    expect(shown.remaining).toBe(49);

    await new Promise((r) => setTimeout(r, 5));
    const again = await control(saleId, { closeNow: true });
    expect(again.status).toBe(200);
    expect((again.body as { endsAt: string }).endsAt).toBe(new Date(endsAt).toISOString());
  });

  it("closeNow racing 300 buys: every 202 holds its unit, nothing is accepted once the close has answered", async () => {
    const saleId = await createSale({ stock: 1_000, perUserLimit: 1 });
    // Buys start one per event-loop turn; the close is sent after the 150th.
    const inFlight: Array<ReturnType<typeof invoke>> = [];
    let closing: ReturnType<typeof control> | undefined;
    for (let i = 0; i < 300; i++) {
      if (i === 150) closing = control(saleId, { closeNow: true });
      inFlight.push(invoke(buy, buyEvent(saleId, `racer-${i}`, JSON.stringify({ quantity: 1 }))));
      await new Promise((resolve) => setImmediate(resolve));
    }
    const closed = await closing;
    expect(closed?.status).toBe(200);
    const after = await Promise.all(
      Array.from({ length: 50 }, (_, i) => buyAs(saleId, `late-${i}`)),
    );
    const replies = await Promise.all(inFlight);
    expect(after.every((r) => r.status === 409 && r.code === "SALE_ENDED")).toBe(true);
    for (const reply of replies) {
      expect([202, 409]).toContain(reply.status);
      if (reply.status === 409) {
        expect((reply.body as { error: { code: string } }).error.code).toBe("SALE_ENDED");
      }
    }
    // The books: exactly the accepted buys hold units, each with its order.
    const accepted = replies.filter((r) => r.status === 202);
    console.info(
      `closeNow race: ${accepted.length} accepted, ${replies.length - accepted.length} SALE_ENDED`,
    );
    expect(accepted.length).toBeGreaterThan(0);
    expect(accepted.length).toBeLessThan(300);
    const state = await saleSnapshot(redis, saleId);
    expect(1_000 - Number(state.sale.remaining)).toBe(accepted.length);
    const orderIds = new Set(Object.keys(state.orders));
    for (const reply of accepted) {
      expect(orderIds.has((reply.body as { orderId: string }).orderId)).toBe(true);
    }
  });

  it("closeNow on a sale not started yet: it reads and refuses as ended", async () => {
    const saleId = await createSale({ startsAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect(await buyAs(saleId, "u")).toEqual({ status: 409, code: "SALE_NOT_OPEN" });
    const closed = await control(saleId, { closeNow: true });
    expect(closed.status).toBe(200);
    expect(closed.body).toMatchObject({ status: "ended" });
    expect(await buyAs(saleId, "u")).toEqual({ status: 409, code: "SALE_ENDED" });
  });

  it("perUserLimit lowered to 1: a buyer holding 1 is refused LIMIT_REACHED, a new buyer gets 1", async () => {
    const saleId = await createSale({ perUserLimit: 3 });
    expect((await buyAs(saleId, "holder")).status).toBe(202);
    const changed = await control(saleId, { perUserLimit: 1 });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ perUserLimit: 1 });
    expect((await saleOf(saleId)).perUserLimit).toBe(1);

    expect(await buyAs(saleId, "holder")).toEqual({ status: 409, code: "LIMIT_REACHED" });
    expect((await buyAs(saleId, "newcomer")).status).toBe(202);
    expect(await buyAs(saleId, "newcomer")).toEqual({ status: 409, code: "LIMIT_REACHED" });
    // Units already bought stay.
    expect(await redis.hget(saleKeys(saleId).buyers, "holder")).toBe("1");
    expect((await saleOf(saleId)).remaining).toBe(48);

    // Raised again: the holder may buy up to the new limit.
    expect((await control(saleId, { perUserLimit: 2 })).status).toBe(200);
    expect((await buyAs(saleId, "holder")).status).toBe(202);
  });

  it("rateLimit: a tighter bucket refuses from the next buy, a looser one lets through", async () => {
    const saleId = await createSale({ perUserLimit: 100, rateLimit: { burst: 10, perSecond: 1 } });
    const changed = await control(saleId, { rateLimit: { burst: 1, perSecond: 0.01 } });
    expect(changed.status).toBe(200);
    expect(changed.body).toMatchObject({ rateLimit: { burst: 1, perSecond: 0.01 } });
    expect((await saleOf(saleId)).rateLimit).toEqual({ burst: 1, perSecond: 0.01 });
    expect((await buyAs(saleId, "clicker")).status).toBe(202);
    expect(await buyAs(saleId, "clicker")).toEqual({ status: 429, code: "RATE_LIMITED" });

    // burst 0 turns the limit off: the same buyer goes through at once.
    expect((await control(saleId, { rateLimit: { burst: 0, perSecond: 1 } })).status).toBe(200);
    for (let i = 0; i < 3; i++) expect((await buyAs(saleId, "clicker")).status).toBe(202);
  });

  it("applies every field given together, pause included", async () => {
    const saleId = await createSale();
    const reply = await control(saleId, {
      paused: true,
      perUserLimit: 5,
      rateLimit: { burst: 7, perSecond: 2 },
    });
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      paused: true,
      perUserLimit: 5,
      rateLimit: { burst: 7, perSecond: 2 },
      status: "open",
    });
    expect(await buyAs(saleId, "u")).toEqual({ status: 409, code: "SALE_PAUSED" });
    // A later call without paused leaves the pause as it is.
    expect((await control(saleId, { perUserLimit: 4 })).body).toMatchObject({ paused: true });
    expect((await control(saleId, { paused: false })).body).not.toHaveProperty("paused");
    expect((await buyAs(saleId, "u")).status).toBe(202);
  });

  it("the dashboard's stats show every change at once", async () => {
    const saleId = await createSale();
    const changed = await control(saleId, {
      closeNow: true,
      perUserLimit: 1,
      rateLimit: { burst: 0, perSecond: 1 },
    });
    expect(changed.status).toBe(200);
    const view = await invoke(stats, {
      routeKey: "GET /admin/sales/{saleId}/stats",
      method: "GET",
      path: `/admin/sales/${saleId}/stats`,
      pathParameters: { saleId },
      claims: admin(),
    });
    expect(view.status).toBe(200);
    expect(view.body).toMatchObject({
      status: "ended",
      endsAt: (changed.body as { endsAt: string }).endsAt,
      perUserLimit: 1,
      rateLimit: { burst: 0, perSecond: 1 },
    });
  });
});
