import { randomUUID } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "ioredis";
import pg from "pg";
import { drawKeys, saleKeys } from "../lambdas/adapters/redis/keys.js";
import { verifyDraw } from "../lambdas/domain/draw.js";
import type { EntryView } from "../lambdas/domain/draw-entries.js";
import { signLocalToken } from "./auth.js";
import type { DemoCheck } from "./demo.js";
import { fetchDraw, fetchDrawState } from "./draw-api.js";
import { jsonClient } from "./http-client.js";
import { deliverPayment } from "./payments.js";

/**
 * The third part of `npm start`'s demo: a draw (docs/draws.md). Entrants
 * enter during a short window (some for 2 units); at its close the local draw
 * runner (the run-draws function on a 2 s timer) freezes the entries, draws
 * and awards held orders; the demo verifies the draw from the public routes
 * as any buyer could; part of the winners pay, the others let their hold run
 * out, and their units pass to the alternates in drawn order, who pay. Then
 * the books are checked.
 */

export interface DrawDemoOptions {
  url: string;
  env: Record<string, string>;
  stock?: number;
  entrants?: number;
  holdSeconds?: number;
  windowSeconds?: number;
  log?: (line: string) => void;
}

export interface DrawDemoSummary {
  saleId: string;
  stock: number;
  entrants: number;
  entered: number;
  winners: number;
  alternates: number;
  paid: number;
  expired: number;
  /** From the close of entries to the draw's result being public. */
  drawnAfterCloseMs: number;
  verified: boolean;
  rows: number;
  wallMs: number;
  checks: DemoCheck[];
  ok: boolean;
}

const PRICE = { amount: 4000, currency: "eur" };

