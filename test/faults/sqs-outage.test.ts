import { afterEach, describe, expect, it } from "vitest";
import { jsonClient } from "../../local/http-client.js";
import { type ProxyMode, startTcpProxy, type TcpProxy } from "../../local/services/index.js";
import {
  accepted,
  type BuyOutcome,
  buyOnce,
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
 * Fault 1: SQS becomes unavailable in the middle of a sale.
 *
 * The endpoint is made unavailable through a fault-injecting TCP proxy in front
 * of fauxqs rather than by stopping fauxqs: fauxqs keeps its queues in memory,
 * so stopping it would also delete every queued order, which real SQS never
 * does (see local/services/tcp-proxy.ts). Both the buy handler and the
 * consumer reach SQS through the proxy, as both would lose AWS' endpoint.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

describe("fault 1: the SQS endpoint goes away during a sale", () => {
  it("answers 503 and releases the reservation while SQS refuses or hangs; stock stays exact; sales continue once it returns", async () => {
    const started = Date.now();
    let proxy: TcpProxy | undefined;
    const rig = await startRig(teardown, {
      services: { queues: { visibilityTimeoutSeconds: 2, maxReceiveCount: 5 } },
      env: () => ({
        SQS_ENDPOINT: proxy?.url ?? "",
        // Deadlines short enough that a hung endpoint fails a buy in about a second.
        SQS_CONNECT_TIMEOUT_MS: "300",
        SQS_REQUEST_TIMEOUT_MS: "400",
        SQS_MAX_ATTEMPTS: "2",
      }),
      beforeApp: async (services) => {
        proxy = await startTcpProxy({ targetPort: services.sqs?.port ?? 0 });
        const started = proxy;
        teardown.add(() => started.stop());
      },
    });
    if (!proxy) throw new Error("the proxy did not start");
    const outage = proxy;
    const { app, db, services } = rig;
    rig.startConsumer(app.consume, { endpoint: outage.url });
    const pids = rig.pids();

    const stock = 300;
    const saleId = await createSale(app.url, { stock });
    const buyers = await makeBuyers(360);

    // Arrange the outage by answered requests, so it always lands mid-sale.
    const schedule: Array<[number, ProxyMode]> = [
      [80, "refuse"],
      [160, "blackhole"],
      [220, "pass"],
    ];
    const switchedAt: Partial<Record<ProxyMode, number>> = {};
    const load = startLoad({
      url: app.url,
      saleId,
      buyers,
      concurrency: 24,
      deadlineMs: 90_000,
      onAnswer: (answered) => {
        for (const [at, mode] of schedule) {
          if (answered === at) {
            outage.setMode(mode);
            switchedAt[mode] = Date.now();
          }
        }
      },
    });
    const first = await load.done;

    // Buyers told 503 retry once with the same Idempotency-Key, now that SQS is back.
    const unavailable = first.filter((o) => o.status === 503);
    const client = jsonClient(app.url, 16);
    const byUser = new Map(buyers.map((b) => [b.user, b]));
    const retries: BuyOutcome[] = [];
    for (const outcome of unavailable) {
      const buyer = byUser.get(outcome.user);
      if (buyer) retries.push(await buyOnce(client, saleId, buyer));
    }
    client.close();

    const all = [...first, ...retries];
    const acceptedIds = accepted(all).map((o) => o.orderId);
    await waitFor(
      "every accepted order persisted",
      async () =>
        (await db.query("SELECT count(*)::int AS n FROM orders WHERE sale_id = $1", [saleId]))
          .rows[0].n >= acceptedIds.length,
      30_000,
    );
    await drained(rig.sqs, services.sqs?.ordersQueueUrl ?? "");
    const books = await readBooks(rig.redis, db, saleId);
    const queues = await rig.depths();

    recordFault({
      fault: "1 SQS unavailable (refuse, then blackhole)",
      requests: all.length,
      accepted: acceptedIds.length,
      statuses: statusCounts(all),
      rows: books.rows.length,
      released: books.byState.released,
      dlq: queues.dlq,
      repaired: 0,
      durationMs: Date.now() - started,
      unavailableDuringOutage: unavailable.length,
      retriedAndAccepted: accepted(retries).length,
      proxy: { ...outage.stats },
    });

    // Only 202, 503 and (once the stock is gone) 409 SOLD_OUT; never a 500.
    expect(all.filter((o) => ![202, 503, 409].includes(o.status))).toEqual([]);
    expect(all.filter((o) => o.status === 409).every((o) => o.code === "SOLD_OUT")).toBe(true);
    // The outage was felt, and every 503 is the documented one.
    expect(unavailable.length).toBeGreaterThan(0);
    for (const outcome of unavailable) {
      expect(outcome.code).toBe("SERVICE_UNAVAILABLE");
      expect(outcome.retryAfter).toBe("1");
    }
    // Both kinds of outage produced 503s, and sales continued after it.
    const during = (from: number | undefined, to: number | undefined) =>
      first.filter((o) => o.sentAt >= (from ?? 0) && o.sentAt + o.ms <= (to ?? 0));
    expect(during(switchedAt.refuse, switchedAt.blackhole).some((o) => o.status === 503)).toBe(
      true,
    );
    expect(during(switchedAt.blackhole, switchedAt.pass).some((o) => o.status === 503)).toBe(true);
    expect(
      first.filter((o) => o.sentAt > (switchedAt.pass ?? Infinity) && o.status === 202).length,
    ).toBeGreaterThan(0);
    expect(accepted(retries).length).toBeGreaterThan(0);

    // Every 503 released its reservation: one released order per 503, none left reserved.
    expect(books.byState.released).toBe(all.filter((o) => o.status === 503).length);
    expect(promiseViolations(books, all)).toEqual([]);
    // Stock is exact: what is not accepted is still for sale.
    expect(books.remaining).toBe(stock - acceptedIds.length);
    expect(Object.keys(books.buyers).sort()).toEqual(
      accepted(all)
        .map((o) => o.user)
        .sort(),
    );
    expect(books.rows.length).toBe(acceptedIds.length);
    expect(queues).toEqual({ orders: 0, dlq: 0 });

    await teardown.run();
    expect(deadPids(pids)).toBe(true);
  });
});
