import { afterEach, describe, expect, it } from "vitest";
import { signedPaymentEvent } from "../../local/payments.js";
import {
  accepted,
  countBy,
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
 * Fault 13: the provider delivers each payment event twice at the same moment
 * (Stripe retries on a timeout while the first delivery is still being
 * answered, or two of its workers pick the same event), and replays every one
 * again later, after the hold would have ended. Each order must be paid once:
 * one answer `duplicate: false`, every other `duplicate: true` with the same
 * result, one `paid` event in the history, the unit sold once; a replay after
 * the window neither expires the order nor records a refund.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

const PRICE = { amount: 990, currency: "gbp" };

interface Reply {
  status: number;
  body: { result?: string; duplicate?: boolean; orderId?: string; eventId?: string };
}

async function deliver(url: string, delivery: ReturnType<typeof signedPaymentEvent>) {
  const response = await fetch(`${url}/payments/webhook`, {
    method: "POST",
    headers: delivery.headers,
    body: delivery.body,
  });
  return { status: response.status, body: (await response.json()) as Reply["body"] };
}

describe("fault 13: a webhook delivered twice concurrently, and replayed later", () => {
  it("pays each order once: one payment, one paid event, idempotent answers", async () => {
    const started = Date.now();
    const rig = await startRig(teardown);
    const { app, db, redis, services } = rig;
    rig.startConsumer(undefined, { batchSize: 10, batchingWindowMs: 20 });
    const sweeper = sweepEvery(await loadSweeper(), 500);
    teardown.add(() => sweeper.stop());
    const pids = rig.pids();

    const stock = 30;
    const holdSeconds = 3;
    const saleId = await createSale(app.url, {
      stock,
      prefix: "twice",
      hold: { price: PRICE, holdSeconds },
    });
    const buys = await startLoad({
      url: app.url,
      saleId,
      buyers: await makeBuyers(stock, "payer"),
      concurrency: 10,
    }).done;
    const heldAt = Date.now();
    const orders = accepted(buys).map((o) => o.orderId ?? "");
    expect(orders).toHaveLength(stock);

    // One signed event per order (as the provider keeps one event per payment),
    // each delivered twice at once: 60 requests in flight together.
    const deliveries = orders.map((orderId) => signedPaymentEvent({ orderId, ...PRICE }));
    const concurrent = await Promise.all(
      deliveries.flatMap((d) => [deliver(app.url, d), deliver(app.url, d)]),
    );
    const afterConcurrent = await holdCounts(redis, saleId);

    // Later, past the end of every hold, the provider replays each event once more.
    await waitFor(
      "the holds' window is over",
      async () => Date.now() > heldAt + holdSeconds * 1000 + 500,
      10_000,
    );
    const replayAt = Date.now();
    const replays = await Promise.all(deliveries.map((d) => deliver(app.url, d)));
    await sweeper.stop();
    const lastSweep = await (await loadSweeper())();

    await waitFor(
      "paid events in Postgres",
      async () => ((await orderEvents(db, saleId)).byEvent.paid ?? 0) >= stock,
      20_000,
    );
    await drained(rig.sqs, services.sqs?.ordersQueueUrl ?? "");
    const events = await orderEvents(db, saleId);
    const counts = await holdCounts(redis, saleId);
    const states = await paymentStates(redis, saleId);
    const queues = await rig.depths();
    const sent = [...sweeper.reports, lastSweep].reduce((n, r) => n + r.delivered, 0);
    const expired = [...sweeper.reports, lastSweep].reduce((n, r) => n + r.expired, 0);
    const firsts = concurrent.filter((r) => r.body.duplicate === false);

    recordFault({
      fault: "13 webhook delivered twice concurrently and replayed",
      requests: buys.length + concurrent.length + replays.length,
      accepted: orders.length,
      statuses: {
        ...statusCounts(buys),
        ...countBy([...concurrent, ...replays], (r) => `webhook ${r.status}`),
      },
      rows: await rig.rowCount(saleId),
      released: 0,
      dlq: queues.dlq,
      repaired: 0,
      durationMs: Date.now() - started,
      concurrentDeliveries: concurrent.length,
      paidNow: firsts.length,
      duplicates:
        concurrent.length - firsts.length + replays.filter((r) => r.body.duplicate).length,
      replayedMsAfterWindow: replayAt - (heldAt + holdSeconds * 1000),
      paid: counts.paid,
      expired,
      paidEvents: events.byEvent.paid ?? 0,
      paidEventsSent: sent,
    });

    // Every delivery answered 200 paid; per order exactly one was the payment.
    for (const r of [...concurrent, ...replays])
      expect(r).toMatchObject({ status: 200, body: { result: "paid" } });
    expect(firsts.map((r) => r.body.orderId).sort()).toEqual([...orders].sort());
    expect(concurrent.filter((r) => r.body.duplicate === true)).toHaveLength(stock);
    expect(replays.every((r) => r.body.duplicate === true)).toBe(true);
    // The same event id answers the same way each time.
    for (const [i, d] of deliveries.entries()) {
      expect(concurrent[2 * i]?.body.eventId).toBe(d.eventId);
      expect(concurrent[2 * i + 1]?.body.eventId).toBe(d.eventId);
    }
    // One payment per order: the units sold once, nothing expired or refunded by the late replay.
    expect(afterConcurrent).toMatchObject({ paid: stock, held: 0, remaining: 0 });
    expect(counts).toMatchObject({
      paid: stock,
      held: 0,
      remaining: 0,
      expiredUnits: 0,
      outbox: 0,
    });
    expect(Object.values(states)).toEqual(orders.map(() => "paid"));
    expect(expired).toBe(0);
    // One paid event per order, sent once and recorded once.
    expect(sent).toBe(stock);
    expect(events.duplicates).toBe(0);
    expect(events.byEvent).toEqual({ held: stock, paid: stock });
    expect(queues).toEqual({ orders: 0, dlq: 0 });

    await teardown.run();
    expect(deadPids(pids)).toBe(true);
  });
});
