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
} from "./support/harness.js";

/**
 * Fault 3: the consumer dies after its INSERT committed and before the event
 * source deleted the batch's messages. The wrapper runs the real handler,
 * checks that the batch's rows are in Postgres, then throws: to SQS that is
 * exactly a crash at that point (nothing is deleted), so every message of the
 * batch comes back after the visibility timeout and is persisted again.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

describe("fault 3: the consumer crashes between INSERT and delete", () => {
  it("redelivers the batch and still makes exactly one row per accepted buy", async () => {
    const started = Date.now();
    const rig = await startRig(teardown, {
      services: { queues: { visibilityTimeoutSeconds: 1, maxReceiveCount: 5 } },
    });
    const { app, db, services } = rig;
    const pids = rig.pids();

    const seen = new Map<string, number>();
    const crash = { batches: 0, records: 0, rowsPresentAtCrash: 0, redeliveries: 0 };
    const crashing: SqsLambda = async (event, context) => {
      const response = await app.consume(event, context);
      const firstTime = event.Records.filter((r) => !seen.has(r.messageId));
      for (const record of event.Records) {
        const deliveries = (seen.get(record.messageId) ?? 0) + 1;
        seen.set(record.messageId, deliveries);
        if (deliveries > 1) crash.redeliveries++;
      }
      // A batch carrying any message seen for the first time dies after its INSERT.
      if (firstTime.length > 0) {
        const ids = event.Records.map((r) => (JSON.parse(r.body) as { orderId: string }).orderId);
        const { rows } = await db.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM orders WHERE order_id = ANY($1)",
          [ids],
        );
        crash.batches++;
        crash.records += event.Records.length;
        crash.rowsPresentAtCrash += rows[0]?.n ?? 0;
        throw new Error("simulated crash after INSERT, before the messages were deleted");
      }
      return response;
    };
    const consumer = rig.startConsumer(crashing, { batchSize: 10, batchingWindowMs: 20 });

    const stock = 200;
    const saleId = await createSale(app.url, { stock });
    const outcomes = await startLoad({
      url: app.url,
      saleId,
      buyers: await makeBuyers(240),
      concurrency: 16,
    }).done;
    const acceptedCount = accepted(outcomes).length;

    await waitFor(
      "every accepted order persisted",
      async () => (await rig.rowCount(saleId)) >= acceptedCount,
      30_000,
    );
    await drained(rig.sqs, services.sqs?.ordersQueueUrl ?? "", 30_000);
    const books = await readBooks(rig.redis, db, saleId);
    const queues = await rig.depths();
    const report = await rig.reconcile(saleId, { repair: false, graceMs: 0 });

    recordFault({
      fault: "3 consumer crash after INSERT, before delete",
      requests: outcomes.length,
      accepted: acceptedCount,
      statuses: statusCounts(outcomes),
      rows: books.rows.length,
      released: books.byState.released,
      dlq: queues.dlq,
      repaired: 0,
      durationMs: Date.now() - started,
      crashedBatches: crash.batches,
      crashedRecords: crash.records,
      rowsPresentAtCrash: crash.rowsPresentAtCrash,
      redeliveredRecords: crash.redeliveries,
      handlerErrors: consumer.stats.handlerErrors,
    });

    expect(statusCounts(outcomes)).toEqual({ "202": stock, "409 SOLD_OUT": 240 - stock });
    // Every batch crashed once, after its rows were committed...
    expect(crash.batches).toBeGreaterThan(0);
    expect(crash.rowsPresentAtCrash).toBe(crash.records);
    // ...so every message came back at least once, and still: one row per accepted buy.
    expect(crash.redeliveries).toBeGreaterThanOrEqual(acceptedCount);
    expect(books.rows.length).toBe(acceptedCount);
    expect(books.duplicateRows).toBe(0);
    expect(new Set(books.rows.map((r) => r.userId)).size).toBe(acceptedCount);
    expect(promiseViolations(books, outcomes)).toEqual([]);
    expect(queues).toEqual({ orders: 0, dlq: 0 });
    expect(report.issues).toEqual([]);

    await teardown.run();
    expect(deadPids(pids)).toBe(true);
  });
});
