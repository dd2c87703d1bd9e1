import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresOrderRows } from "../../lambdas/adapters/postgres/order-rows.js";
import { RedisHoldLedger } from "../../lambdas/adapters/redis/hold-ledger.js";
import { HOLD_SALES_KEY, saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { sweepHolds } from "../../lambdas/domain/expire-holds.js";
import type { OrderEvent } from "../../lambdas/domain/order.js";
import { encodeOrderMessage, eventMessageOf } from "../../lambdas/domain/order-message.js";
import { formatReport, reconcileSale } from "../../lambdas/domain/reconcile.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import type { HttpLambda } from "../../local/http-host.js";
import { lambdaContext } from "../../local/lambda-context.js";
import type { SqsLambda } from "../../local/sqs-event-source.js";
import { testDb } from "../support/db.js";
import { admin, buyEvent, buyer, invoke, testRedis, uniqueSaleId } from "../support/fixtures.js";
import { testSqs } from "../support/sqs.js";
import { sqsEvent, sqsRecord } from "../support/sqs-records.js";

const silent = { debug() {}, info() {}, warn() {}, error() {} };

let redis: Redis;
let store: RedisSaleStore;
let ledger: RedisHoldLedger;
let db: pg.Pool;

beforeAll(() => {
  redis = testRedis();
  store = new RedisSaleStore(redis);
  ledger = new RedisHoldLedger(redis);
  db = testDb();
});
afterAll(async () => {
  await redis.quit();
  await db.end();
});

const T0 = Date.parse("2026-11-25T12:00:00Z");
const PRICE = { amount: 2500, currency: "eur" };

async function holdSale(stock: number, holdSeconds: number, perUserLimit = 1, nowMs = T0) {
  const id = uniqueSaleId("hold");
  await store.upsertSale(
    {
      id,
      name: "Hold drop",
      stock,
      perUserLimit,
      startsAtMs: 0,
      endsAtMs: 0,
      rateLimit: { burst: 0, perSecond: 1 },
      price: PRICE,
      holdSeconds,
    },
    nowMs,
  );
  return id;
}

const reserve = (saleId: string, userId: string, nowMs: number, quantity = 1) =>
  store.reserve({
    saleId,
    userId,
    quantity,
    nowMs,
    orderId: newOrderId(saleId, randomUUID()),
    idempotencyKey: undefined,
  });

async function counts(saleId: string) {
  const [stock = 0, remaining = 0, held = 0, paid = 0] = (
    await redis.hmget(saleKeys(saleId).sale, "stock", "remaining", "held", "paid")
  ).map(Number);
  return { stock, remaining, held, paid };
}

describe("holds in Redis (reserve-8, expire-holds-6, pay-7)", () => {
  it("keeps a sale without a hold exactly as before: no hold fields, no held order", async () => {
    const id = uniqueSaleId("plain");
    await store.upsertSale(
      { id, name: "Plain", stock: 3, perUserLimit: 1, startsAtMs: 0, endsAtMs: 0 },
      T0,
    );
    const accepted = await reserve(id, "u1", T0);
    expect(accepted).toMatchObject({ kind: "accepted" });
    expect(accepted.kind === "accepted" && accepted.hold).toBeUndefined();
    const hash = await redis.hgetall(saleKeys(id).sale);
    expect(Object.keys(hash)).not.toEqual(expect.arrayContaining(["holdSeconds"]));
    expect(hash.held).toBeUndefined();
    const sale = await store.getSale(id, T0);
    expect(sale).not.toHaveProperty("holdSeconds");
    expect(sale).not.toHaveProperty("price");
  });

  it("1,000 held orders, payments timed around their expiry: each ends paid xor expired, the books balance at every sample, expired units sell again, no oversell", async () => {
    const HOLD = 60;
    const STOCK = 1000;
    const saleId = await holdSale(STOCK, HOLD);
    // Bought over 4 s, so the holds end over 4 s too.
    const boughtAt = (i: number) => T0 + (i % 40) * 100;
    const first = await Promise.all(
      Array.from({ length: STOCK }, (_, i) => reserve(saleId, `b-${i}`, boughtAt(i))),
    );
    const orders = first.map((o) => {
      if (o.kind !== "accepted" || !o.hold) throw new Error("expected a hold");
      return o;
    });
    expect(orders.every((o, i) => o.hold?.expiresAtMs === boughtAt(i) + HOLD * 1000)).toBe(true);
    expect(await reserve(saleId, "late-comer", T0 + 4000)).toMatchObject({ reason: "SOLD_OUT" });

    // Each order's payment comes between 2 s before and 2 s after its hold ends
    // (a third of them never); sweeps and new buyers run in the same steps.
    const expiresAtOf = (i: number) => boughtAt(i) + HOLD * 1000;
    const payAt = orders.map((_, i) =>
      i % 3 === 2 ? null : expiresAtOf(i) - 2000 + ((i * 7919) % 4001),
    );
    const expiresAt = T0 + HOLD * 1000;
    const outcomes = new Map<string, string>();
    let resold = 0;
    let newBuyer = 0;
    const samples: Array<Awaited<ReturnType<typeof counts>>> = [];
    for (let t = expiresAt - 2000; t <= expiresAt + 6100; t += 100) {
      const due = orders.flatMap((o, i) => {
        const at = payAt[i] ?? null;
        return at !== null && at >= t - 100 && at < t ? [{ o, at }] : [];
      });
      const work: Array<Promise<unknown>> = due.map(({ o, at }) =>
        ledger
          .pay({ orderId: o.orderId, saleId, ...PRICE, reference: `pi_${o.orderId}`, nowMs: at })
          .then((outcome) => outcomes.set(o.orderId, outcome)),
      );
      if ((t / 100) % 5 === 0) work.push(ledger.expireDue(saleId, t, 500));
      for (let n = 0; n < 20; n++) {
        work.push(
          reserve(saleId, `again-${newBuyer++}`, t).then((o) => {
            if (o.kind === "accepted") resold++;
          }),
        );
      }
      await Promise.all(work);
      const c = await counts(saleId);
      samples.push(c);
    }
    await ledger.expireDue(saleId, expiresAt + 10_000, 5000);
    // Buyers keep coming until the returned units are all sold again.
    for (;;) {
      const o = await reserve(saleId, `again-${newBuyer++}`, expiresAt + 10_000);
      if (o.kind !== "accepted") break;
      resold++;
    }

    for (const c of samples) {
      expect(c.paid + c.held + c.remaining).toBe(STOCK);
      expect(c.remaining).toBeGreaterThanOrEqual(0);
    }
    const records = await store.listOrders(saleId);
    const originals = new Set(orders.map((o) => o.orderId));
    const finals = records.filter((r) => originals.has(r.orderId)).map((r) => r.payment?.state);
    const paid = finals.filter((s) => s === "paid").length;
    const expired = finals.filter((s) => s === "expired" || s === "refund_due").length;
    expect(paid + expired).toBe(STOCK);
    // Paid in time: every payment before expiresAt; late ones are refund_due.
    const inTime = payAt.filter((at, i) => at !== null && at < expiresAtOf(i)).length;
    expect(paid).toBe(inTime);
    expect(finals.filter((s) => s === "refund_due").length).toBe(
      payAt.filter((at, i) => at !== null && at >= expiresAtOf(i)).length,
    );
    // Every unit an expired hold gave back was bought again (demand exceeded it), none twice.
    const end = await counts(saleId);
    expect(resold).toBe(expired);
    expect(end.remaining).toBe(0);
    expect(end.paid + end.held).toBe(STOCK);
    const holding = records.filter((r) => r.payment?.state === "held").length;
    expect(holding).toBe(resold);
    process.stdout.write(
      `holds: ${STOCK} orders, ${paid} paid, ${expired} expired (${finals.filter((s) => s === "refund_due").length} paid late: refund due), ${resold} units sold again\n`,
    );
  }, 120_000);

  it("a returned unit is buyable the moment a buyer asks: the reserve itself expires due holds", async () => {
    const saleId = await holdSale(1, 1, 1, Date.now());
    const held = await reserve(saleId, "first", Date.now());
    expect(held.kind).toBe("accepted");
    const expiresAtMs = held.kind === "accepted" ? (held.hold?.expiresAtMs ?? 0) : 0;
    let accepted = false;
    let at = 0;
    while (!accepted) {
      const now = Date.now();
      const o = await reserve(saleId, "second", now);
      accepted = o.kind === "accepted";
      at = now;
      if (!accepted) await new Promise((r) => setTimeout(r, 20));
    }
    const lag = at - expiresAtMs;
    expect(lag).toBeGreaterThanOrEqual(0);
    expect(lag).toBeLessThan(200);
    process.stdout.write(
      `holds: unit back on sale ${lag} ms after its hold ended (buyer retrying every 20 ms)\n`,
    );
  });

  it("the per-user limit counts held and paid units, not expired ones", async () => {
    const saleId = await holdSale(10, 60, 2);
    expect((await reserve(saleId, "u", T0)).kind).toBe("accepted");
    const second = await reserve(saleId, "u", T0);
    expect(second.kind).toBe("accepted");
    if (second.kind !== "accepted") return;
    await ledger.pay({ orderId: second.orderId, saleId, ...PRICE, reference: "pi", nowMs: T0 + 1 });
    expect(await reserve(saleId, "u", T0 + 2)).toMatchObject({ reason: "LIMIT_REACHED" });
    // The first (unpaid) hold expires: one unit of the limit is free again, the paid one is not.
    expect((await reserve(saleId, "u", T0 + 61_000)).kind).toBe("accepted");
    expect(await reserve(saleId, "u", T0 + 61_001)).toMatchObject({ reason: "LIMIT_REACHED" });
  });

  it("refuses a hold without a price, and on a sharded sale", async () => {
    const { saleDefinitionSchema } = await import("../../lambdas/http/schemas.js");
    const base = { id: "x", name: "x", stock: 1, perUserLimit: 1 };
    expect(saleDefinitionSchema.safeParse({ ...base, holdSeconds: 60 }).success).toBe(false);
    expect(
      saleDefinitionSchema.safeParse({ ...base, holdSeconds: 60, price: PRICE, shards: 2 }).success,
    ).toBe(false);
    expect(
      saleDefinitionSchema.safeParse({ ...base, holdSeconds: 3601, price: PRICE }).success,
    ).toBe(false);
  });
});

describe("the sweeper (sweepHolds)", () => {
  it("expires holds no buyer touches, exactly once, and hands their history to the queue", async () => {
    const saleId = await holdSale(5, 30);
    const accepted = await Promise.all([0, 1, 2].map((i) => reserve(saleId, `s-${i}`, T0)));
    const [a] = accepted;
    if (a?.kind !== "accepted") throw new Error("no hold");
    await ledger.pay({ orderId: a.orderId, saleId, ...PRICE, reference: "pi_a", nowMs: T0 + 5 });
    const sent: OrderEvent[] = [];
    const deps = {
      holds: ledger,
      events: { sendEvents: async (e: OrderEvent[]) => void sent.push(...e) },
      now: () => T0 + 31_000,
      logger: silent,
    };
    const report = await sweepHolds(deps);
    expect(report.expired).toBeGreaterThanOrEqual(2);
    expect(await counts(saleId)).toMatchObject({ remaining: 4, held: 0, paid: 1 });
    const mine = sent.filter((e) => e.saleId === saleId);
    expect(mine.map((e) => e.event).sort()).toEqual(["expired", "expired", "paid"]);
    // Again: nothing more to expire, nothing sent twice.
    sent.length = 0;
    await sweepHolds(deps);
    expect(sent.filter((e) => e.saleId === saleId)).toEqual([]);
    expect(await counts(saleId)).toMatchObject({ remaining: 4, held: 0, paid: 1 });
  });
});

// --- the webhook, end to end through the handlers

const SECRET = "whsec_test_holds";
let webhook: HttpLambda;
let buy: HttpLambda;
let getOrder: HttpLambda;
let upsertSale: HttpLambda;
let consume: SqsLambda;
let sign: (payload: string, secret: string, t?: number) => string;
let paymentEvent: typeof import("../../lambdas/adapters/payments/stripe.js").paymentSucceededEvent;

beforeAll(async () => {
  process.env.PAYMENT_WEBHOOK_SECRET = SECRET;
  webhook = (await import("../../lambdas/handlers/payment-webhook.js"))
    .handler as unknown as HttpLambda;
  buy = (await import("../../lambdas/handlers/buy.js")).handler as unknown as HttpLambda;
  getOrder = (await import("../../lambdas/handlers/get-order.js")).handler as unknown as HttpLambda;
  upsertSale = (await import("../../lambdas/handlers/upsert-sale.js"))
    .handler as unknown as HttpLambda;
  consume = (await import("../../lambdas/handlers/consume-orders.js"))
    .handler as unknown as SqsLambda;
  const stripe = await import("../../lambdas/adapters/payments/stripe.js");
  sign = stripe.stripeSignatureHeader;
  paymentEvent = stripe.paymentSucceededEvent;
});

async function createHoldSale(holdSeconds = 60, stock = 5) {
  const id = uniqueSaleId("wh");
  const reply = await invoke(upsertSale, {
    routeKey: "POST /sales",
    method: "POST",
    path: "/sales",
    claims: admin(),
    body: JSON.stringify({
      id,
      name: "Webhook",
      stock,
      perUserLimit: 2,
      price: PRICE,
      holdSeconds,
    }),
  });
  expect(reply.status).toBe(201);
  expect(reply.body).toMatchObject({ holdSeconds, price: PRICE, held: 0, paid: 0 });
  return id;
}

async function buyOne(saleId: string, userId: string): Promise<string> {
  const reply = await invoke(buy, buyEvent(saleId, userId));
  expect(reply.status).toBe(202);
  return (reply.body as { orderId: string }).orderId;
}

function deliver(body: string, signature: string | undefined, base64 = false) {
  return invoke(webhook, {
    routeKey: "POST /payments/webhook",
    method: "POST",
    path: "/payments/webhook",
    headers: {
      "content-type": "application/json",
      ...(signature !== undefined && { "stripe-signature": signature }),
    },
    body: base64 ? Buffer.from(body).toString("base64") : body,
    ...(base64 && { isBase64Encoded: true }),
  });
}

const eventFor = (
  orderId: string,
  over: Partial<{ amount: number; currency: string; saleId: string }> = {},
) =>
  paymentEvent({
    eventId: `evt_${randomUUID()}`,
    paymentIntentId: `pi_${randomUUID().slice(0, 8)}`,
    orderId,
    amount: over.amount ?? PRICE.amount,
    currency: over.currency ?? PRICE.currency,
    createdSeconds: Math.floor(Date.now() / 1000),
    ...(over.saleId !== undefined && { saleId: over.saleId }),
  });

const orderView = (orderId: string, userId: string) =>
  invoke(getOrder, {
    routeKey: "GET /orders/{orderId}",
    method: "GET",
    path: `/orders/${orderId}`,
    pathParameters: { orderId },
    claims: buyer(userId),
  });

async function orderState(saleId: string, orderId: string) {
  return {
    order: await redis.hget(saleKeys(saleId).orders, orderId),
    sale: await counts(saleId),
  };
}

describe("POST /payments/webhook", () => {
  it("pays a held order: awaiting_payment, then paid; its history reaches Postgres", async () => {
    const saleId = await createHoldSale();
    const orderId = await buyOne(saleId, "payer");
    const waiting = await orderView(orderId, "payer");
    expect(waiting.body).toMatchObject({
      status: "awaiting_payment",
      amountDue: PRICE,
      expiresAt: expect.any(String),
    });
    // The consumer writes the row with the hold's terms and its first event.
    const message = (await testSqs().receiveAll()).find(
      (m) => (m as { orderId?: string }).orderId === orderId,
    );
    expect(message).toMatchObject({ hold: { amount: PRICE.amount, currency: "eur" } });
    await consume(sqsEvent([sqsRecord(message)]), lambdaContext("consume-orders"));

    const body = eventFor(orderId);
    // API Gateway may hand the body over base64: the signature is checked on the decoded bytes.
    const paid = await deliver(body, sign(body, SECRET), true);
    expect(paid.status).toBe(200);
    expect(paid.body).toMatchObject({ received: true, orderId, result: "paid", duplicate: false });
    expect((await orderView(orderId, "payer")).body).toMatchObject({
      status: "paid",
      paidAt: expect.any(String),
    });
    // A replay of the same event: 200, nothing changes.
    const before = await orderState(saleId, orderId);
    const replay = await deliver(body, sign(body, SECRET));
    expect(replay.body).toMatchObject({ result: "paid", duplicate: true });
    expect(await orderState(saleId, orderId)).toEqual(before);

    // The sweeper drains the outbox; the consumer records the paid event.
    const sent: OrderEvent[] = [];
    await sweepHolds({
      holds: ledger,
      events: { sendEvents: async (e) => void sent.push(...e) },
      now: Date.now,
      logger: silent,
    });
    const mine = sent.filter((e) => e.orderId === orderId);
    expect(mine.map((e) => e.event)).toEqual(["paid"]);
    await consume(
      sqsEvent(mine.map((e) => sqsRecord(encodeOrderMessage(eventMessageOf(e))))),
      lambdaContext("consume-orders"),
    );
    const history = await new PostgresOrderRows(db).eventsOf(orderId);
    expect(history.map((e) => e.event)).toEqual(["held", "paid"]);
    const row = await new PostgresOrderRows(db).find(orderId);
    expect(row?.hold).toMatchObject({ amount: PRICE.amount, currency: "eur" });
  });

  it("a payment after the hold ended: refund_due, the order stays expired, its unit stays on sale", async () => {
    const saleId = await createHoldSale(1, 1);
    const orderId = await buyOne(saleId, "slow");
    await new Promise((r) => setTimeout(r, 1100));
    const body = eventFor(orderId);
    const late = await deliver(body, sign(body, SECRET));
    expect(late.status).toBe(200);
    expect(late.body).toMatchObject({ result: "refund_due" });
    expect(await counts(saleId)).toMatchObject({ remaining: 1, held: 0, paid: 0 });
    expect((await orderView(orderId, "slow")).body).toMatchObject({ status: "refund_due" });
    // The returned unit sells again.
    await buyOne(saleId, "fast");
    const again = await deliver(body, sign(body, SECRET));
    expect(again.body).toMatchObject({ result: "refund_due", duplicate: true });
  });

  it.each([
    ["a missing signature", undefined, 400, "PAYMENT_SIGNATURE_INVALID"],
    ["a wrong signature", "wrong-secret", 400, "PAYMENT_SIGNATURE_INVALID"],
    ["a stale signature", "stale", 400, "PAYMENT_SIGNATURE_INVALID"],
    ["a wrong amount", "amount", 409, "PAYMENT_MISMATCH"],
    ["a wrong currency", "currency", 409, "PAYMENT_MISMATCH"],
    ["an unknown order", "unknown", 404, "ORDER_NOT_FOUND"],
    ["an order of another sale", "other-sale", 409, "PAYMENT_SALE_MISMATCH"],
    ["a tampered body", "tampered", 400, "PAYMENT_SIGNATURE_INVALID"],
  ] as const)("%s (%s): %d %s, and nothing changes", async (_label, kind, status, code) => {
    const saleId = await createHoldSale();
    const orderId = await buyOne(saleId, "victim");
    const before = await orderState(saleId, orderId);
    let body = eventFor(orderId);
    let signature: string | undefined = sign(body, SECRET);
    if (kind === undefined) signature = undefined;
    if (kind === "wrong-secret") signature = sign(body, "whsec_not_ours");
    if (kind === "stale") signature = sign(body, SECRET, Math.floor(Date.now() / 1000) - 600);
    if (kind === "amount") body = eventFor(orderId, { amount: PRICE.amount - 1 });
    if (kind === "currency") body = eventFor(orderId, { currency: "usd" });
    if (kind === "unknown") body = eventFor(newOrderId(saleId, randomUUID()));
    if (kind === "other-sale") body = eventFor(orderId, { saleId: uniqueSaleId("else") });
    if (kind !== undefined && kind !== "wrong-secret" && kind !== "stale" && kind !== "tampered")
      signature = sign(body, SECRET);
    if (kind === "tampered") body = body.replace('"amount":2500', '"amount":1');
    const reply = await deliver(body, signature);
    expect(reply.status).toBe(status);
    expect(reply.body).toMatchObject({ error: { code } });
    expect(await orderState(saleId, orderId)).toEqual(before);
    if (code === "PAYMENT_MISMATCH") {
      const anomalies = await ledger.anomalies(saleId);
      expect(anomalies).toMatchObject([{ orderId, reason: "AMOUNT_MISMATCH" }]);
      // Reconcile lists it, with what was received and what is due.
      const report = await reconcileSale(
        {
          reservations: store,
          orderRows: new PostgresOrderRows(db),
          payments: ledger,
          now: Date.now,
          queueDepths: async () => ({ orders: 0, dlq: 0 }),
        },
        saleId,
        { repair: false, graceMs: 60_000 },
      );
      const received =
        kind === "amount"
          ? { amount: PRICE.amount - 1, currency: "eur" }
          : { ...PRICE, currency: "usd" };
      expect(report.paymentAnomalies).toMatchObject([
        { orderId, reason: "AMOUNT_MISMATCH", received, due: PRICE },
      ]);
      expect(formatReport(report)).toContain(`PAYMENT ANOMALY ${orderId}`);
    }
  });

  it("acknowledges and ignores events of other types; refuses a payment for a sale without a hold", async () => {
    const other = JSON.stringify({
      id: "evt_x",
      object: "event",
      type: "charge.refunded",
      data: { object: {} },
    });
    const ignored = await deliver(other, sign(other, SECRET));
    expect(ignored.status).toBe(200);
    expect(ignored.body).toMatchObject({ result: "ignored", orderId: null });

    const plain = uniqueSaleId("plain");
    await invoke(upsertSale, {
      routeKey: "POST /sales",
      method: "POST",
      path: "/sales",
      claims: admin(),
      body: JSON.stringify({ id: plain, name: "p", stock: 2, perUserLimit: 1 }),
    });
    const orderId = await buyOne(plain, "p1");
    const body = eventFor(orderId);
    const refused = await deliver(body, sign(body, SECRET));
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: "ORDER_NOT_PAYABLE" } });
  });
});

