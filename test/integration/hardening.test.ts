import { randomUUID } from "node:crypto";
import type { Server } from "node:http";
import { PurgeQueueCommand } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse } from "aws-lambda";
import type { Redis } from "ioredis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { localJwtSettings, signLocalToken } from "../../local/auth.js";
import {
  createHttpHost,
  type HttpLambda,
  listen,
  loadRouteHandlers,
} from "../../local/http-host.js";
import { lambdaContext } from "../../local/lambda-context.js";
import type { SqsLambda } from "../../local/sqs-event-source.js";
import { rowsOfSale, testDb } from "../support/db.js";
import {
  admin,
  buyEvent,
  createSaleVia,
  invoke,
  saleSnapshot,
  testRedis,
  uniqueSaleId,
} from "../support/fixtures.js";
import { testSqs } from "../support/sqs.js";
import { orderMessage, sqsEvent, sqsRecord } from "../support/sqs-records.js";

/**
 * Regression tests for what hostile input, AWS-only faults and bad data did
 * to the promises (see the hardening issue): each case failed before its fix.
 */

let redis: Redis;
let db: pg.Pool;
let reservations: RedisSaleStore;
let buy: HttpLambda;
let upsertSale: HttpLambda;
let reconcile: HttpLambda;
let consume: SqsLambda;

beforeAll(async () => {
  redis = testRedis();
  db = testDb();
  reservations = new RedisSaleStore(redis);
  buy = (await import("../../lambdas/handlers/buy.js")).handler as unknown as HttpLambda;
  upsertSale = (await import("../../lambdas/handlers/upsert-sale.js"))
    .handler as unknown as HttpLambda;
  reconcile = (await import("../../lambdas/handlers/admin-reconcile.js"))
    .handler as unknown as HttpLambda;
  consume = (await import("../../lambdas/handlers/consume-orders.js"))
    .handler as unknown as SqsLambda;
});
afterAll(async () => {
  await redis.quit();
  await db.end();
});

const createSale = (fields: Record<string, unknown> = {}) =>
  createSaleVia(upsertSale, { name: "Hardening", ...fields }, "h");

const consumeRecords = async (records: ReturnType<typeof sqsRecord>[]) =>
  (await consume(sqsEvent(records), lambdaContext("consume-orders"))) as SQSBatchResponse;

describe("the buy path refuses identities no later stage could finish", () => {
  it.each([
    ["NUL", "buyer\u0000x"],
    ["a newline", "buyer\nx"],
    ["a lone surrogate", "buyer\ud800"],
    ["257 characters", "b".repeat(257)],
  ])("a sub with %s: 401 INVALID_IDENTITY, and Redis is unchanged", async (_, sub) => {
    const saleId = await createSale();
    const before = await saleSnapshot(redis, saleId);
    const reply = await invoke(buy, buyEvent(saleId, sub, JSON.stringify({ quantity: 1 })));
    expect(reply.status).toBe(401);
    expect(reply.body).toMatchObject({ error: { code: "INVALID_IDENTITY" } });
    expect(await saleSnapshot(redis, saleId)).toEqual(before);
  });

  it("a sub outside the Basic Multilingual Plane is a buyer like any other: 202, then one row", async () => {
    const saleId = await createSale();
    const sub = `🎟️𝄞-${randomUUID().slice(0, 6)}`;
    const reply = await invoke(buy, buyEvent(saleId, sub, JSON.stringify({ quantity: 1 })));
    expect(reply.status).toBe(202);
    const orderId = (reply.body as { orderId: string }).orderId;
    const message = {
      orderId,
      saleId,
      userId: sub,
      quantity: 1,
      reservedAt: new Date().toISOString(),
    };
    expect(await consumeRecords([sqsRecord(message)])).toEqual({ batchItemFailures: [] });
    expect(await rowsOfSale(db, saleId)).toEqual([
      { order_id: orderId, user_id: sub, quantity: 1 },
    ]);
  });
});

