import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { reconcileDeps } from "../lambdas/adapters/reconcile-deps.js";
import { saleKeys } from "../lambdas/adapters/redis/keys.js";
import { defineScripts } from "../lambdas/adapters/redis/scripts.js";
import { reconcileSale } from "../lambdas/domain/reconcile.js";
import { outcomeLabel, outcomeOf } from "./api-outcome.js";
import { signLocalToken } from "./auth.js";
import type { DemoCheck } from "./demo.js";
import { jsonClient, percentile } from "./http-client.js";
import { deliverPayment } from "./payments.js";
import { localSqsClient } from "./services/sqs-server.js";

/**
 * The second part of `npm start`'s demo: a small sale with a payment window.
 * Every buyer fires at once; the accepted ones are held. The simulated
 * provider (the code `npm run pay` uses: Stripe's signature, the local
 * secret) pays part of them; the rest let their hold run out, and the buyers
 * who were refused keep retrying, so the returned units sell again to them
 * (the reserve script expires due holds itself). One expired order is paid
 * late: it becomes `refund_due`, and reconcile lists it. The resold orders
 * are paid too. Then the books are checked.
 */

export interface HoldDemoOptions {
  url: string;
  env: Record<string, string>;
  stock?: number;
  buyers?: number;
  holdSeconds?: number;
  /** How many of the first holders pay in time (default 60 % of them). */
  payers?: number;
  log?: (line: string) => void;
}

export interface HoldDemoSummary {
  saleId: string;
  stock: number;
  holdSeconds: number;
  buyers: number;
  /** Orders accepted (held) in the first rush. */
  held: number;
  /** Orders paid in time (first holders and the resold ones). */
  paid: number;
  expired: number;
  refundDue: number;
  /** Units that expired holds gave back and that were bought again. */
  resold: number;
  /** Retries of waiting buyers (refused 409 until a unit came back). */
  retries: number;
  /** From a hold's end to its unit's next sale (the i-th expiry paired with the i-th resale). */
  backOnSaleMs: { p50: number; max: number } | null;
  wallMs: number;
  checks: DemoCheck[];
  ok: boolean;
}

const PRICE = { amount: 2500, currency: "eur" };

