import { randomUUID } from "node:crypto";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse } from "aws-lambda";
import type { Redis } from "ioredis";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { migrate } from "../../lambdas/adapters/postgres/migrate.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { lambdaContext } from "../../local/lambda-context.js";
import { startLocalServices } from "../../local/services/index.js";
import { type SqsLambda, startSqsEventSource } from "../../local/sqs-event-source.js";
import { rowsOfSale, testDb } from "../support/db.js";
import { saleSnapshot, testRedis, uniqueSaleId } from "../support/fixtures.js";
import { testSqs } from "../support/sqs.js";
import { orderMessage, sqsEvent, sqsRecord } from "../support/sqs-records.js";

let consume: SqsLambda;
let redis: Redis;
let reservations: RedisSaleStore;
let db: pg.Pool;

beforeAll(async () => {
  consume = (await import("../../lambdas/handlers/consume-orders.js"))
    .handler as unknown as SqsLambda;
  redis = testRedis();
  reservations = new RedisSaleStore(redis);
  db = testDb();
});
afterAll(async () => {
  await redis.quit();
  await db.end();
});

async function invoke(handler: SqsLambda, records: ReturnType<typeof sqsRecord>[]) {
  return (await handler(sqsEvent(records), lambdaContext("consume-orders"))) as SQSBatchResponse;
}

/** A sale with `count` orders reserved in Redis, and the messages the buy path would have sent. */
async function reservedOrders(count: number, stock = count) {
  const saleId = uniqueSaleId("c");
  await reservations.upsertSale(
    {
      id: saleId,
      name: "c",
      stock,
      perUserLimit: 20,
      startsAtMs: 0,
      endsAtMs: 0,
      rateLimit: { burst: 0, perSecond: 1 },
    },
    Date.now(),
  );
  const messages = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const message = orderMessage(saleId, `user-${i % 1_000}`);
      const outcome = await reservations.reserve({
        saleId,
        userId: message.userId,
        quantity: 1,
        nowMs: Date.parse(message.reservedAt),
        orderId: message.orderId,
        idempotencyKey: undefined,
      });
      if (outcome.kind !== "accepted")
        throw new Error(`reserve failed: ${JSON.stringify(outcome)}`);
      return message;
    }),
  );
  return { saleId, messages };
}

describe("consume-orders", () => {
  it("writes one row per order however often it is delivered", async () => {
    const { saleId, messages } = await reservedOrders(2);
    const [first, second] = messages;
    const batch = [sqsRecord(first), sqsRecord(first), sqsRecord(second)];
    expect(await invoke(consume, batch)).toEqual({ batchItemFailures: [] });
    expect(await invoke(consume, [sqsRecord(first), sqsRecord(second)])).toEqual({
      batchItemFailures: [],
    });

    const rows = await rowsOfSale(db, saleId);
    expect(rows.map((r) => r.order_id).sort()).toEqual([first?.orderId, second?.orderId].sort());
    const state = await saleSnapshot(redis, saleId);
    expect(Object.values(state.orders).map((json) => JSON.parse(json).state)).toEqual([
      "confirmed",
      "confirmed",
    ]);
  });

  it("reports only the poison messages as failed and persists the rest of their batch", async () => {
    const { saleId, messages } = await reservedOrders(2);
    const poison = [
      sqsRecord("not json at all"),
      sqsRecord({ orderId: "x", saleId }),
      sqsRecord({ ...orderMessage(saleId), quantity: -1 }),
      sqsRecord({ ...orderMessage(saleId), orderId: newOrderId("another-sale", randomUUID()) }),
    ];
    const good = messages.map((m) => sqsRecord(m));
    const response = await invoke(consume, [good[0], ...poison, good[1]] as ReturnType<
      typeof sqsRecord
    >[]);

    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
      poison.map((p) => p.messageId).sort(),
    );
    expect(await rowsOfSale(db, saleId)).toHaveLength(2);
  });

  it("drops the message of an order that was released (its buyer was told the buy failed)", async () => {
    const { saleId, messages } = await reservedOrders(1);
    const [message] = messages;
    expect(await reservations.release(saleId, message?.orderId ?? "", message?.userId ?? "")).toBe(
      "released",
    );

    expect(await invoke(consume, [sqsRecord(message)])).toEqual({ batchItemFailures: [] });
    expect(await rowsOfSale(db, saleId)).toHaveLength(0);
    expect(Number((await saleSnapshot(redis, saleId)).sale.remaining)).toBe(1);
  });

  it("restores an order Redis has lost, so its unit counts as sold again", async () => {
    const saleId = uniqueSaleId("lost");
    await reservations.upsertSale(
      { id: saleId, name: "c", stock: 5, perUserLimit: 2, startsAtMs: 0, endsAtMs: 0 },
      Date.now(),
    );
    const message = orderMessage(saleId, "bob", 2);

    expect(await invoke(consume, [sqsRecord(message)])).toEqual({ batchItemFailures: [] });
    expect(await rowsOfSale(db, saleId)).toHaveLength(1);
    const state = await saleSnapshot(redis, saleId);
    expect(Number(state.sale.remaining)).toBe(3);
    expect(state.buyers).toEqual({ bob: "2" });
  });
});

