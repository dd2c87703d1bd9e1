import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { deliverPayment } from "../../local/payments.js";
import type { SqsLambda } from "../../local/sqs-event-source.js";
import {
  accepted,
  createSale,
  deadPids,
  drained,
  holdCounts,
  loadSweeper,
  makeBuyers,
  orderEvents,
  paymentStates,
  recordFault,
  startLoad,
  startRig,
  statusCounts,
  sweepEvery,
  Teardown,
  waitFor,
} from "./support/harness.js";

/**
 * Fault 12: Postgres crashes (SIGKILL, durable settings as in AWS) while the
 * payments of a hold sale arrive. The webhook touches only Redis, so every
 * payment is answered 2xx at once and the order is paid; the `paid` history
 * events go from the sale's outbox to the orders queue (the sweeper, every
 * 500 ms here) and fail in the consumer until Postgres is back, when each lands
 * exactly once. The queue's 1 s visibility timeout retries them quickly; its
 * maxReceiveCount (20) outlasts the outage, so none needs a redrive.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

const PRICE = { amount: 4200, currency: "usd" };

describe("fault 12: Postgres down while payments arrive", () => {
  it("answers every webhook 2xx from Redis, and after Postgres returns every paid event lands exactly once", async () => {
    const started = Date.now();
    const rig = await startRig(teardown, {
      services: { durable: true, queues: { visibilityTimeoutSeconds: 1, maxReceiveCount: 20 } },
      env: () => ({ DATABASE_CONNECT_TIMEOUT_MS: "300" }),
    });
    const { app, services, db, redis } = rig;
    const postgres = services.postgres;
    if (!postgres) throw new Error("postgres did not start");
    let failedRecords = 0;
    const retriedAndPersisted = new Set<string>();
    const consume: SqsLambda = async (event, context) => {
      const response = await app.consume(event, context);
      const failed = new Set(response?.batchItemFailures.map((f) => f.itemIdentifier));
      failedRecords += failed.size;
      for (const record of event.Records) {
        if (!failed.has(record.messageId) && Number(record.attributes.ApproximateReceiveCount) > 1)
          retriedAndPersisted.add(record.messageId);
      }
      return response;
    };
    rig.startConsumer(consume, { batchSize: 10, batchingWindowMs: 20 });
    const sweeper = sweepEvery(await loadSweeper(), 500);
    teardown.add(() => sweeper.stop());
    const pids = rig.pids();

    const stock = 40;
    const saleId = await createSale(app.url, {
      stock,
      prefix: "pay-pg-down",
      hold: { price: PRICE, holdSeconds: 120 },
    });
    const buys = await startLoad({
      url: app.url,
      saleId,
      buyers: await makeBuyers(stock, "payer"),
      concurrency: 10,
    }).done;
    const orders = accepted(buys).map((o) => o.orderId ?? "");
    expect(orders).toHaveLength(stock);
    await waitFor(
      "rows and held events in Postgres",
      async () => ((await orderEvents(db, saleId)).byEvent.held ?? 0) === stock,
      20_000,
    );

    await postgres.stop("SIGKILL");
    const downAt = Date.now();
    // The payments arrive while it is down, a few at a time over about 2 s.
    const replies: Array<{ status: number; ms: number; body: unknown }> = [];
    for (let i = 0; i < orders.length; i += 4) {
      const batch = orders.slice(i, i + 4);
      replies.push(
        ...(await Promise.all(
          batch.map(async (orderId) => {
            const sentAt = Date.now();
            const reply = await deliverPayment(app.url, { orderId, ...PRICE });
            return { ...reply, ms: Date.now() - sentAt };
          }),
        )),
      );
      await sleep(200);
    }
    const paidWhileDown = await holdCounts(redis, saleId);
    // Down until the consumer has failed paid events, and at least 4 s.
    await waitFor("paid events failing in the consumer", async () => failedRecords > 0, 20_000);
    await sleep(Math.max(0, 4_000 - (Date.now() - downAt)));
    const failedWhileDown = failedRecords;
    const eventsWhileDown = await db
      .query("SELECT 1")
      .then(() => "reachable")
      .catch(() => "unreachable");
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

    await waitFor(
      "paid events in Postgres",
      async () => ((await orderEvents(db, saleId)).byEvent.paid ?? 0) >= stock,
      30_000,
    );
    const landedMs = Date.now() - downAt - downMs;
    await sleep(1_500); // a redelivery still on its way would land now
    await sweeper.stop();
    await drained(rig.sqs, services.sqs?.ordersQueueUrl ?? "");
    const events = await orderEvents(db, saleId);
    const counts = await holdCounts(redis, saleId);
    const states = await paymentStates(redis, saleId);
    const queues = await rig.depths();
    const sent = sweeper.reports.reduce((n, r) => n + r.delivered, 0);

    recordFault({
      fault: "12 Postgres down while payments arrive",
      requests: buys.length + replies.length,
      accepted: orders.length,
      statuses: {
        ...statusCounts(buys),
        ...Object.fromEntries(
          Object.entries(
            replies.reduce<Record<string, number>>((m, r) => {
              const key = `webhook ${r.status}`;
              m[key] = (m[key] ?? 0) + 1;
              return m;
            }, {}),
          ),
        ),
      },
      rows: await rig.rowCount(saleId),
      released: 0,
      dlq: queues.dlq,
      repaired: 0,
      durationMs: Date.now() - started,
      postgresDownMs: downMs,
      paymentsWhileDown: replies.length,
      webhookMaxMs: Math.max(...replies.map((r) => r.ms)),
      paidEventFailuresWhileDown: failedWhileDown,
      retriedThenPersisted: retriedAndPersisted.size,
      paidEventsLandedMsAfterRestart: landedMs,
      paidEventsSent: sent,
      paidEvents: events.byEvent.paid ?? 0,
    });

    // Postgres was really down while the payments came.
    expect(eventsWhileDown).toBe("unreachable");
    // Every webhook answered 2xx, as paid, at once: it needs no Postgres.
    expect(replies.map((r) => r.status)).toEqual(orders.map(() => 200));
    for (const r of replies) expect(r.body).toMatchObject({ result: "paid", duplicate: false });
    expect(paidWhileDown).toMatchObject({ paid: stock, held: 0, remaining: 0 });
    // Their history failed while it was down, was retried, and then landed once each.
    expect(failedWhileDown).toBeGreaterThan(0);
    expect(retriedAndPersisted.size).toBeGreaterThan(0);
    expect(sent).toBe(stock);
    expect(events.duplicates).toBe(0);
    expect(events.byEvent).toEqual({ held: stock, paid: stock });
    expect(new Set(events.rows.filter((r) => r.event === "paid").map((r) => r.order_id))).toEqual(
      new Set(orders),
    );
    expect(Object.values(states)).toEqual(orders.map(() => "paid"));
    expect(counts).toMatchObject({ paid: stock, held: 0, remaining: 0, outbox: 0 });
    expect(await rig.rowCount(saleId)).toBe(stock);
    expect(queues).toEqual({ orders: 0, dlq: 0 });

    await teardown.run();
    expect(deadPids(pids)).toBe(true);
  });
});