describe("POST /sales: a hold on an existing sharded sale", () => {
  it("is refused with 409 HOLD_ON_SHARDED_SALE even when the update leaves shards out, and changes nothing", async () => {
    const id = uniqueSaleId("sharded");
    const post = (body: Record<string, unknown>) =>
      invoke(upsertSale, {
        routeKey: "POST /sales",
        method: "POST",
        path: "/sales",
        claims: admin(),
        body: JSON.stringify({ id, name: "Sharded", stock: 8, perUserLimit: 1, ...body }),
      });
    expect((await post({ shards: 2 })).status).toBe(201);
    const before = await redis.hgetall(saleKeys(id).sale);
    const refused = await post({ price: PRICE, holdSeconds: 60 });
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ error: { code: "HOLD_ON_SHARDED_SALE" } });
    expect(await redis.hgetall(saleKeys(id).sale)).toEqual(before);
    expect(await redis.sismember(HOLD_SALES_KEY, id)).toBe(0);
    // holdSeconds 0 is no hold: still a plain update.
    expect((await post({ stock: 9, holdSeconds: 0 })).status).toBe(200);
  });
});

describe("holds under faults", () => {
  it("a webhook delivered twice at once: one payment, one duplicate, the unit sold once", async () => {
    const saleId = await createHoldSale();
    const orderId = await buyOne(saleId, "twice");
    const body = eventFor(orderId);
    const signature = sign(body, SECRET);
    const replies = await Promise.all([deliver(body, signature), deliver(body, signature)]);
    expect(replies.map((r) => r.status)).toEqual([200, 200]);
    const duplicates = replies.map((r) => (r.body as { duplicate: boolean }).duplicate).sort();
    expect(duplicates).toEqual([false, true]);
    expect(await counts(saleId)).toMatchObject({ held: 0, paid: 1, remaining: 4 });
    expect(await redis.llen(saleKeys(saleId).events)).toBe(1);
  });

  it("the expiry runner down for a while, then caught up: every due hold expired once, the lag reported", async () => {
    const saleId = await holdSale(1200, 10);
    await Promise.all(Array.from({ length: 1200 }, (_, i) => reserve(saleId, `d-${i}`, T0)));
    // Nobody sweeps and nobody buys for 5 minutes; then one sweep catches up.
    const sent: OrderEvent[] = [];
    const report = await sweepHolds({
      holds: ledger,
      events: { sendEvents: async (e) => void sent.push(...e) },
      now: () => T0 + 10_000 + 300_000,
      logger: silent,
    });
    expect(report.lagMs).toBe(300_000);
    expect(await counts(saleId)).toMatchObject({ remaining: 1200, held: 0, paid: 0 });
    expect(sent.filter((e) => e.saleId === saleId && e.event === "expired")).toHaveLength(1200);
    expect(await redis.zcard(saleKeys(saleId).holds)).toBe(0);
  });

  it("the history waits while Postgres refuses it, and lands once it accepts again", async () => {
    const saleId = await createHoldSale();
    const orderId = await buyOne(saleId, "pg-down");
    const body = eventFor(orderId);
    // The webhook needs no Postgres: it answers at once.
    expect((await deliver(body, sign(body, SECRET))).status).toBe(200);
    const sent: OrderEvent[] = [];
    await sweepHolds({
      holds: ledger,
      events: { sendEvents: async (e) => void sent.push(...e) },
      now: Date.now,
      logger: silent,
    });
    const records = sent
      .filter((e) => e.orderId === orderId)
      .map((e) => sqsRecord(encodeOrderMessage(eventMessageOf(e))));
    const { persistOrders } = await import("../../lambdas/domain/persist-orders.js");
    const rows = new PostgresOrderRows(db);
    const down = {
      ...rows,
      insert: rows.insert.bind(rows),
      recordEvents: async () => {
        throw new Error("connect ECONNREFUSED");
      },
    } as unknown as PostgresOrderRows;
    const failedAttempt = await persistOrders(
      { reservations: store, orderRows: down, now: Date.now, logger: silent },
      records,
    );
    expect(failedAttempt.every((r) => r.status === "rejected")).toBe(true);
    // SQS delivers them again; Postgres is back.
    const retried = await persistOrders(
      { reservations: store, orderRows: rows, now: Date.now, logger: silent },
      records,
    );
    expect(retried.every((r) => r.status === "fulfilled")).toBe(true);
    expect((await rows.eventsOf(orderId)).map((e) => e.event)).toContain("paid");
  });
});
