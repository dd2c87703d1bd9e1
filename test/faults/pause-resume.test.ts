import { afterEach, describe, expect, it } from "vitest";
import { jsonClient } from "../../local/http-client.js";
import {
  accepted,
  adminToken,
  type BuyOutcome,
  buyOnce,
  createSale,
  drained,
  makeBuyers,
  readBooks,
  recordFault,
  startLoad,
  startRig,
  statusCounts,
  Teardown,
} from "./support/harness.js";

/**
 * An operator pauses a sale in the middle of a drop and resumes it: from the
 * moment the pause is acknowledged until the resume is sent, no buy is
 * accepted (every one answers 409 SALE_PAUSED); buyers refused by the pause
 * retry with the same Idempotency-Key after the resume and are accepted; every
 * accepted buy is one row and stock stays exact.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

describe("operator pause and resume under load", () => {
  it("accepts nothing while paused and loses nothing across the switch", async () => {
    const started = Date.now();
    const rig = await startRig(teardown);
    const { app, redis, db, sqs, services } = rig;
    rig.startConsumer(app.consume);
    const stock = 1_000;
    const saleId = await createSale(app.url, { stock });
    const admin = jsonClient(app.url, 2);
    teardown.add(async () => admin.close());
    const authorization = `Bearer ${await adminToken()}`;
    const control = async (paused: boolean) => {
      const reply = await admin.call("POST", `/admin/sales/${saleId}/controls`, {
        headers: { authorization },
        body: { paused },
      });
      expect(reply.status).toBe(200);
      return reply.body as { paused?: boolean };
    };

    const buyers = await makeBuyers(400);
    let pausedAt = Number.POSITIVE_INFINITY;
    let resumeSentAt = Number.POSITIVE_INFINITY;
    let switching: Promise<void> | undefined;
    const load = startLoad({
      url: app.url,
      saleId,
      buyers,
      concurrency: 16,
      deadlineMs: 60_000,
      onAnswer: (answered) => {
        if (answered === 100) {
          switching = (async () => {
            expect((await control(true)).paused).toBe(true);
            pausedAt = Date.now();
            // Paused for as long as it takes the load to send ~120 more buys.
            while (load.answered() < 220) await new Promise((r) => setTimeout(r, 5));
            resumeSentAt = Date.now();
            expect((await control(false)).paused).toBeUndefined();
          })();
        }
      },
    });
    const first = await load.done;
    await switching;

    const inPause = first.filter((o) => o.sentAt >= pausedAt && o.sentAt + o.ms <= resumeSentAt);
    expect(inPause.length).toBeGreaterThan(50);
    expect(accepted(inPause)).toHaveLength(0);
    expect(inPause.every((o) => o.status === 409 && o.code === "SALE_PAUSED")).toBe(true);
    const pausedOut = first.filter((o) => o.code === "SALE_PAUSED");
    // Every answer is a 202 or the pause's 409: nothing else went wrong.
    expect(first.every((o) => o.status === 202 || o.code === "SALE_PAUSED")).toBe(true);

    // Refused buyers retry with the same key after the resume: all accepted.
    const byUser = new Map(buyers.map((b) => [b.user, b]));
    const client = jsonClient(app.url, 8);
    teardown.add(async () => client.close());
    const retries: BuyOutcome[] = [];
    for (const o of pausedOut) {
      const buyer = byUser.get(o.user);
      if (buyer) retries.push(await buyOnce(client, saleId, buyer));
    }
    expect(accepted(retries)).toHaveLength(pausedOut.length);

    await drained(sqs, services.sqs?.ordersQueueUrl ?? "");
    const acceptedIds = [...accepted(first), ...accepted(retries)].map((o) => o.orderId);
    expect(new Set(acceptedIds).size).toBe(400);
    let books = await readBooks(redis, db, saleId);
    for (let i = 0; i < 100 && books.rows.length < 400; i++) {
      await new Promise((r) => setTimeout(r, 100));
      books = await readBooks(redis, db, saleId);
    }
    expect(books.rows.map((r) => r.orderId).sort()).toEqual([...acceptedIds].sort());
    expect(books.duplicateRows).toBe(0);
    expect(books.remaining).toBe(stock - 400);

    recordFault({
      fault: "operator pause and resume under load",
      requests: first.length + retries.length,
      accepted: acceptedIds.length,
      statuses: statusCounts([...first, ...retries]),
      rows: books.rows.length,
      released: books.byState.released,
      dlq: 0,
      repaired: 0,
      durationMs: Date.now() - started,
      pausedMs: resumeSentAt - pausedAt,
      refusedWhilePaused: pausedOut.length,
      answeredInsideThePause: inPause.length,
    });
  });
});
