import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SQSBatchResponse } from "aws-lambda";
import type { Redis } from "ioredis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { FileEventRecorder } from "../../lambdas/adapters/events/file-recorder.js";
import { PostgresOrderRows } from "../../lambdas/adapters/postgres/order-rows.js";
import { RedisEventLedger } from "../../lambdas/adapters/redis/event-ledger.js";
import { RedisHoldLedger } from "../../lambdas/adapters/redis/hold-ledger.js";
import { RedisRepairLock } from "../../lambdas/adapters/redis/repair-lock.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { type AutoRepairDeps, autoRepair } from "../../lambdas/domain/auto-repair.js";
import type { EventPublisher } from "../../lambdas/domain/ports.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { lambdaContext } from "../../local/lambda-context.js";
import type { SqsLambda } from "../../local/sqs-event-source.js";
import { rowsOfSale, testDb } from "../support/db.js";
import { testRedis, uniqueSaleId } from "../support/fixtures.js";
import { orderMessage, sqsEvent, sqsRecord } from "../support/sqs-records.js";

/**
 * The integration events (docs/events.md) against real Redis and Postgres,
 * recorded by the local stack's file recorder: OrderConfirmed once per new row
 * from the consumer, never for a redelivery, and never at a record's expense;
 * the sale events from the scheduled repair once each, across runs at once and
 * across a failed publish.
 */
let redis: Redis;
let db: pg.Pool;
let reservations: RedisSaleStore;
let dir: string;
let eventsFile: string;

beforeAll(() => {
  redis = testRedis();
  db = testDb();
  reservations = new RedisSaleStore(redis);
  dir = mkdtempSync(join(tmpdir(), "flash-sale-events-"));
  eventsFile = join(dir, "events.jsonl");
});
afterAll(async () => {
  await redis.quit();
  await db.end();
  rmSync(dir, { recursive: true, force: true });
});

interface Recorded {
  source: string;
  "detail-type": string;
  detail: { eventId: string; saleId: string; [key: string]: unknown };
}

function recorded(saleId: string, file = eventsFile): Recorded[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as Recorded)
    .filter((event) => event.detail.saleId === saleId);
}

const typesOf = (events: Recorded[]) => events.map((e) => e["detail-type"]);

/** The consumer's handler module, loaded fresh with LOCAL_EVENTS_FILE as given (its cold start reads it). */
async function consumerWith(file: string): Promise<SqsLambda> {
  vi.resetModules();
  process.env.LOCAL_EVENTS_FILE = file;
  try {
    return (await import("../../lambdas/handlers/consume-orders.js"))
      .handler as unknown as SqsLambda;
  } finally {
    delete process.env.LOCAL_EVENTS_FILE;
  }
}

async function invoke(handler: SqsLambda, records: ReturnType<typeof sqsRecord>[]) {
  return (await handler(sqsEvent(records), lambdaContext("consume-orders"))) as SQSBatchResponse;
}

/** A sale and `count` reservations with the messages the buy path would have sent. */
async function reserved(count: number) {
  const saleId = uniqueSaleId("ev");
  await reservations.upsertSale(
    { id: saleId, name: "ev", stock: 50, perUserLimit: 5, startsAtMs: 0, endsAtMs: 0 },
    Date.now(),
  );
  const messages = [];
  for (let i = 0; i < count; i++) {
    const message = orderMessage(saleId, `buyer-${i}@example.com`);
    const outcome = await reservations.reserve({
      saleId,
      userId: message.userId,
      quantity: 1,
      nowMs: Date.parse(message.reservedAt),
      orderId: message.orderId,
      idempotencyKey: undefined,
    });
    expect(outcome.kind).toBe("accepted");
    messages.push(message);
  }
  return { saleId, messages };
}

describe("OrderConfirmed from the consumer", () => {
  it("is recorded exactly once per new row, never for a duplicate delivery, and carries no buyer id", async () => {
    const consume = await consumerWith(eventsFile);
    const { saleId, messages } = await reserved(3);
    const [a, b, c] = messages as [
      (typeof messages)[0],
      (typeof messages)[0],
      (typeof messages)[0],
    ];
    // a twice in one batch, then a and b again with c: three rows, three events.
    expect(await invoke(consume, [sqsRecord(a), sqsRecord(a), sqsRecord(b)])).toEqual({
      batchItemFailures: [],
    });
    expect(await invoke(consume, [sqsRecord(a), sqsRecord(b), sqsRecord(c)])).toEqual({
      batchItemFailures: [],
    });
    expect(await invoke(consume, [sqsRecord(c)])).toEqual({ batchItemFailures: [] });

    expect((await rowsOfSale(db, saleId)).length).toBe(3);
    const events = recorded(saleId);
    expect(typesOf(events)).toEqual(["OrderConfirmed", "OrderConfirmed", "OrderConfirmed"]);
    expect(events.map((e) => e.detail.eventId).sort()).toEqual(
      [a.orderId, b.orderId, c.orderId].sort(),
    );
    expect(events[0]).toMatchObject({
      source: "flash-sale-engine",
      detail: { version: 1, saleId, quantity: 1, status: "confirmed" },
    });
    expect(JSON.stringify(events)).not.toMatch(/buyer-\d@example\.com|userId/);
  });

  it("a publisher that fails does not fail the batch: the rows are written, no record fails", async () => {
    // A path under a regular file: every append fails (ENOTDIR), as an unreachable bus would.
    const blocker = join(dir, "not-a-dir");
    writeFileSync(blocker, "");
    const consume = await consumerWith(join(blocker, "events.jsonl"));
    const { saleId, messages } = await reserved(4);
    expect(
      await invoke(
        consume,
        messages.map((m) => sqsRecord(m)),
      ),
    ).toEqual({
      batchItemFailures: [],
    });
    expect((await rowsOfSale(db, saleId)).map((r) => r.order_id).sort()).toEqual(
      messages.map((m) => m.orderId).sort(),
    );
    expect(recorded(saleId)).toEqual([]);
  });
});