export async function runDrawDemo(options: DrawDemoOptions): Promise<DrawDemoSummary> {
  const stock = options.stock ?? 10;
  const entrantCount = options.entrants ?? 200;
  const holdSeconds = options.holdSeconds ?? 3;
  const windowMs = (options.windowSeconds ?? 3) * 1000;
  const log = options.log ?? (() => {});
  const started = performance.now();
  const saleId = `draw-${new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, "")
    .slice(0, 14)}-${randomUUID().slice(0, 4)}`;
  const client = jsonClient(options.url, 64);
  const db = new pg.Pool({
    connectionString: options.env.DATABASE_URL,
    max: 2,
    application_name: "draw-demo",
  });
  db.on("error", () => {});
  const redis = new Redis(options.env.REDIS_URL ?? "");
  const otherStatuses: Record<string, number> = {};
  const note = (status: number) => {
    if (status >= 500 || status === 0) otherStatuses[status] = (otherStatuses[status] ?? 0) + 1;
  };
  try {
    const admin = await signLocalToken({ sub: "demo-admin", scopes: ["admin"] });
    const closeAt = Date.now() + windowMs;
    const created = await client.call("POST", "/sales", {
      headers: { authorization: `Bearer ${admin}` },
      body: {
        id: saleId,
        name: "Draw demo",
        stock,
        perUserLimit: 2,
        price: PRICE,
        holdSeconds,
        mode: "draw",
        entriesCloseAt: new Date(closeAt).toISOString(),
      },
    });
    if (created.status !== 201)
      throw new Error(
        `could not create the draw: ${created.status} ${JSON.stringify(created.body)}`,
      );
    const commitment = (created.body as { draw?: { commitment?: string } }).draw?.commitment ?? "";
    log(
      `draw ${saleId}: ${stock} units, ${entrantCount} entrants, entries close in ${windowMs / 1000} s, winners have ${holdSeconds} s to pay; commitment ${commitment.slice(0, 16)}...`,
    );

    const entrants = await Promise.all(
      Array.from({ length: entrantCount }, async (_, i) => ({
        user: `entrant-${i}`,
        token: await signLocalToken({ sub: `entrant-${i}` }),
        quantity: i % 5 === 0 ? 2 : 1,
      })),
    );
    const auth = (token: string) => ({ authorization: `Bearer ${token}` });
    const entries = await Promise.all(
      entrants.map((e) =>
        client.call("POST", `/sales/${saleId}/entries`, {
          headers: auth(e.token),
          body: { quantity: e.quantity },
        }),
      ),
    );
    for (const reply of entries) note(reply.status);
    const entered = entries.filter((r) => r.status === 201).length;
    const first = entrants[0];
    const again = first
      ? await client.call("POST", `/sales/${saleId}/entries`, {
          headers: auth(first.token),
          body: { quantity: 1 },
        })
      : undefined;
    log(`  ${entered} entries (201); a second entry answers ${again?.status} with the first`);

    // The runner freezes at the close and draws after the settle time.
    let published = null as Awaited<ReturnType<typeof fetchDraw>>;
    const drawDeadline = closeAt + 30_000;
    while (Date.now() < drawDeadline) {
      published = await fetchDraw(options.url, saleId);
      if (published) break;
      await sleep(200);
    }
    const drawnAfterCloseMs = Date.now() - closeAt;
    if (!published) throw new Error(`the draw of ${saleId} did not run within 30 s of its close`);
    const check = verifyDraw(published.draw, published.packed);
    log(
      `  drawn ${(drawnAfterCloseMs / 1000).toFixed(1)} s after the close; verified from the public routes: ${check.ok ? "ok" : check.problems.join("; ")}`,
    );

    const viewOf = async (e: (typeof entrants)[number]) => {
      const reply = await client.call("GET", `/sales/${saleId}/entries/me`, {
        headers: auth(e.token),
      });
      note(reply.status);
      return reply.body as EntryView;
    };
    const paidOrders = new Set<string>();
    const pay = async (orderId: string, amount: number) => {
      const reply = await deliverPayment(options.url, {
        orderId,
        amount,
        currency: PRICE.currency,
      });
      note(reply.status);
      if (reply.status === 200) paidOrders.add(orderId);
    };

    // Winners: 60 % pay, the others let their hold lapse.
    const firstViews = await Promise.all(entrants.map(async (e) => ({ e, view: await viewOf(e) })));
    const winners = firstViews.filter((x) => x.view.result === "won");
    const payers = winners.slice(0, Math.ceil(winners.length * 0.6));
    await Promise.all(
      payers.map(({ view }) => (view.order ? pay(view.order.orderId, view.order.amountDue) : null)),
    );
    const winnerIds = new Set(winners.map((w) => w.e.user));
    log(
      `  ${winners.length} winners; ${payers.length} pay, ${winners.length - payers.length} let their hold lapse`,
    );

    // Alternates: whoever the walk reaches as units come back; each pays at once.
    const alternates = new Set<string>();
    const settleDeadline = Date.now() + (holdSeconds + 20) * 1000;
    while (Date.now() < settleDeadline) {
      const views = await Promise.all(
        entrants
          .filter((e) => !winnerIds.has(e.user) && !alternates.has(e.user))
          .map(async (e) => ({ e, view: await viewOf(e) })),
      );
      for (const { e, view } of views) {
        if (view.result !== "won" || !view.order) continue;
        alternates.add(e.user);
        if (view.order.payment === "held") await pay(view.order.orderId, view.order.amountDue);
      }
      const [remaining = 0, held = 0] = (
        await redis.hmget(saleKeys(saleId).sale, "remaining", "held")
      ).map(Number);
      const state = await fetchDrawState(options.url, saleId);
      const walked = (state as { awarded?: { cursor: number } }).awarded?.cursor ?? 0;
      if (held === 0 && (remaining === 0 || walked >= published.draw.entries)) break;
      await sleep(500);
    }
    log(`  ${alternates.size} alternates called in drawn order, and paid`);

    const awards = await redis.hlen(drawKeys(saleId).awards);
    let rows = 0;
    const rowDeadline = Date.now() + 15_000;
    while (Date.now() < rowDeadline) {
      const result = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM orders WHERE sale_id = $1",
        [saleId],
      );
      rows = result.rows[0]?.n ?? 0;
      if (rows >= awards) break;
      await sleep(200);
    }
    const [remaining = 0, held = 0, paid = 0, expired = 0] = (
      await redis.hmget(saleKeys(saleId).sale, "remaining", "held", "paid", "expiredUnits")
    ).map(Number);
    const checks: DemoCheck[] = [
      {
        name: "every entry accepted once",
        ok: entered === entrantCount && again?.status === 200,
        detail: `${entered} of ${entrantCount}; a second entry: ${again?.status}`,
      },
      {
        name: "the draw verifies from the public routes",
        ok: check.ok,
        detail: check.ok
          ? `${check.winners} winners, digest ${check.digest.slice(0, 16)}...`
          : check.problems.join("; "),
      },
      {
        name: "the seed matches the commitment published at creation",
        ok: published.draw.commitment === commitment && commitment !== "",
        detail: commitment.slice(0, 16),
      },
      {
        name: "unpaid winners' units went to alternates",
        ok: winners.length === payers.length || alternates.size > 0,
        detail: `${winners.length - payers.length} lapsed, ${alternates.size} alternates`,
      },
      {
        name: "paid + held + remaining = stock",
        ok: paid + held + remaining === stock,
        detail: `${paid} + ${held} + ${remaining} = ${paid + held + remaining}`,
      },
      {
        name: "every award an order row",
        ok: rows === awards,
        detail: `${rows} rows for ${awards} awards`,
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
      entrants: entrantCount,
      entered,
      winners: winners.length,
      alternates: alternates.size,
      paid,
      expired,
      drawnAfterCloseMs,
      verified: check.ok,
      rows,
      wallMs: performance.now() - started,
      checks,
      ok: checks.every((c) => c.ok),
    };
  } finally {
    client.close();
    redis.disconnect();
    await db.end();
  }
}

export function formatDrawSummary(s: DrawDemoSummary): string {
  const rows: Array<[string, string]> = [
    ["stock / entrants", `${s.stock} units, ${s.entrants} entrants (every fifth for 2 units)`],
    ["drawn", `${(s.drawnAfterCloseMs / 1000).toFixed(1)} s after the close of entries`],
    ["verified", s.verified ? "yes, from the public routes (npm run verify-draw)" : "NO"],
    ["winners", String(s.winners)],
    ["alternates called", String(s.alternates)],
    ["units paid / expired", `${s.paid} / ${s.expired}`],
    ["order rows", String(s.rows)],
    ["wall time", `${Math.round(s.wallMs)} ms`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    `Draw ${s.saleId}`,
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
    "Checks:",
  ];
  for (const check of s.checks)
    lines.push(`  [${check.ok ? "ok" : "FAIL"}] ${check.name}: ${check.detail}`);
  lines.push(s.ok ? "All draw checks passed." : "SOME DRAW CHECKS FAILED.");
  return lines.join("\n");
}
