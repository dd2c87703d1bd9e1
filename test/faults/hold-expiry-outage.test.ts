import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { deliverPayment } from "../../local/payments.js";
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
  Teardown,
  waitFor,
} from "./support/harness.js";

/**
 * Fault 11: the expiry runner is down (no sweep runs: the EventBridge rule
 * disabled, the sweeper's function throttled or failing) and no buyer comes
 * (the reserve script would expire due holds itself), for several times the
 * payment window. Then it catches up, with two sweeps at once (an overlapping
 * scheduled run). Every due hold must expire exactly once: its units back once,
 * one `expired` event each, the paid orders untouched; the books balance
 * (paid + held + remaining = stock) before, during and after; the returned
 * units sell again, and no more than them.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

const PRICE = { amount: 1900, currency: "eur" };

describe("fault 11: the hold expiry runner down, then caught up", () => {
  it("expires every due hold exactly once, gives its units back once, and they sell again", async () => {
    const started = Date.now();
    const rig = await startRig(teardown);
    const { app, redis, db, services } = rig;
    rig.startConsumer(undefined, { batchSize: 10, batchingWindowMs: 20 });
    const sweep = await loadSweeper();
    const pids = rig.pids();

    const stock = 60;
    const holdSeconds = 2;
    const saleId = await createSale(app.url, {
      stock,
      prefix: "expiry-down",
      hold: { price: PRICE, holdSeconds },
    });
    const first = await startLoad({
      url: app.url,
      saleId,
      buyers: await makeBuyers(70, "holder"),
      concurrency: 10,
    }).done;
    const held = accepted(first);
    const heldAt = Date.now();
    expect(held).toHaveLength(stock);

    // A third of the holders pay in time.
    const payers = held.slice(0, 20);
    const payments = await Promise.all(
      payers.map((o) => deliverPayment(app.url, { orderId: o.orderId ?? "", ...PRICE })),
    );
    expect(payments.map((p) => p.status)).toEqual(payers.map(() => 200));

    // The runner is down: nothing sweeps, nobody buys, for the window and 4 s more.
    // Sample the books meanwhile: nothing expires on its own, and they balance.
    const samples: Array<Awaited<ReturnType<typeof holdCounts>>> = [];
    const downUntil = heldAt + holdSeconds * 1000 + 4_000;
    while (Date.now() < downUntil) {
      samples.push(await holdCounts(redis, saleId));
      await sleep(250);
    }
    const beforeCatchUp = await holdCounts(redis, saleId);
    expect(beforeCatchUp).toMatchObject({ remaining: 0, held: 40, paid: 20, expiredUnits: 0 });

    // It comes back: two sweeps at once, then one more.
    const catchUpAt = Date.now();
    const [a, b] = await Promise.all([sweep(), sweep()]);
    const unitsBackMs = Date.now() - catchUpAt;
    const afterCatchUp = await holdCounts(redis, saleId);
    const again = await sweep();
    const afterAgain = await holdCounts(redis, saleId);
    const states = await paymentStates(redis, saleId);
    const holdsLeft = await redis.zcard(saleKeys(saleId).holds);

    // The returned units sell again, to new buyers, and no more than them.
    const resale = await startLoad({
      url: app.url,
      saleId,
      buyers: await makeBuyers(50, "late"),
      concurrency: 10,
    }).done;
    const final = await holdCounts(redis, saleId);

    // The history lands: one held event per order, one paid per payer, one expired per lapsed hold.
    const orders = held.length + accepted(resale).length;
    await waitFor(
      "history in Postgres",
      async () => {
        const events = await orderEvents(db, saleId);
        return (
          (events.byEvent.held ?? 0) === orders &&
          (events.byEvent.expired ?? 0) === 40 &&
          (events.byEvent.paid ?? 0) === 20
        );
      },
      30_000,
    );
    await drained(rig.sqs, services.sqs?.ordersQueueUrl ?? "");
    const events = await orderEvents(db, saleId);
    const queues = await rig.depths();
    const delivered = a.delivered + b.delivered + again.delivered;
    const expired = a.expired + b.expired + again.expired;

    recordFault({
      fault: "11 hold expiry runner down then caught up",
      requests: first.length + resale.length,
      accepted: orders,
      statuses: statusCounts([...first, ...resale]),
      rows: await rig.rowCount(saleId),
      released: 0,
      dlq: queues.dlq,
      repaired: 0,
      durationMs: Date.now() - started,
      held: held.length,
      paid: afterCatchUp.paid,
      expired: Object.values(states).filter((s) => s === "expired").length,
      runnerDownMs: catchUpAt - (heldAt + holdSeconds * 1000),
      sweepLagMs: Math.max(a.lagMs, b.lagMs),
      catchUpMs: unitsBackMs,
      expiredPerSweep: [a.expired, b.expired, again.expired],
      eventsSentPerSweep: [a.delivered, b.delivered, again.delivered],
      resold: accepted(resale).length,
    });

    // The books balanced at every sample of the outage.
    for (const s of samples) expect(s.paid + s.held + s.remaining).toBe(stock);
    // Every due hold expired exactly once: 40 expiries in all, their units back once.
    expect(expired).toBe(40);
    expect(again.expired).toBe(0);
    expect(afterCatchUp).toMatchObject({ remaining: 40, held: 0, paid: 20, expiredUnits: 40 });
    expect(afterAgain).toMatchObject({ remaining: 40, held: 0, paid: 20, expiredUnits: 40 });
    expect(Object.values(states).sort()).toEqual([
      ...Array<string>(40).fill("expired"),
      ...Array<string>(20).fill("paid"),
    ]);
    for (const payer of payers) expect(states[payer.orderId ?? ""]).toBe("paid");
    expect(holdsLeft).toBe(0);
    // The lag is reported (the expiry-lag alarm reads it).
    expect(Math.max(a.lagMs, b.lagMs)).toBeGreaterThanOrEqual(catchUpAt - heldAt - 2_000 - 500);
    // Each history event went to the queue once (20 paid + 40 expired), none twice.
    expect(delivered).toBe(60);
    expect(afterAgain.outbox).toBe(0);
    // The returned units sold again, exactly them: no oversell.
    expect(accepted(resale)).toHaveLength(40);
    expect(resale.filter((o) => o.status !== 202).map((o) => o.code)).toEqual(
      Array<string>(10).fill("SOLD_OUT"),
    );
    expect(final).toMatchObject({ remaining: 0, held: 40, paid: 20, expiredUnits: 40 });
    expect(final.paid + final.held + final.remaining).toBe(stock);
    // Postgres: one row per accepted buy, each event once.
    expect(await rig.rowCount(saleId)).toBe(orders);
    expect(events.duplicates).toBe(0);
    expect(events.byEvent).toEqual({ held: orders, paid: 20, expired: 40 });
    expect(queues).toEqual({ orders: 0, dlq: 0 });

    await teardown.run();
    expect(deadPids(pids)).toBe(true);
  });
});
