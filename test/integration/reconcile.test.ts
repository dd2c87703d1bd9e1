import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { promisify } from "node:util";
import { Logger } from "@aws-lambda-powertools/logger";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import type { Redis } from "ioredis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresOrderRows } from "../../lambdas/adapters/postgres/order-rows.js";
import { saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { queueDepth } from "../../lambdas/adapters/sqs/queue-depths.js";
import { redrive } from "../../lambdas/adapters/sqs/redrive.js";
import { persistOrders } from "../../lambdas/domain/persist-orders.js";
import { reconcileSale } from "../../lambdas/domain/reconcile.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import {
  type LocalServices,
  PROJECT_ROOT,
  startLocalServices,
} from "../../local/services/index.js";
import { localSqsClient } from "../../local/services/sqs-server.js";
import { rowsOfSale, testDb } from "../support/db.js";
import { testRedis, uniqueSaleId } from "../support/fixtures.js";
import { orderMessage, sqsRecord } from "../support/sqs-records.js";

// Its own SQS server, so queue depths are this file's alone.
let sqsOnly: LocalServices;
let redis: Redis;
let reservations: RedisSaleStore;
let db: pg.Pool;
const silent = new Logger({ logLevel: "SILENT" });

beforeAll(async () => {
  sqsOnly = await startLocalServices({ only: ["sqs"] });
  redis = testRedis();
  reservations = new RedisSaleStore(redis);
  db = testDb();
});
afterAll(async () => {
  await redis.quit();
  await db.end();
  await sqsOnly.stop({ removeData: true });
});

function deps() {
  const sqs = localSqsClient(sqsOnly.sqs?.endpoint ?? "");
  return {
    reservations,
    orderRows: new PostgresOrderRows(db),
    now: Date.now,
    queueDepths: async () => ({
      orders: await queueDepth(sqs, sqsOnly.sqs?.ordersQueueUrl ?? ""),
      dlq: await queueDepth(sqs, sqsOnly.sqs?.deadLetterQueueUrl ?? ""),
    }),
  };
}

/** A sale with `count` accepted orders, persisted by the consumer's own code. */
async function persistedSale(count: number) {
  const saleId = uniqueSaleId("rec");
  await reservations.upsertSale(
    { id: saleId, name: "r", stock: 10, perUserLimit: 10, startsAtMs: 0, endsAtMs: 0 },
    Date.now(),
  );
  const messages = [];
  for (let i = 0; i < count; i++) {
    const orderId = newOrderId(saleId, randomUUID());
    const nowMs = Date.now();
    await reservations.reserve({
      saleId,
      userId: `u${i}`,
      quantity: 1,
      nowMs,
      orderId,
      idempotencyKey: undefined,
    });
    messages.push({
      orderId,
      saleId,
      userId: `u${i}`,
      quantity: 1,
      reservedAt: new Date(nowMs).toISOString(),
    });
  }
  await persistOrders(
    { reservations, orderRows: new PostgresOrderRows(db), now: Date.now, logger: silent },
    messages.map((m) => sqsRecord(m)),
  );
  return { saleId, messages };
}

