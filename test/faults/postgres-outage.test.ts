import { execFile } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { PROJECT_ROOT } from "../../local/services/index.js";
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
 * Fault 2: Postgres crashes (SIGKILL) while the consumer is writing a sale's
 * orders, and stays down long enough for some messages to exhaust
 * maxReceiveCount. Postgres runs with its durable settings, as in AWS. The queue has a 1 s visibility timeout and maxReceiveCount
 * 2, so a message failed twice lands in the DLQ within a few seconds.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

describe("fault 2: Postgres stops while the consumer runs", () => {
  it("retries the messages, parks those past maxReceiveCount in the DLQ, and after redrive every accepted buy is exactly one row", async () => {
    const started = Date.now();
    const rig = await startRig(teardown, {
      // Durable Postgres, as in AWS: the tests' fast settings (synchronous_commit=off)
      // let a crash lose commits the consumer was already told about.
      services: { durable: true, queues: { visibilityTimeoutSeconds: 1, maxReceiveCount: 2 } },
      env: () => ({ DATABASE_CONNECT_TIMEOUT_MS: "300" }),
    });
    const { app, services, db } = rig;
    const postgres = services.postgres;
    if (!postgres) throw new Error("postgres did not start");
    // Counts the records that failed at least once and were then persisted without the DLQ.
    const retriedAndPersisted = new Set<string>();
    const consume: SqsLambda = async (event, context) => {
      const response = await app.consume(event, context);
      const failed = new Set(response?.batchItemFailures.map((f) => f.itemIdentifier));
      for (const record of event.Records) {
        if (!failed.has(record.messageId) && Number(record.attributes.ApproximateReceiveCount) > 1)
          retriedAndPersisted.add(record.messageId);
      }
      return response;
    };
    const consumer = rig.startConsumer(consume, { batchSize: 10, batchingWindowMs: 20 });
    const pids = rig.pids();

    const stock = 320;
    const saleId = await createSale(app.url, { stock });
    const buyers = await makeBuyers(300);
    // About 40 buys a second for 7.5 s: the outage (at least 3 s, plus Postgres' crash
    // recovery, which took up to 1.7 s on a loaded 2-core machine) begins and ends while
    // buyers keep coming.
    const load = startLoad({
      url: app.url,
      saleId,
      buyers,
      concurrency: 10,
      workerIntervalMs: 250,
    });

    await whenAnswered(load, 40);
    const rowsBefore = await rig.rowCount(saleId);
    const failedBefore = consumer.stats.failedRecords;
    await postgres.stop("SIGKILL");
    const downAt = Date.now();

    // Down until some messages have exhausted their receives, and at least 3 s.
    await waitFor("a message in the DLQ", async () => (await rig.depths()).dlq > 0, 20_000);
    await sleep(Math.max(0, 3_000 - (Date.now() - downAt)));
    const failedWhileDown = consumer.stats.failedRecords - failedBefore;
    // The postmaster's children exit on their own once it is gone; retry until the port is free.
    await waitFor(
      "postgres restarted",
      async () => {
        await postgres.start();
        return true;
      },
      15_000,
      200,
    );
    const downMs = Date.now() - downAt;
    pids.push(postgres.pid);
    const answeredAtRestart = load.answered();
    const first = await load.done;

    // Sales continue once it is back.
    const later = await startLoad({
      url: app.url,
      saleId,
      buyers: await makeBuyers(20, "after"),
      concurrency: 8,
    }).done;
    const all = [...first, ...later];
    await drained(rig.sqs, services.sqs?.ordersQueueUrl ?? "");
    const dlqBeforeRedrive = (await rig.depths()).dlq;
    const rowsBeforeRedrive = await rig.rowCount(saleId);

    // The operator's command, as documented: npm run redrive, configured by the environment.
    const { stdout } = await promisify(execFile)("npm", ["run", "-s", "redrive"], {
      cwd: PROJECT_ROOT,
      env: { ...process.env, ...rig.env, POWERTOOLS_LOG_LEVEL: "ERROR" },
      timeout: 60_000,
    });
    const moved = Number(/moved (\d+) message/.exec(stdout)?.[1] ?? Number.NaN);

    const acceptedCount = accepted(all).length;
    await waitFor(
      "redriven orders persisted",
      async () => (await rig.rowCount(saleId)) >= acceptedCount,
      30_000,
    );
    await drained(rig.sqs, services.sqs?.ordersQueueUrl ?? "");
    const books = await readBooks(rig.redis, db, saleId);
    const queues = await rig.depths();
    const report = await rig.reconcile(saleId, { repair: false, graceMs: 0 });

    recordFault({
      fault: "2 Postgres down while the consumer runs",
      requests: all.length,
      accepted: acceptedCount,
      statuses: statusCounts(all),
      rows: books.rows.length,
      released: books.byState.released,
      dlq: dlqBeforeRedrive,
      repaired: 0,
      durationMs: Date.now() - started,
      postgresDownMs: downMs,
      rowsWhenStopped: rowsBefore,
      recordFailuresWhileDown: failedWhileDown,
      buysAnsweredDuringOutage: answeredAtRestart - 40,
      retriedThenPersisted: retriedAndPersisted.size,
      rowsBeforeRedrive,
      redriven: moved,
    });

    // The buy path does not touch Postgres: every buy was answered as usual.
    expect(all.filter((o) => o.status !== 202 && o.status !== 409)).toEqual([]);
    // Messages were retried while Postgres was down, and some exhausted their receives.
    expect(failedWhileDown).toBeGreaterThan(0);
    expect(answeredAtRestart).toBeLessThan(buyers.length);
    expect(retriedAndPersisted.size).toBeGreaterThan(0);
    expect(dlqBeforeRedrive).toBeGreaterThan(0);
    expect(rowsBeforeRedrive).toBeGreaterThanOrEqual(acceptedCount - dlqBeforeRedrive);
    expect(rowsBeforeRedrive).toBeLessThan(acceptedCount);
    // Redrive brought every parked message back, and each became exactly one row.
    expect(moved).toBe(dlqBeforeRedrive);
    expect(queues).toEqual({ orders: 0, dlq: 0 });
    expect(books.rows.length).toBe(acceptedCount);
    expect(promiseViolations(books, all)).toEqual([]);
    expect(books.byState.confirmed).toBe(acceptedCount);
    expect(report.issues).toEqual([]);

    await teardown.run();
    expect(deadPids(pids)).toBe(true);
  });
});