describe("the local API Gateway", () => {
  let server: Server;
  let url: string;
  beforeAll(async () => {
    server = createHttpHost({ handlers: await loadRouteHandlers(), jwt: localJwtSettings({}) });
    url = `http://127.0.0.1:${await listen(server, 0)}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("answers GET /orders/<id with NUL or control characters> with a 4xx, never a 500", async () => {
    const token = await signLocalToken({ sub: "alice" }, localJwtSettings({}));
    for (const path of ["/orders/x%00", "/orders/s1.%00%01", "/orders/a%0Ab"]) {
      const reply = await fetch(`${url}${path}`, { headers: { authorization: `Bearer ${token}` } });
      expect(reply.status, path).toBe(400);
      expect(await reply.json()).toMatchObject({ error: { code: "INVALID_REQUEST" } });
    }
  });

  it("refuses a token whose sub is not a string (401), before any reservation", async () => {
    const saleId = await createSale();
    const { SignJWT } = await import("jose");
    const { createSecretKey } = await import("node:crypto");
    const key = createSecretKey(Buffer.from(localJwtSettings({}).secret, "utf8"));
    for (const sub of [4242, ["a", "b"], { id: 1 }, true]) {
      const token = await new SignJWT({ sub } as never)
        .setProtectedHeader({ alg: "HS256" })
        .setExpirationTime("1h")
        .sign(key);
      const reply = await fetch(`${url}/sales/${saleId}/buy`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: "{}",
      });
      expect(reply.status, JSON.stringify(sub)).toBe(401);
    }
    expect((await saleSnapshot(redis, saleId)).orders).toEqual({});
  });
});

describe("an idempotent retry of an accepted buy gets its order back at any moment", () => {
  it("after the sale sold out (even once this container remembers it is sold out), after it ended, and past the rate limit", async () => {
    const saleId = await createSale({
      stock: 1,
      perUserLimit: 1,
      rateLimit: { burst: 1, perSecond: 0.001 },
    });
    const key = `k-${randomUUID()}`;
    const first = await invoke(buy, buyEvent(saleId, "alice", "{}", { "idempotency-key": key }));
    expect(first.status).toBe(202);
    const orderId = (first.body as { orderId: string }).orderId;
    // Another buyer's refusal teaches this container the sale is sold out.
    const bob = await invoke(buy, buyEvent(saleId, "bob", "{}"));
    expect(bob.status, JSON.stringify(bob.body)).toBe(409);
    expect((await invoke(buy, buyEvent(saleId, "carol", "{}"))).body).toMatchObject({
      error: { code: "SOLD_OUT" },
    });
    // alice's bucket is empty (burst 1), yet her retry is answered.
    const sold = await invoke(buy, buyEvent(saleId, "alice", "{}", { "idempotency-key": key }));
    expect(sold).toMatchObject({ status: 202, body: { orderId } });

    await redis.hset(saleKeys(saleId).sale, "endsAt", String(Date.now() - 1));
    const ended = await invoke(buy, buyEvent(saleId, "alice", "{}", { "idempotency-key": key }));
    expect(ended).toMatchObject({ status: 202, body: { orderId } });
    // A new key from the same buyer is a new buy, refused as before (her bucket is empty).
    const other = await invoke(
      buy,
      buyEvent(saleId, "alice", "{}", { "idempotency-key": `${key}-2` }),
    );
    expect(other.body).toMatchObject({ error: { code: "RATE_LIMITED" } });
  });
});

describe("the consumer checks a message against what it claims", () => {
  it("refuses to restore an order Redis does not know beyond the sale's stock and limit: the record fails (to the DLQ), stock is untouched, reconcile names it", async () => {
    const saleId = await createSale({ stock: 2, perUserLimit: 2 });
    const before = await redis.hgetall(saleKeys(saleId).sale);
    const forged = { ...orderMessage(saleId, "mallory"), quantity: 50 };
    const overLimit = orderMessage(saleId, "mallory");
    overLimit.quantity = 3;
    const reply = await consumeRecords([
      sqsRecord(forged, "m-forged"),
      sqsRecord(overLimit, "m-limit"),
    ]);
    expect(reply.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([
      "m-forged",
      "m-limit",
    ]);
    expect(await redis.hgetall(saleKeys(saleId).sale)).toEqual(before);
    expect(await redis.hgetall(saleKeys(saleId).buyers)).toEqual({});
    expect(await rowsOfSale(db, saleId)).toEqual([]);

    const report = await invoke(reconcile, {
      routeKey: "POST /admin/sales/{saleId}/reconcile",
      method: "POST",
      path: `/admin/sales/${saleId}/reconcile`,
      pathParameters: { saleId },
      body: JSON.stringify({ repair: true, graceSeconds: 0 }),
      claims: admin(),
    });
    expect(report.status).toBe(200);
    const issues = (report.body as { issues: Array<{ kind: string; orderId: string }> }).issues;
    expect(
      issues
        .filter((i) => i.kind === "RESTORE_REJECTED")
        .map((i) => i.orderId)
        .sort(),
    ).toEqual([forged.orderId, overLimit.orderId].sort());
  });

  it("restores an order Redis lost when the sale allows it", async () => {
    const saleId = await createSale({ stock: 2, perUserLimit: 2 });
    const lost = orderMessage(saleId, "dora");
    expect(await consumeRecords([sqsRecord(lost)])).toEqual({ batchItemFailures: [] });
    expect(await redis.hget(saleKeys(saleId).sale, "remaining")).toBe("1");
    expect((await rowsOfSale(db, saleId)).map((r) => r.order_id)).toEqual([lost.orderId]);
  });

  it("refuses a message whose buyer or quantity differ from the reservation it names", async () => {
    const saleId = await createSale({ stock: 5, perUserLimit: 5 });
    const message = orderMessage(saleId, "erin");
    await reservations.reserve({
      saleId,
      userId: "erin",
      quantity: 1,
      nowMs: Date.now(),
      orderId: message.orderId,
      idempotencyKey: undefined,
    });
    const reply = await consumeRecords([
      sqsRecord({ ...message, quantity: 4 }, "m-quantity"),
      sqsRecord({ ...message, userId: "mallory" }, "m-buyer"),
    ]);
    expect(reply.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual([
      "m-buyer",
      "m-quantity",
    ]);
    expect(await rowsOfSale(db, saleId)).toEqual([]);
    expect(await consumeRecords([sqsRecord(message)])).toEqual({ batchItemFailures: [] });
    expect(await rowsOfSale(db, saleId)).toEqual([
      { order_id: message.orderId, user_id: "erin", quantity: 1 },
    ]);
  });
});

describe("one order Postgres refuses fails alone", () => {
  const refusedPrefix = `pg-refuses-${randomUUID().slice(0, 6)}`;
  beforeAll(async () => {
    // A real refusal by Postgres of one row's data, as NUL in a text column was.
    await db.query(`
      CREATE OR REPLACE FUNCTION refuse_marked_orders() RETURNS trigger AS $$
      BEGIN
        IF NEW.user_id LIKE '${refusedPrefix}%' THEN
          RAISE EXCEPTION 'refused for the test' USING ERRCODE = '22021';
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await db.query(
      "CREATE TRIGGER refuse_marked_orders BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse_marked_orders()",
    );
  });
  afterAll(async () => {
    await db.query("DROP TRIGGER IF EXISTS refuse_marked_orders ON orders");
    await db.query("DROP FUNCTION IF EXISTS refuse_marked_orders()");
  });

  async function reserved(saleId: string, userId: string) {
    const message = orderMessage(saleId, userId);
    const outcome = await reservations.reserve({
      saleId,
      userId,
      quantity: 1,
      nowMs: Date.parse(message.reservedAt),
      orderId: message.orderId,
      idempotencyKey: undefined,
    });
    expect(outcome.kind).toBe("accepted");
    return message;
  }

  it("in the consumer: its batch-mates are rows after the first delivery; only it is reported", async () => {
    const saleId = await createSale({
      stock: 10,
      perUserLimit: 1,
      rateLimit: { burst: 0, perSecond: 1 },
    });
    const good = await Promise.all(
      ["a", "b", "c", "d"].map((u) => reserved(saleId, `ordinary-${u}`)),
    );
    const bad = await reserved(saleId, `${refusedPrefix}-x`);
    const records = [...good.slice(0, 2), bad, ...good.slice(2)].map((m) =>
      sqsRecord(m, `m-${m.userId}`),
    );
    const reply = await consumeRecords(records);
    expect(reply.batchItemFailures).toEqual([{ itemIdentifier: `m-${bad.userId}` }]);
    expect((await rowsOfSale(db, saleId)).map((r) => r.order_id).sort()).toEqual(
      good.map((m) => m.orderId).sort(),
    );
    // A redelivery of the whole batch changes nothing for the others and fails the bad one again.
    expect(await consumeRecords(records)).toEqual({
      batchItemFailures: [{ itemIdentifier: `m-${bad.userId}` }],
    });
    expect(await rowsOfSale(db, saleId)).toHaveLength(4);
  });

  it("in reconcile --repair (admin route): 200, the others are repaired, the bad one is reported", async () => {
    // Reconcile repairs only once nothing is left in the queues.
    const queues = testSqs();
    await queues.purge();
    await queues.sqs.send(new PurgeQueueCommand({ QueueUrl: process.env.ORDERS_DLQ_URL }));
    const saleId = await createSale({
      stock: 10,
      perUserLimit: 1,
      rateLimit: { burst: 0, perSecond: 1 },
    });
    const good = await Promise.all(["a", "b"].map((u) => reserved(saleId, `stale-${u}`)));
    const bad = await reserved(saleId, `${refusedPrefix}-y`);
    // An order recorded before the buyer-id contract existed (NUL in its buyer id).
    const legacyId = newOrderId(saleId, randomUUID());
    await redis.reserve(
      ...(Object.values(saleKeys(saleId)).slice(0, 4) as [string, string, string, string]),
      `${saleKeys(saleId).sale}:rate:legacy`,
      saleKeys(saleId).stats,
      saleKeys(saleId).holds,
      saleKeys(saleId).events,
      "legacy\u0000buyer",
      1,
      Date.now() - 60_000,
      legacyId,
      "",
      "",
      "",
    );
    const reply = await invoke(reconcile, {
      routeKey: "POST /admin/sales/{saleId}/reconcile",
      method: "POST",
      path: `/admin/sales/${saleId}/reconcile`,
      pathParameters: { saleId },
      body: JSON.stringify({ repair: true, graceSeconds: 0 }),
      claims: admin(),
    });
    expect(reply.status).toBe(200);
    const issues = (
      reply.body as { issues: Array<{ kind: string; orderId: string; repaired: boolean }> }
    ).issues;
    const byOrder = new Map(issues.map((i) => [i.orderId, i]));
    for (const message of good) {
      expect(byOrder.get(message.orderId)).toMatchObject({
        kind: "STALE_RESERVATION",
        repaired: true,
      });
    }
    expect(byOrder.get(bad.orderId)).toMatchObject({
      kind: "UNPERSISTABLE_ORDER",
      repaired: false,
    });
    expect(byOrder.get(legacyId)).toMatchObject({ kind: "UNPERSISTABLE_ORDER", repaired: false });
    expect((await rowsOfSale(db, saleId)).map((r) => r.order_id).sort()).toEqual(
      good.map((m) => m.orderId).sort(),
    );
  });
});

describe("sale windows", () => {
  it.each([
    [{ endsAt: "1960-01-01T00:00:00Z" }],
    [{ startsAt: "2030-01-01T00:00:00Z", endsAt: "1970-01-01T00:00:00Z" }],
    [{ startsAt: "2030-01-01T00:00:00Z", endsAt: "2030-01-01T00:00:00Z" }],
  ])("POST /sales refuses %j with 400 and creates nothing", async (window) => {
    const id = uniqueSaleId("w");
    const reply = await invoke(upsertSale, {
      routeKey: "POST /sales",
      method: "POST",
      path: "/sales",
      body: JSON.stringify({ id, name: "Window", stock: 1, perUserLimit: 1, ...window }),
      claims: admin(),
    });
    expect(reply.status).toBe(400);
    expect(await redis.exists(saleKeys(id).sale)).toBe(0);
  });
});