describe("reconcileSale", () => {
  it("reports a clean sale as clean", async () => {
    const { saleId } = await persistedSale(3);
    const report = await reconcileSale(deps(), saleId, { repair: false, graceMs: 0 });
    expect(report).toMatchObject({
      clean: true,
      issues: [],
      redis: { stock: 10, remaining: 7, sold: 3, confirmed: 3, reserved: 0 },
      postgres: { rows: 3, units: 3 },
    });
  });

  it("detects a row Redis has lost, and --repair counts its unit as sold again", async () => {
    const { saleId, messages } = await persistedSale(2);
    // Inject the drift a Redis restart inside the fsync window leaves behind.
    await redis.hdel(saleKeys(saleId).orders, messages[0]?.orderId ?? "");
    await redis.hincrby(saleKeys(saleId).sale, "remaining", 1);

    const found = await reconcileSale(deps(), saleId, { repair: false, graceMs: 0 });
    expect(found.clean).toBe(false);
    expect(found.issues).toEqual([
      expect.objectContaining({
        kind: "ROW_WITHOUT_RESERVATION",
        orderId: messages[0]?.orderId,
        repaired: false,
      }),
    ]);

    const repaired = await reconcileSale(deps(), saleId, { repair: true, graceMs: 0 });
    expect(repaired.clean).toBe(true);
    const after = await reconcileSale(deps(), saleId, { repair: false, graceMs: 0 });
    expect(after).toMatchObject({ clean: true, redis: { remaining: 8, sold: 2 } });
  });

  it("persists confirmed or stale orders that have no row and no message left", async () => {
    const { saleId, messages } = await persistedSale(1);
    await db.query("DELETE FROM orders WHERE order_id = $1", [messages[0]?.orderId]);
    const staleId = newOrderId(saleId, randomUUID());
    await reservations.reserve({
      saleId,
      userId: "late",
      quantity: 1,
      nowMs: Date.now() - 60_000,
      orderId: staleId,
      idempotencyKey: undefined,
    });

    const found = await reconcileSale(deps(), saleId, { repair: false, graceMs: 30_000 });
    expect(found.issues.map((i) => i.kind).sort()).toEqual([
      "CONFIRMED_WITHOUT_ROW",
      "STALE_RESERVATION",
    ]);

    await reconcileSale(deps(), saleId, { repair: true, graceMs: 30_000 });
    expect((await rowsOfSale(db, saleId)).map((r) => r.order_id).sort()).toEqual(
      [messages[0]?.orderId, staleId].sort(),
    );
    expect((await reconcileSale(deps(), saleId, { repair: false, graceMs: 30_000 })).clean).toBe(
      true,
    );
  });

  it("treats a young reservation as in flight, not as drift", async () => {
    const { saleId } = await persistedSale(0);
    await reservations.reserve({
      saleId,
      userId: "now",
      quantity: 1,
      nowMs: Date.now(),
      orderId: newOrderId(saleId, randomUUID()),
      idempotencyKey: undefined,
    });
    const report = await reconcileSale(deps(), saleId, { repair: false, graceMs: 60_000 });
    expect(report).toMatchObject({ clean: true, inFlight: 1 });
  });
});

describe("redrive and the reconcile command", () => {
  it("reports a non-empty DLQ as drift (exit 1), and redrive moves its orders back to the orders queue, leaving what can never be persisted", async () => {
    const { saleId } = await persistedSale(1);
    const sqs = localSqsClient(sqsOnly.sqs?.endpoint ?? "");
    const dlq = sqsOnly.sqs?.deadLetterQueueUrl ?? "";
    const orders = sqsOnly.sqs?.ordersQueueUrl ?? "";
    for (const user of ["a", "b", "c"])
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: dlq,
          MessageBody: JSON.stringify(orderMessage(saleId, user)),
        }),
      );
    // An order-history event (a hold sale's payment) dead-lettered while Postgres was down.
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: dlq,
        MessageBody: JSON.stringify({
          kind: "order_event",
          orderId: newOrderId(saleId, randomUUID()),
          saleId,
          event: "paid",
          at: new Date().toISOString(),
          amount: 1999,
          currency: "eur",
        }),
      }),
    );
    const poison = await sqs.send(
      new SendMessageCommand({ QueueUrl: dlq, MessageBody: "not an order" }),
    );

    const env = {
      ...process.env,
      ...sqsOnly.env(),
      REDIS_URL: process.env.REDIS_URL,
      DATABASE_URL: process.env.DATABASE_URL,
    };
    const run = promisify(execFile);
    const failed = await run("npx", ["tsx", "scripts/reconcile.ts", "--sale", saleId], {
      cwd: PROJECT_ROOT,
      env,
    }).catch((e) => e);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toContain("DLQ_NOT_EMPTY");

    expect(await redrive(sqs, dlq, orders)).toEqual({
      moved: 4,
      failed: 0,
      skipped: 1,
      skippedMessages: [{ messageId: poison.MessageId, reason: "message body is not JSON" }],
    });
    expect(await queueDepth(sqs, dlq)).toBe(1);
    expect(await queueDepth(sqs, orders)).toBe(4);
    sqs.destroy();
  });
});