describe("sale events from the scheduled repair", () => {
  const GRACE_MS = 60_000;
  const options = {
    graceMs: GRACE_MS,
    endedWithinMs: 86_400_000,
    maxSales: 50,
    maxRepairs: 500,
    lockTtlMs: 30_000,
  };

  function deps(saleId: string, lockKey: string, events: EventPublisher): AutoRepairDeps {
    return {
      reservations,
      payments: new RedisHoldLedger(redis),
      orderRows: new PostgresOrderRows(db),
      now: Date.now,
      queueDepths: async () => ({ orders: 0, dlq: 0 }),
      // Only this test's sale (the shared Redis holds other tests' sales).
      index: { remember: async () => {}, newest: async () => [{ id: saleId, createdAtMs: 0 }] },
      lock: new RedisRepairLock(redis, lockKey),
      events,
      eventLedger: new RedisEventLedger(redis),
    };
  }

  it("SaleOpened, SaleSoldOut and SaleClosed each once, across runs at once and a failed publish; repaired rows get OrderConfirmed", async () => {
    const file = join(dir, "sale-events.jsonl");
    const recorder = new FileEventRecorder(file);
    const saleId = uniqueSaleId("sev");
    const startsAtMs = Date.now() - 10 * GRACE_MS;
    await reservations.upsertSale(
      { id: saleId, name: "sev", stock: 2, perUserLimit: 1, startsAtMs, endsAtMs: 0 },
      startsAtMs,
    );
    const lock = `repair:lock:${saleId}`;
    const run = (key = lock, events: EventPublisher = recorder) =>
      autoRepair(deps(saleId, key, events), options);

    // Open: two runs at once on one lock (one is locked out), then a third.
    const [r1, r2] = await Promise.all([run(), run()]);
    expect([r1.outcome, r2.outcome].sort()).toEqual(["done", "locked"]);
    expect((await run()).eventsSent).toBe(0);
    expect(typesOf(recorded(saleId, file))).toEqual(["SaleOpened"]);
    expect(recorded(saleId, file)[0]?.detail).toMatchObject({
      eventId: `${saleId}:SaleOpened`,
      occurredAt: new Date(startsAtMs).toISOString(),
      stock: 2,
    });

    // Sold out by two stale reservations (their messages never came): two runs that both
    // get past the lock write each row once, and the events once.
    const orderIds = [];
    for (const user of ["u1", "u2"]) {
      const orderId = newOrderId(saleId, randomUUID());
      orderIds.push(orderId);
      const outcome = await reservations.reserve({
        saleId,
        userId: user,
        quantity: 1,
        nowMs: Date.now() - 2 * GRACE_MS,
        orderId,
        idempotencyKey: undefined,
      });
      expect(outcome.kind).toBe("accepted");
    }
    const [a, b] = await Promise.all([run(`${lock}:a`), run(`${lock}:b`)]);
    expect(a.eventsSent + b.eventsSent).toBe(1);
    expect((await rowsOfSale(db, saleId)).length).toBe(2);

    // Closed now; the first publish fails (the claim is given back), later runs send it once.
    expect(await reservations.applyControls(saleId, { closeNow: true }, Date.now() - 1)).toBe(true);
    const blocker = join(dir, "blocker");
    writeFileSync(blocker, "");
    const failed = await run(lock, new FileEventRecorder(join(blocker, "x.jsonl")));
    expect(failed).toMatchObject({ eventsSent: 0, eventsFailed: 1 });
    expect(typesOf(recorded(saleId, file))).not.toContain("SaleClosed");
    const [c, d] = await Promise.all([run(`${lock}:c`), run(`${lock}:d`)]);
    expect(c.eventsSent + d.eventsSent).toBe(1);
    expect((await run()).eventsSent).toBe(0);

    const events = recorded(saleId, file);
    const count = (type: string) => typesOf(events).filter((t) => t === type).length;
    expect({
      SaleOpened: count("SaleOpened"),
      SaleSoldOut: count("SaleSoldOut"),
      SaleClosed: count("SaleClosed"),
      OrderConfirmed: count("OrderConfirmed"),
    }).toEqual({ SaleOpened: 1, SaleSoldOut: 1, SaleClosed: 1, OrderConfirmed: 2 });
    expect(
      events.filter((e) => e["detail-type"] === "OrderConfirmed").map((e) => e.detail.eventId),
    ).toEqual(expect.arrayContaining(orderIds));
    expect(events.find((e) => e["detail-type"] === "SaleClosed")?.detail).toMatchObject({
      stock: 2,
      sold: 2,
      soldOut: true,
    });
    expect(events.find((e) => e["detail-type"] === "SaleSoldOut")?.detail).toMatchObject({
      stock: 2,
      sold: 2,
    });
  });
});
