import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import pg from "pg";
import { reconcileDeps } from "../lambdas/adapters/reconcile-deps.js";
import { defineScripts } from "../lambdas/adapters/redis/scripts.js";
import { queueDepth } from "../lambdas/adapters/sqs/queue-depths.js";
import { formatReport, reconcileSale } from "../lambdas/domain/reconcile.js";
import { outcomeLabel, outcomeOf } from "./api-outcome.js";
import { signLocalToken } from "./auth.js";
import { jsonClient, percentile } from "./http-client.js";
import { localSqsClient } from "./services/sqs-server.js";

/**
 * The demo sale `npm start` runs: the classic test of the original system
 * (100 units, 1,000 concurrent buyers), over HTTP with real tokens, then a
 * check that the books balance once the queue has drained.
 */

export interface DemoOptions {
  url: string;
  env: Record<string, string>;
  stock?: number;
  buyers?: number;
  perUserLimit?: number;
  drainTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface DemoCheck {
  name: string;
  ok: boolean;
  detail: string;
}

export interface DemoSummary {
  saleId: string;
  requests: number;
  accepted: number;
  refused: Record<string, number>;
  otherStatuses: Record<string, number>;
  sold: number;
  stock: number;
  oversold: number;
  rows: number;
  /** Round trips as this demo's client saw them (all buyers fired at once from one process). */
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /**
   * The system's own latency: the buy handler's time per request (the Redis
   * reservation and the SQS hand-off), from the sale's live counters
   * (GET /admin/sales/{id}/stats); null if they could not be read.
   */
  handlerLatency: { count: number; p50Ms: number; p99Ms: number } | null;
  wallMs: number;
  checks: DemoCheck[];
  ok: boolean;
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const stock = options.stock ?? 100;
  const buyers = options.buyers ?? 1_000;
  const log = options.log ?? (() => {});
  const saleId = `demo-${new Date()
    .toISOString()
    .replace(/[-:.TZ]/g, "")
    .slice(0, 14)}-${randomUUID().slice(0, 4)}`;
  const client = jsonClient(options.url, buyers + 16);
  const db = new pg.Pool({
    connectionString: options.env.DATABASE_URL,
    max: 2,
    application_name: "demo",
  });
  db.on("error", () => {}); // a stop of Postgres may close idle clients
  const redis = defineScripts(new Redis(options.env.REDIS_URL ?? ""));
  const sqs = localSqsClient(options.env.SQS_ENDPOINT ?? "");

  try {
    const admin = await signLocalToken({ sub: "demo-admin", scopes: ["admin"] });
    const created = await client.call("POST", "/sales", {
      headers: { authorization: `Bearer ${admin}` },
      body: { id: saleId, name: "Demo drop", stock, perUserLimit: options.perUserLimit ?? 1 },
    });
    if (created.status !== 201)
      throw new Error(
        `could not create the demo sale: ${created.status} ${JSON.stringify(created.body)}`,
      );
    log(
      `demo sale ${saleId}: ${stock} units, ${buyers} concurrent buyers, each with their own token`,
    );

    const tokens = await Promise.all(
      Array.from({ length: buyers }, (_, i) => signLocalToken({ sub: `buyer-${i}` })),
    );
    let done = 0;
    const progress = setInterval(() => log(`  ... ${done}/${buyers} answered`), 250);
    const started = performance.now();
    const replies = await Promise.all(
      tokens.map(async (token) => {
        const reply = await client.call("POST", `/sales/${saleId}/buy`, {
          headers: { authorization: `Bearer ${token}`, "idempotency-key": randomUUID() },
          body: { quantity: 1 },
        });
        done++;
        return reply;
      }),
    );
    const wallMs = performance.now() - started;
    clearInterval(progress);
    log(`  all ${buyers} answered in ${Math.round(wallMs)} ms`);

    const refused: Record<string, number> = {};
    const otherStatuses: Record<string, number> = {};
    let accepted = 0;
    for (const reply of replies) {
      if (reply.status === 202) accepted++;
      else if (reply.status === 409) {
        const code = outcomeLabel(outcomeOf(reply.status, reply.body));
        refused[code] = (refused[code] ?? 0) + 1;
      } else {
        // Other statuses fail the demo; named by who answered (the API's code, or API Gateway's).
        const key = `${reply.status} ${outcomeLabel(outcomeOf(reply.status, reply.body))}`;
        otherStatuses[key] = (otherStatuses[key] ?? 0) + 1;
      }
    }
    const latencies = replies.map((r) => r.ms).sort((a, b) => a - b);

    log("  waiting for the consumer to drain the queue into Postgres ...");
    const drainDeadline = Date.now() + (options.drainTimeoutMs ?? 30_000);
    let rows = 0;
    let depth = 0;
    while (Date.now() < drainDeadline) {
      rows = (await db.query("SELECT count(*)::int AS n FROM orders WHERE sale_id = $1", [saleId]))
        .rows[0].n;
      depth = await queueDepth(sqs, options.env.ORDERS_QUEUE_URL ?? "");
      if (rows >= accepted && depth === 0) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // The handlers flush their counters once a second: wait for the last flush, then read them.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const stats = await client.call("GET", `/admin/sales/${saleId}/stats`, {
      headers: { authorization: `Bearer ${admin}` },
    });
    const handlerLatency =
      stats.status === 200
        ? ((stats.body as { latency?: { total?: DemoSummary["handlerLatency"] } }).latency?.total ??
          null)
        : null;

