import { randomUUID } from "node:crypto";
import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type pg from "pg";
import { insertOrders } from "../../lambdas/adapters/postgres/order-rows.js";
import type { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import type { OrderMessage } from "../../lambdas/domain/order-message.js";
import { orderOf } from "../../lambdas/domain/order-message.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { lambdaContext } from "../../local/lambda-context.js";
import { type SqsLambda, startSqsEventSource } from "../../local/sqs-event-source.js";

/**
 * The pieces of the consumer benchmark, shared by `npm run bench:consumer`
 * (every batch size, synthetic orders) and `npm run bench` (the backlog the
 * buy path left in the queue, drained by the stack's own consumer settings).
 */

const perSecond = (count: number, ms: number) => Math.round(count / (ms / 1000));

/** A sale with `count` orders reserved in Redis, and the messages the buy path would have sent for them. */
export async function reservedOrders(
  reservations: RedisSaleStore,
  count: number,
): Promise<{ saleId: string; messages: OrderMessage[] }> {
  const saleId = `bench-${randomUUID().slice(0, 8)}`;
  await reservations.upsertSale(
    { id: saleId, name: "bench", stock: count, perUserLimit: 100, startsAtMs: 0, endsAtMs: 0 },
    Date.now(),
  );
  const nowMs = Date.now();
  const messages = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const orderId = newOrderId(saleId, randomUUID());
      const userId = `u${i % 10_000}`;
      await reservations.reserve({
        saleId,
        userId,
        quantity: 1,
        nowMs,
        orderId,
        idempotencyKey: undefined,
      });
      return { orderId, saleId, userId, quantity: 1, reservedAt: new Date(nowMs).toISOString() };
    }),
  );
  return { saleId, messages };
}

/** Reference: the consumer's INSERT alone, batch by batch, straight into Postgres. Inserts per second. */
export async function insertReference(
  db: pg.Pool,
  messages: OrderMessage[],
  batchSize: number,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < messages.length; i += batchSize) {
    await insertOrders(db, messages.slice(i, i + batchSize).map(orderOf));
  }
  return perSecond(messages.length, performance.now() - started);
}

/**
 * The handler alone, fed pre-built SQS events: in AWS, Lambda's poller does
 * the receive and delete calls, so this is the function's own share. Orders per second.
 */
export async function handlerOnly(
  consume: SqsLambda,
  messages: OrderMessage[],
  batchSize: number,
): Promise<number> {
  const started = performance.now();
  for (let i = 0; i < messages.length; i += batchSize) {
    const Records = messages.slice(i, i + batchSize).map((m) => ({
      messageId: randomUUID(),
      receiptHandle: "",
      body: JSON.stringify(m),
      attributes: {},
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "",
      awsRegion: "us-east-1",
    }));
    await consume({ Records } as never, lambdaContext("consume-orders"));
  }
  return perSecond(messages.length, performance.now() - started);
}

/** Sends the messages to the queue, ten per SendMessageBatch, a hundred in flight. */
export async function enqueue(
  sqs: SQSClient,
  queueUrl: string,
  messages: OrderMessage[],
): Promise<void> {
  for (let i = 0; i < messages.length; i += 100) {
    const chunk = messages.slice(i, i + 100);
    await Promise.all(
      Array.from({ length: Math.ceil(chunk.length / 10) }, (_, j) =>
        sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk
              .slice(j * 10, j * 10 + 10)
              .map((m, k) => ({ Id: String(k), MessageBody: JSON.stringify(m) })),
          }),
        ),
      ),
    );
  }
}

export interface DrainOptions {
  sqs: SQSClient;
  queueUrl: string;
  handler: SqsLambda;
  batchSize: number;
  batchingWindowMs?: number;
  concurrency: number;
  /** Rows written so far by this drain (the caller knows which sales to count). */
  countRows: () => Promise<number>;
  expectedRows: number;
  timeoutMs?: number;
  onProgress?: (rows: number, expected: number) => void;
}

export interface DrainResult {
  rows: number;
  seconds: number;
  ordersPerSecond: number;
  complete: boolean;
}

/**
 * Starts a local SQS event source on a queue that already holds the orders
 * and measures how fast their rows appear in Postgres, until all are there
 * (or the timeout passes).
 */
export async function drainQueue(options: DrainOptions): Promise<DrainResult> {
  const started = performance.now();
  const source = startSqsEventSource({
    sqs: options.sqs,
    queueUrl: options.queueUrl,
    handler: options.handler,
    batchSize: options.batchSize,
    batchingWindowMs: options.batchingWindowMs ?? 100,
    concurrency: options.concurrency,
    waitTimeSeconds: 0,
  });
  const deadline = Date.now() + (options.timeoutMs ?? 120_000);
  let rows = 0;
  try {
    while (rows < options.expectedRows && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      rows = await options.countRows();
      options.onProgress?.(rows, options.expectedRows);
    }
  } finally {
    await source.stop();
  }
  const ms = performance.now() - started;
  return {
    rows,
    seconds: ms / 1000,
    ordersPerSecond: perSecond(rows, ms),
    complete: rows >= options.expectedRows,
  };
}