export async function runHoldDemo(options: HoldDemoOptions): Promise<HoldDemoSummary> {
  const stock = options.stock ?? 20;
  const buyerCount = options.buyers ?? 60;
  const holdSeconds = options.holdSeconds ?? 3;
  const log = options.log ?? (() => {});
  const started = performance.now();
  const saleId = `hold-${new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, "")
    .slice(0, 14)}-${randomUUID().slice(0, 4)}`;
  const client = jsonClient(options.url, buyerCount + 16);
  const db = new pg.Pool({
    connectionString: options.env.DATABASE_URL,
    max: 2,
    application_name: "hold-demo",
  });
  db.on("error", () => {});
  const redis = defineScripts(new Redis(options.env.REDIS_URL ?? ""));
  const sqs = localSqsClient(options.env.SQS_ENDPOINT ?? "");
  try {
    const admin = await signLocalToken({ sub: "demo-admin", scopes: ["admin"] });
    const created = await client.call("POST", "/sales", {
      headers: { authorization: `Bearer ${admin}` },
      body: { id: saleId, name: "Hold demo", stock, perUserLimit: 1, price: PRICE, holdSeconds },
    });
    if (created.status !== 201)
      throw new Error(
        `could not create the hold sale: ${created.status} ${JSON.stringify(created.body)}`,
      );
    log(
      `hold sale ${saleId}: ${stock} units at ${PRICE.amount} ${PRICE.currency} (minor units), a ${holdSeconds} s payment window, ${buyerCount} buyers`,
    );

    const buyers = await Promise.all(
      Array.from({ length: buyerCount }, async (_, i) => ({
        user: `hold-buyer-${i}`,
        token: await signLocalToken({ sub: `hold-buyer-${i}` }),
        key: randomUUID(),
      })),
    );
    const buy = (b: (typeof buyers)[number]) =>
      client.call("POST", `/sales/${saleId}/buy`, {
        headers: { authorization: `Bearer ${b.token}`, "idempotency-key": b.key },
        body: { quantity: 1 },
      });
    const view = async (orderId: string, token: string) =>
      (
        await client.call("GET", `/orders/${orderId}`, {
          headers: { authorization: `Bearer ${token}` },
        })
      ).body as { status?: string; expiresAt?: string };

    // The rush: everyone at once.
    const first = await Promise.all(buyers.map(async (b) => ({ b, reply: await buy(b) })));
    const holders = first
      .filter((x) => x.reply.status === 202)
      .map((x) => ({ ...x.b, orderId: (x.reply.body as { orderId: string }).orderId }));
    const waiting = first.filter((x) => x.reply.status === 409).map((x) => x.b);
    const otherStatuses: Record<string, number> = {};
    for (const { reply } of first)
      if (reply.status !== 202 && reply.status !== 409) {
        const key = `${reply.status} ${outcomeLabel(outcomeOf(reply.status, reply.body))}`;
        otherStatuses[key] = (otherStatuses[key] ?? 0) + 1;
      }
    const expiresAtMs = new Map<string, number>();
    for (const h of holders) {
      const v = await view(h.orderId, h.token);
      expiresAtMs.set(h.orderId, Date.parse(v.expiresAt ?? ""));
    }
    log(
      `  ${holders.length} held (awaiting_payment), ${waiting.length} refused and waiting for a unit to come back`,
    );

    // Part of the holders pay in time, through the simulated provider.
    const payerCount = Math.min(holders.length, options.payers ?? Math.round(holders.length * 0.6));
    const payers = holders.slice(0, payerCount);
    const lapsing = holders.slice(payerCount);
    const payments = await Promise.all(
      payers.map((h) => deliverPayment(options.url, { orderId: h.orderId, ...PRICE })),
    );
    log(
      `  ${payers.length} paid through the simulated provider; ${lapsing.length} let their hold run out`,
    );

    // The waiting buyers retry every 50 ms until they get a unit, or 3 s after the last hold ended.
    const lastEnd = Math.max(...[...expiresAtMs.values()], Date.now());
    const retryUntil = lastEnd + 3_000;
    let retries = 0;
    const resales: Array<{ b: (typeof buyers)[number]; orderId: string; atMs: number }> = [];
    await Promise.all(
      waiting.map(async (b) => {
        while (Date.now() < retryUntil && resales.length < lapsing.length) {
          const reply = await buy(b);
          retries++;
          if (reply.status === 202) {
            resales.push({
              b,
              orderId: (reply.body as { orderId: string }).orderId,
              atMs: Date.now(),
            });
            return;
          }
          await sleep(50);
        }
      }),
    );
    log(`  ${resales.length} returned units bought again by waiting buyers (${retries} retries)`);
    const ends = lapsing.map((h) => expiresAtMs.get(h.orderId) ?? 0).sort((a, b) => a - b);
    const lags = resales
      .map((r) => r.atMs)
      .sort((a, b) => a - b)
      .map((at, i) => at - (ends[i] ?? at))
      .sort((a, b) => a - b);

    // One lapsed holder pays late: the order stays expired, the payment is a refund due.
    const late = lapsing[0];
    const latePayment = late
      ? await deliverPayment(options.url, { orderId: late.orderId, ...PRICE })
      : undefined;
    // The new holders pay in time.
    const resalePayments = await Promise.all(
      resales.map((r) => deliverPayment(options.url, { orderId: r.orderId, ...PRICE })),
    );

    // The states as buyers see them.
    const orders = [
      ...holders.map((h) => ({ orderId: h.orderId, token: h.token })),
      ...resales.map((r) => ({ orderId: r.orderId, token: r.b.token })),
    ];
    const states: Record<string, number> = {};
    for (const o of orders) {
      const status = (await view(o.orderId, o.token)).status ?? "unknown";
      states[status] = (states[status] ?? 0) + 1;
    }

    // Every paid order a row with a paid event (the sweeper sends the history; the consumer writes it).
    const paidIds = [...payers.map((h) => h.orderId), ...resales.map((r) => r.orderId)];
    log("  waiting for the order history to reach Postgres ...");
    const historyQuery = () =>
      db.query<{ order_id: string }>(
        `SELECT o.order_id FROM orders o JOIN order_events e
           ON e.order_id = o.order_id AND e.event = 'paid'
         WHERE o.order_id = ANY($1::text[])`,
        [paidIds],
      );
    const deadline = Date.now() + 20_000;
    let withHistory = 0;
    while (Date.now() < deadline) {
      withHistory = (await historyQuery()).rows.length;
      if (withHistory >= paidIds.length) break;
      await sleep(200);
    }

    const [remaining = 0, held = 0, paid = 0] = (
      await redis.hmget(saleKeys(saleId).sale, "remaining", "held", "paid")
    ).map(Number);
    const reconcile = await reconcileSale(
      reconcileDeps({
        redis,
        db,
        sqs,
        queues: {
          ordersQueueUrl: options.env.ORDERS_QUEUE_URL ?? "",
          deadLetterQueueUrl: options.env.ORDERS_DLQ_URL ?? "",
        },
      }),
      saleId,
      { repair: false, graceMs: 60_000 },
    );
    const paidNow = [...payments, ...resalePayments].filter(
      (p) => p.status === 200 && (p.body as { result?: string }).result === "paid",
    ).length;
    const checks: DemoCheck[] = [
      {
        name: "no oversell",
        ok: remaining >= 0 && paid + held <= stock && holders.length <= stock,
        detail: `paid ${paid} + held ${held} of ${stock}`,
      },
      {
        name: "paid + held + remaining = stock",
        ok: paid + held + remaining === stock,
        detail: `${paid} + ${held} + ${remaining} = ${paid + held + remaining}`,
      },
      {
        name: "every payment in time answered paid",
        ok: paidNow === paidIds.length,
        detail: `${paidNow} of ${paidIds.length}`,
      },
      {
        name: "every returned unit sold again",
        ok: resales.length === lapsing.length,
        detail: `${resales.length} of ${lapsing.length}`,
      },
      {
        name: "the late payment is a refund due, listed by reconcile",
        ok:
          late === undefined ||
          ((latePayment?.body as { result?: string } | undefined)?.result === "refund_due" &&
            reconcile.refundsDue.some((r) => r.orderId === late.orderId)),
        detail: late ? JSON.stringify(latePayment?.body) : "no lapsed hold",
      },
      {
        name: "every paid order a row with a paid event",
        ok: withHistory === paidIds.length,
        detail: `${withHistory} of ${paidIds.length}`,
      },
      {
        name: "no server errors",
        ok: Object.keys(otherStatuses).length === 0,
        detail: JSON.stringify(otherStatuses),
      },
    ];
    return {
      saleId,
      stock,
      holdSeconds,
      buyers: buyerCount,
      held: holders.length,
      paid: states.paid ?? 0,
      expired: (states.expired ?? 0) + (states.refund_due ?? 0),
      refundDue: states.refund_due ?? 0,
      resold: resales.length,
      retries,
      backOnSaleMs: lags.length > 0 ? { p50: percentile(lags, 50), max: lags.at(-1) ?? 0 } : null,
      wallMs: performance.now() - started,
      checks,
      ok: checks.every((c) => c.ok),
    };
  } finally {
    client.close();
    redis.disconnect();
    sqs.destroy();
    await db.end();
  }
}

