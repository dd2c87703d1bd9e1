import { randomUUID } from "node:crypto";
import { ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { afterEach, describe, expect, it } from "vitest";
import type { SqsLambda } from "../../local/sqs-event-source.js";
import {
  accepted,
  createSale,
  deadPids,
  drained,
  makeBuyers,
  promiseViolations,
  readBooks,
  recordFault,
  startLoad,
  startRig,
  statusCounts,
  Teardown,
  waitFor,
  whenAnswered,
} from "./support/harness.js";

/**
 * Fault 4: malformed messages reach the orders queue in the middle of a sale
 * and land in the same batches as real orders. Each must fail alone (the
 * consumer reports it in batchItemFailures), reach the DLQ after
 * maxReceiveCount, and never hold back the good orders of its batch.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

function poisonBodies(saleId: string): string[] {
  const valid = () => ({
    orderId: `${saleId}.${randomUUID()}`,
    saleId,
    userId: "mallory",
    quantity: 1,
    reservedAt: new Date().toISOString(),
  });
  return [
    "not json at all",
    "{",
    "null",
    '"a string"',
    "[1,2,3]",
    "{}",
    JSON.stringify({ orderId: "x", saleId }),
    JSON.stringify({ ...valid(), quantity: -1 }),
    JSON.stringify({ ...valid(), quantity: 1.5 }),
    JSON.stringify({ ...valid(), quantity: "1" }),
    JSON.stringify({ ...valid(), reservedAt: "yesterday" }),
    JSON.stringify({ ...valid(), orderId: `another-sale.${randomUUID()}` }),
    JSON.stringify({ ...valid(), saleId: "../../etc/passwd" }),
    JSON.stringify({ ...valid(), userId: "" }),
    '{"orderId": "\\u0000\\u0000", "saleId": 7, "quantity": 1e999}',
    "\u00e9\u2603 ".repeat(500),
    // Big (200 KB of the 256 KiB SQS allows) and invalid: quantity 0.
    JSON.stringify({ ...valid(), quantity: 0, padding: "x".repeat(200_000) }),
  ];
}

describe("fault 4: a poison message in a batch of real orders", () => {
  it("sends each poison message to the DLQ and persists the rest of its batch on the first delivery", async () => {
    const started = Date.now();
    const rig = await startRig(teardown, {
      services: { queues: { visibilityTimeoutSeconds: 2, maxReceiveCount: 2 } },
    });
    const { app, db, services, sqs } = rig;
    const queueUrl = services.sqs?.ordersQueueUrl ?? "";
    const pids = rig.pids();

    const stock = 220;
    const saleId = await createSale(app.url, { stock });
    const poison = poisonBodies(saleId);
    const sendPoison = (body: string) =>
      sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));

    // Watches deliveries: a good order delivered twice would mean poison held it back.
    const deliveries = new Map<string, number>();
    const observed: SqsLambda = async (event, context) => {
      for (const record of event.Records)
        deliveries.set(record.body, (deliveries.get(record.body) ?? 0) + 1);
      return app.consume(event, context);
    };

    const sends: Array<Promise<unknown>> = [];
    // The first orders and half of the poison wait in the queue, so the first batches mix them.
    const load = startLoad({
      url: app.url,
      saleId,
      buyers: await makeBuyers(260),
      concurrency: 12,
      workerIntervalMs: 60,
      onAnswer: (answered) => {
        if (answered % 20 === 0 && answered / 20 <= poison.length - 8)
          sends.push(sendPoison(poison[8 + answered / 20 - 1] ?? ""));
      },
    });
    for (const body of poison.slice(0, 8)) await sendPoison(body);
    await whenAnswered(load, 30);
    const consumer = rig.startConsumer(observed, { batchSize: 10, batchingWindowMs: 100 });
    const outcomes = await load.done;
    await Promise.all(sends);
    const acceptedCount = accepted(outcomes).length;

    await waitFor(
      "every poison message in the DLQ",
      async () => (await rig.depths()).dlq >= poison.length,
      30_000,
    );
    await drained(sqs, queueUrl);
    await waitFor(
      "every accepted order persisted",
      async () => (await rig.rowCount(saleId)) >= acceptedCount,
      10_000,
    );
    const queues = await rig.depths();
    const dlqBodies: string[] = [];
    while (dlqBodies.length < queues.dlq) {
      const { Messages = [] } = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: services.sqs?.deadLetterQueueUrl ?? "",
          MaxNumberOfMessages: 10,
          WaitTimeSeconds: 0,
          VisibilityTimeout: 60,
        }),
      );
      if (Messages.length === 0) break;
      dlqBodies.push(...Messages.map((m) => m.Body ?? ""));
    }
    const books = await readBooks(rig.redis, db, saleId);
    const goodRedelivered = [...deliveries].filter(
      ([body, count]) => count > 1 && !poison.includes(body),
    ).length;

    recordFault({
      fault: "4 poison messages in real batches",
      requests: outcomes.length,
      accepted: acceptedCount,
      statuses: statusCounts(outcomes),
      rows: books.rows.length,
      released: books.byState.released,
      dlq: queues.dlq,
      repaired: 0,
      durationMs: Date.now() - started,
      poisonSent: poison.length,
      batchesMixingPoisonAndOrders: consumer.stats.mixedBatches,
      goodOrdersDeliveredTwice: goodRedelivered,
    });

    expect(statusCounts(outcomes)).toEqual({ "202": stock, "409 SOLD_OUT": 260 - stock });
    // Exactly the poison reached the DLQ, each message once.
    expect(dlqBodies.sort()).toEqual([...poison].sort());
    expect(queues).toEqual({ orders: 0, dlq: poison.length });
    // Poison shared batches with real orders, which were persisted on their first delivery.
    expect(consumer.stats.mixedBatches).toBeGreaterThan(0);
    expect(goodRedelivered).toBe(0);
    expect(books.rows.length).toBe(acceptedCount);
    expect(promiseViolations(books, outcomes)).toEqual([]);
    // Nothing of the poison touched the sale.
    expect(books.rows.some((r) => r.userId === "mallory")).toBe(false);
    expect(books.orders.some((o) => o.userId === "mallory")).toBe(false);

    await teardown.run();
    expect(deadPids(pids)).toBe(true);
  });
});