describe("consume-orders while Postgres is down", () => {
  it("fails every record, then persists them all once the database is back", async () => {
    const own = await startLocalServices({ only: ["postgres"] });
    try {
      const setupPool = new pg.Pool({ connectionString: own.postgres?.url });
      setupPool.on("error", () => {}); // the stop below may reach a client still closing
      await migrate(setupPool);
      await setupPool.end();
      const saved = { ...process.env };
      process.env.DATABASE_URL = own.postgres?.url;
      process.env.DATABASE_CONNECT_TIMEOUT_MS = "500";
      vi.resetModules();
      const isolated = (await import("../../lambdas/handlers/consume-orders.js"))
        .handler as unknown as SqsLambda;
      process.env = saved;

      const { messages } = await reservedOrders(5);
      const records = messages.map((m) => sqsRecord(m));
      await own.postgres?.stop();
      const whileDown = await invoke(isolated, records);
      expect(whileDown.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(
        records.map((r) => r.messageId).sort(),
      );

      await own.postgres?.start();
      expect(await invoke(isolated, records)).toEqual({ batchItemFailures: [] });
      const check = new pg.Pool({ connectionString: own.postgres?.url });
      check.on("error", () => {}); // the stop in finally may reach a client still closing
      const { rows } = await check.query("SELECT count(*)::int AS n FROM orders");
      await check.end();
      expect(rows[0].n).toBe(5);
    } finally {
      await own.stop({ removeData: true });
    }
  });
});

describe("consume-orders behind the local SQS event source", () => {
  it("turns 10,000 queued messages into 10,000 rows, none duplicated", async () => {
    const { sqs, queueUrl } = testSqs();
    const { saleId, messages } = await reservedOrders(10_000);
    const chunks = Array.from({ length: 1_000 }, (_, i) => messages.slice(i * 10, i * 10 + 10));
    for (let i = 0; i < chunks.length; i += 50) {
      await Promise.all(
        chunks.slice(i, i + 50).map((chunk) =>
          sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: chunk.map((m, j) => ({ Id: String(j), MessageBody: JSON.stringify(m) })),
            }),
          ),
        ),
      );
    }

    const source = startSqsEventSource({
      sqs,
      queueUrl,
      handler: consume,
      batchSize: 100,
      batchingWindowMs: 50,
      concurrency: 2,
      waitTimeSeconds: 0,
    });
    try {
      const deadline = Date.now() + 60_000;
      let count = 0;
      while (Date.now() < deadline) {
        count = (
          await db.query("SELECT count(*)::int AS n FROM orders WHERE sale_id = $1", [saleId])
        ).rows[0].n;
        if (count >= 10_000) break;
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(count).toBe(10_000);
    } finally {
      await source.stop();
    }
    const { rows } = await db.query(
      "SELECT count(*)::int AS n, count(DISTINCT order_id)::int AS d, sum(quantity)::int AS q FROM orders WHERE sale_id = $1",
      [saleId],
    );
    expect(rows[0]).toEqual({ n: 10_000, d: 10_000, q: 10_000 });
  });
});