export function formatHoldSummary(s: HoldDemoSummary): string {
  const rows: Array<[string, string]> = [
    ["stock / window", `${s.stock} units, ${s.holdSeconds} s to pay`],
    ["buyers", String(s.buyers)],
    ["held in the rush", String(s.held)],
    ["paid (in time)", `${s.paid} (the first holders who paid, and the buyers of returned units)`],
    ["expired", `${s.expired} (units back on sale; the refund_due below is one of them)`],
    ["refund_due", `${s.refundDue} (paid after the hold ended: stays expired, money goes back)`],
    ["returned units resold", `${s.resold} (${s.retries} retries by waiting buyers)`],
    [
      "hold end -> unit sold again",
      s.backOnSaleMs
        ? `p50 ${s.backOnSaleMs.p50.toFixed(0)} ms, max ${s.backOnSaleMs.max.toFixed(0)} ms (buyers retrying every 50 ms; the reserve expires due holds itself)`
        : "no unit came back",
    ],
    ["wall time", `${Math.round(s.wallMs)} ms`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    `Hold sale ${s.saleId}`,
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
    "Checks:",
  ];
  for (const check of s.checks)
    lines.push(`  [${check.ok ? "ok" : "FAIL"}] ${check.name}: ${check.detail}`);
  lines.push(s.ok ? "All hold checks passed." : "SOME HOLD CHECKS FAILED.");
  return lines.join("\n");
}
