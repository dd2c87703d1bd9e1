import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { localJwtSettings, signLocalToken } from "../../local/auth.js";
import { createHttpHost, listen, loadRouteHandlers } from "../../local/http-host.js";
import { saleSnapshot, testRedis, uniqueSaleId } from "../support/fixtures.js";

let redis: Redis;
let reservations: RedisSaleStore;
let server: Server;
let base: string;
const jwt = localJwtSettings({});
const NOW = Date.parse("2026-11-25T12:00:00Z");

beforeAll(async () => {
  redis = testRedis();
  reservations = new RedisSaleStore(redis);
  server = createHttpHost({ handlers: await loadRouteHandlers(), jwt });
  base = `http://127.0.0.1:${await listen(server, 0)}`;
});
afterAll(async () => {
  await redis.quit();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

async function call(method: string, path: string, token?: string, body?: unknown) {
  const response = await fetch(`${base}${path}`, {
    method,
    headers: token ? { authorization: `Bearer ${token}` } : {},
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: response.status, headers: response.headers, body: await response.json() };
}

const adminToken = () => signLocalToken({ sub: "ops", scopes: ["admin"] }, jwt);
const buyerToken = (sub = `buyer-${randomUUID().slice(0, 6)}`) => signLocalToken({ sub }, jwt);

async function createSale(body: Record<string, unknown> = {}) {
  const id = uniqueSaleId("p");
  const reply = await call("POST", "/sales", await adminToken(), {
    id,
    name: "p",
    stock: 100,
    perUserLimit: 10,
    ...body,
  });
  expect(reply.status).toBe(201);
  return id;
}

describe("per-buyer rate limit (token bucket in reserve-8.lua)", () => {
  it("lets a burst through, refuses the next request with a wait, and refills over time", async () => {
    const saleId = uniqueSaleId("rl");
    await reservations.upsertSale(
      {
        id: saleId,
        name: "r",
        stock: 100,
        perUserLimit: 100,
        startsAtMs: 0,
        endsAtMs: 0,
        rateLimit: { burst: 3, perSecond: 2 },
      },
      NOW,
    );
    const attempt = (nowMs: number) =>
      reservations.reserve({
        saleId,
        userId: "eve",
        quantity: 1,
        nowMs,
        orderId: newOrderId(saleId, randomUUID()),
        idempotencyKey: undefined,
      });

    const burst = [await attempt(NOW), await attempt(NOW), await attempt(NOW)];
    expect(burst.map((o) => o.kind)).toEqual(["accepted", "accepted", "accepted"]);
    expect(await attempt(NOW)).toEqual({ kind: "rate_limited", retryAfterMs: 500 });
    expect((await attempt(NOW + 500)).kind).toBe("accepted");
    // Another buyer has a bucket of their own.
    expect(
      (
        await reservations.reserve({
          saleId,
          userId: "bob",
          quantity: 1,
          nowMs: NOW,
          orderId: newOrderId(saleId, randomUUID()),
          idempotencyKey: undefined,
        })
      ).kind,
    ).toBe("accepted");
    expect(Number((await saleSnapshot(redis, saleId)).sale.remaining)).toBe(95);
  });

  it("answers 429 with Retry-After over HTTP and reserves nothing for the refused request", async () => {
    const saleId = await createSale({ rateLimit: { burst: 2, perSecond: 0.5 } });
    const token = await buyerToken();
    expect((await call("POST", `/sales/${saleId}/buy`, token)).status).toBe(202);
    expect((await call("POST", `/sales/${saleId}/buy`, token)).status).toBe(202);
    const before = await saleSnapshot(redis, saleId);

    const limited = await call("POST", `/sales/${saleId}/buy`, token);
    expect(limited.status).toBe(429);
    expect(limited.headers.get("retry-after")).toBe("2");
    expect(limited.body).toEqual({ error: { code: "RATE_LIMITED", message: expect.any(String) } });
    const after = await saleSnapshot(redis, saleId);
    expect({ ...after, sale: { ...after.sale } }).toEqual(before);
  });

  it("never hurts a human: five quick clicks under the default limit get no 429", async () => {
    const saleId = await createSale({ perUserLimit: 1 });
    const token = await buyerToken();
    const statuses = [];
    for (let i = 0; i < 5; i++)
      statuses.push((await call("POST", `/sales/${saleId}/buy`, token)).status);
    expect(statuses).toEqual([202, 409, 409, 409, 409]);
  });
});

describe("admin routes", () => {
  it.each([
    ["POST", "/sales"],
    ["POST", "/admin/sales/x/reconcile"],
    ["POST", "/admin/redrive"],
  ])("%s %s: 401 without a token, 403 without the admin scope", async (method, path) => {
    expect((await call(method, path)).status).toBe(401);
    const reply = await call(method, path, await buyerToken(), {});
    expect(reply.status).toBe(403);
    // The JWT authorizer refuses a missing scope itself, with API Gateway's own body.
    expect(reply.body).toEqual({ message: "Forbidden" });
  });

  it("reconcile and redrive answer an admin", async () => {
    const saleId = await createSale();
    const report = await call("POST", `/admin/sales/${saleId}/reconcile`, await adminToken(), {
      repair: false,
    });
    expect(report.status).toBe(200);
    expect(report.body).toMatchObject({
      saleId,
      redis: { stock: 100, remaining: 100 },
      postgres: { rows: 0 },
    });
    const redrive = await call("POST", "/admin/redrive", await adminToken(), { max: 10 });
    expect(redrive.status).toBe(200);
    expect(redrive.body).toMatchObject({
      moved: expect.any(Number),
      skipped: expect.any(Number),
      failed: 0,
    });
  });

  it("refuses a token whose admin scope is only in the body", async () => {
    const reply = await call("POST", "/sales", await buyerToken(), {
      id: uniqueSaleId(),
      name: "x",
      stock: 1,
      perUserLimit: 1,
      scope: "admin",
    });
    expect(reply.status).toBe(403);
  });
});