    const sale = (await client.call("GET", `/sales/${saleId}`)).body as {
      sold: number;
      stock: number;
    };
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
    const oversold = Math.max(0, sale.sold - sale.stock);
    const checks: DemoCheck[] = [
      {
        name: "no oversell",
        ok: oversold === 0 && sale.sold <= stock,
        detail: `sold ${sale.sold} of ${sale.stock}`,
      },
      {
        name: "every unit sold",
        ok: accepted === Math.min(stock, buyers),
        detail: `${accepted} accepted`,
      },
      {
        name: "order rows = accepted",
        ok: rows === accepted,
        detail: `${rows} rows, ${accepted} accepted`,
      },
      {
        name: "no server errors",
        ok: Object.keys(otherStatuses).length === 0,
        detail: JSON.stringify(otherStatuses),
      },
      {
        name: "reconcile clean",
        ok: reconcile.clean && reconcile.issues.length === 0,
        detail: reconcile.clean ? "clean" : formatReport(reconcile),
      },
    ];
    return {
      saleId,
      requests: buyers,
      accepted,
      refused,
      otherStatuses,
      sold: sale.sold,
      stock: sale.stock,
      oversold,
      rows,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      maxMs: latencies.at(-1) ?? 0,
      handlerLatency,
      wallMs,
      checks,
      ok: checks.every((check) => check.ok),
    };
  } finally {
    client.close();
    redis.disconnect();
    sqs.destroy();
    await db.end();
  }
}

export function formatSummary(summary: DemoSummary): string {
  const rows: Array<[string, string]> = [
    ["requests", String(summary.requests)],
    ["accepted (202)", String(summary.accepted)],
    ...Object.entries(summary.refused).map(([code, n]): [string, string] => [
      `refused ${code} (409)`,
      String(n),
    ]),
    ...Object.entries(summary.otherStatuses).map(([status, n]): [string, string] => [
      `other status ${status}`,
      String(n),
    ]),
    ["sold / stock", `${summary.sold} / ${summary.stock}`],
    ["oversold", String(summary.oversold)],
    ["order rows in Postgres", String(summary.rows)],
    [
      "system latency p50 / p99",
      summary.handlerLatency
        ? `${summary.handlerLatency.p50Ms.toFixed(1)} / ${summary.handlerLatency.p99Ms.toFixed(1)} ms (the buy handler per request: Redis reservation + SQS hand-off, from the sale's live counters, ${summary.handlerLatency.count} requests)`
        : "unavailable (the sale's live counters could not be read)",
    ],
    [
      "demo client round trip p50 / p99 / max",
      `${summary.p50Ms.toFixed(1)} / ${summary.p99Ms.toFixed(1)} / ${summary.maxMs.toFixed(1)} ms (all ${summary.requests} buyers fired at once from this one process, sharing the cores with the stack: mostly connection setup and waiting in line, not the system)`,
    ],
    ["wall time", `${Math.round(summary.wallMs)} ms (every buyer answered)`],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  const lines = [
    `Demo sale ${summary.saleId}`,
    ...rows.map(([label, value]) => `  ${label.padEnd(width)}  ${value}`),
    "Checks:",
  ];
  for (const check of summary.checks)
    lines.push(`  [${check.ok ? "ok" : "FAIL"}] ${check.name}: ${check.detail}`);
  lines.push(summary.ok ? "All checks passed." : "SOME CHECKS FAILED.");
  return lines.join("\n");
}
