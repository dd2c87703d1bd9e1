import type { SQSClient } from "@aws-sdk/client-sqs";
import type pg from "pg";
import { PostgresOrderRows } from "../lambdas/adapters/postgres/order-rows.js";
import { saleKeys } from "../lambdas/adapters/redis/keys.js";
import { RedisSaleStore } from "../lambdas/adapters/redis/sale-store.js";
import type { RedisClient } from "../lambdas/adapters/redis/scripts.js";
import { queueDepth, sqsQueueDepths } from "../lambdas/adapters/sqs/queue-depths.js";
import { formatReport, reconcileSale } from "../lambdas/domain/reconcile.js";
import { outcomeLabel, outcomeOf } from "../local/api-outcome.js";
import type { AcceptedOrder } from "./run-record.js";

/**
 * The checks `loadtest/verify.ts` runs after a load test: is the sale exact?
 *
 * Through the API (any target, a deployed stage included): sold ≤ stock; and,
 * from what the load run recorded (every 202 with its buyer): no order id
 * twice, no buyer above the limit, accepted units ≤ stock and ≤ sold, and
 * every accepted order readable by its owner, confirmed once the queue has
 * drained.
 *
 * Against the stores (locally, or wherever Redis, Postgres and SQS are
 * reachable): the same in Redis (no buyer above the limit, units held = sold),
 * and, once the orders queue has drained, order rows = accepted orders, no
 * duplicate order id, no row Redis does not know, no buyer above the limit in
 * Postgres, an empty DLQ, and a clean reconcileSale().
 */

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export interface VerifyReport {
  saleId: string;
  checks: Check[];
  ok: boolean;
}

export interface ApiAccess {
  baseUrl: string;
  /** A bearer token for a buyer, to read their orders (GET /orders/{id} is owner-only). */
  tokenFor(order: AcceptedOrder): string;
}

export interface StoreAccess {
  redis: RedisClient;
  db: pg.Pool;
  sqs: SQSClient;
  ordersQueueUrl: string;
  deadLetterQueueUrl: string;
}

export interface VerifyOptions {
  saleId: string;
  api?: ApiAccess;
  stores?: StoreAccess;
  /** Every 202 the load run saw; undefined when there is no record of the run. */
  accepted?: AcceptedOrder[];
  /** How long to wait for the queue to drain (rows to appear, orders to be confirmed). */
  drainTimeoutMs?: number;
  /** At most this many accepted orders are read back through the API. */
  maxOrderReads?: number;
  log?: (line: string) => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const list = (items: string[], max = 5) =>
  items.slice(0, max).join(", ") + (items.length > max ? ` and ${items.length - max} more` : "");

interface SaleView {
  stock: number;
  remaining: number;
  sold: number;
  perUserLimit: number;
}

async function getJson(
  url: string,
  token?: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const reply = await fetch(url, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: AbortSignal.timeout(10_000),
  });
  const text = await reply.text();
  let body: Record<string, unknown> = {};
  try {
    body = text ? JSON.parse(text) : {};
  } catch {
    body = { raw: text };
  }
  return { status: reply.status, body };
}

/** Checks on what the load run recorded; no I/O. */
export function recordChecks(accepted: AcceptedOrder[], sale: SaleView): Check[] {
  const seen = new Map<string, number>();
  for (const order of accepted) seen.set(order.orderId, (seen.get(order.orderId) ?? 0) + 1);
  const duplicates = [...seen].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
  const perUser = new Map<string, number>();
  for (const order of accepted)
    perUser.set(order.userId, (perUser.get(order.userId) ?? 0) + order.quantity);
  const overLimit = [...perUser]
    .filter(([, units]) => units > sale.perUserLimit)
    .map(([user, units]) => `${user} (${units})`);
  const units = accepted.reduce((sum, order) => sum + order.quantity, 0);
  return [
    {
      name: "run: no order id accepted twice",
      ok: duplicates.length === 0,
      detail:
        duplicates.length === 0
          ? `${seen.size} distinct order ids`
          : `${duplicates.length} order id(s) answered to more than one buy: ${list(duplicates)}`,
    },
    {
      name: "run: no buyer above the per-user limit",
      ok: overLimit.length === 0,
      detail:
        overLimit.length === 0
          ? `${perUser.size} buyers, limit ${sale.perUserLimit}`
          : `${overLimit.length} buyer(s) above ${sale.perUserLimit}: ${list(overLimit)}`,
    },
    {
      name: "run: accepted units ≤ stock and ≤ sold",
      ok: units <= sale.stock && units <= sale.sold,
      detail: `${units} unit(s) accepted, stock ${sale.stock}, sold ${sale.sold}${units < sale.sold ? ` (${sale.sold - units} sold without a 202 the run saw: timed-out answers or other traffic)` : ""}`,
    },
  ];
}

export async function verifySale(options: VerifyOptions): Promise<VerifyReport> {
  const { saleId, api, stores, accepted } = options;
  const log = options.log ?? (() => {});
  const drainDeadline = Date.now() + (options.drainTimeoutMs ?? 30_000);
  const checks: Check[] = [];
  let sale: SaleView | undefined;

  if (api) {
    const reply = await getJson(`${api.baseUrl}/sales/${encodeURIComponent(saleId)}`);
    if (reply.status !== 200) {
      checks.push({
        name: "api: sale exists",
        ok: false,
        detail: `GET /sales/${saleId} → ${reply.status} ${outcomeLabel(outcomeOf(reply.status, reply.body))}`,
      });
    } else {
      sale = reply.body as unknown as SaleView;
      checks.push({
        name: "api: sold ≤ stock",
        ok:
          sale.sold <= sale.stock &&
          sale.remaining >= 0 &&
          sale.sold === sale.stock - sale.remaining,
        detail: `sold ${sale.sold} of ${sale.stock}, remaining ${sale.remaining}`,
      });
    }
  }

  const redisSale = stores
    ? await new RedisSaleStore(stores.redis).getSale(saleId, Date.now())
    : null;
  if (stores && !redisSale) {
    checks.push({
      name: "redis: sale exists",
      ok: false,
      detail: `no hash ${saleKeys(saleId).sale}`,
    });
  }
  sale ??= redisSale ?? undefined;

  if (sale && accepted) checks.push(...recordChecks(accepted, sale));

  if (stores && redisSale) {
    checks.push(...(await storeChecks(stores, saleId, redisSale, accepted, drainDeadline, log)));
  }

  if (api && accepted && accepted.length > 0) {
    checks.push(
      await ordersReadable(api, accepted, drainDeadline, options.maxOrderReads ?? 2_000, log),
    );
  }

  return { saleId, checks, ok: checks.length > 0 && checks.every((check) => check.ok) };
}

async function storeChecks(
  stores: StoreAccess,
  saleId: string,
  sale: SaleView,
  accepted: AcceptedOrder[] | undefined,
  drainDeadline: number,
  log: (line: string) => void,
): Promise<Check[]> {
  const checks: Check[] = [];
  const keys = saleKeys(saleId);
  const reservations = new RedisSaleStore(stores.redis);

  checks.push({
    name: "redis: sold ≤ stock",
    ok: sale.remaining >= 0 && sale.sold <= sale.stock,
    detail: `stock ${sale.stock}, remaining ${sale.remaining}, sold ${sale.sold}`,
  });
  const buyers = await stores.redis.hgetall(keys.buyers);
  const overLimit = Object.entries(buyers)
    .filter(([, units]) => Number(units) > sale.perUserLimit)
    .map(([user, units]) => `${user} (${units})`);
  checks.push({
    name: "redis: no buyer above the per-user limit",
    ok: overLimit.length === 0,
    detail:
      overLimit.length === 0
        ? `${Object.keys(buyers).length} buyers, limit ${sale.perUserLimit}`
        : `${overLimit.length} buyer(s) above ${sale.perUserLimit}: ${list(overLimit)}`,
  });
  const held = Object.values(buyers).reduce((sum, units) => sum + Number(units), 0);
  const orders = await reservations.listOrders(saleId);
  const live = orders.filter((order) => order.state !== "released");
  const liveUnits = live.reduce((sum, order) => sum + order.quantity, 0);
  checks.push({
    name: "redis: units held by buyers = units of live orders = sold",
    ok: held === sale.sold && liveUnits === sale.sold,
    detail: `buyers hold ${held}, live orders ${liveUnits}, sold ${sale.sold}`,
  });

  // After the queue drains, every live order has its row. Wait for that, bounded.
  const rowsOf = async () =>
    (
      await stores.db.query<{ order_id: string; user_id: string; quantity: number }>(
        "SELECT order_id, user_id, quantity FROM orders WHERE sale_id = $1",
        [saleId],
      )
    ).rows;
  let rows = await rowsOf();
  let depth = await queueDepth(stores.sqs, stores.ordersQueueUrl);
  let previous = -1;
  while (rows.length < live.length && Date.now() < drainDeadline) {
    // An empty queue and no new row since the last look: nothing more is coming.
    if (depth === 0 && rows.length === previous) break;
    previous = rows.length;
    log(
      `  waiting for the queue to drain: ${rows.length}/${live.length} rows, ${depth} message(s) queued`,
    );
    await sleep(500);
    rows = await rowsOf();
    depth = await queueDepth(stores.sqs, stores.ordersQueueUrl);
  }

  const expected = accepted
    ? `${live.length} live order(s) in Redis, ${new Set(accepted.map((o) => o.orderId)).size} accepted by the run`
    : `${live.length} live order(s) in Redis`;
  const rowCounts = new Map<string, number>();
  for (const row of rows) rowCounts.set(row.order_id, (rowCounts.get(row.order_id) ?? 0) + 1);
  const liveIds = new Set(live.map((order) => order.orderId));
  const missing = [...liveIds].filter((id) => !rowCounts.has(id));
  const unknown = [...rowCounts.keys()].filter((id) => !liveIds.has(id));
  const acceptedMissing = accepted
    ? accepted.filter((o) => !rowCounts.has(o.orderId)).map((o) => o.orderId)
    : [];
  checks.push({
    name: "postgres: order rows = accepted orders (after the queue drained)",
    ok:
      rows.length === live.length &&
      missing.length === 0 &&
      unknown.length === 0 &&
      acceptedMissing.length === 0,
    detail:
      `${rows.length} row(s), ${expected}` +
      (missing.length ? `; no row for ${list(missing)}` : "") +
      (unknown.length ? `; rows Redis does not hold as live: ${list(unknown)}` : "") +
      (acceptedMissing.length ? `; accepted without a row: ${list(acceptedMissing)}` : "") +
      (depth > 0 ? `; ${depth} message(s) still queued` : ""),
  });
  const duplicates = [...rowCounts].filter(([, n]) => n > 1).map(([id, n]) => `${id} ×${n}`);
  checks.push({
    name: "postgres: no duplicate order id",
    ok: duplicates.length === 0,
    detail: duplicates.length === 0 ? `${rowCounts.size} distinct order ids` : list(duplicates),
  });
  const perUser = new Map<string, number>();
  for (const row of rows) perUser.set(row.user_id, (perUser.get(row.user_id) ?? 0) + row.quantity);
  const rowsOverLimit = [...perUser]
    .filter(([, units]) => units > sale.perUserLimit)
    .map(([user, units]) => `${user} (${units})`);
  checks.push({
    name: "postgres: no buyer above the per-user limit",
    ok: rowsOverLimit.length === 0,
    detail:
      rowsOverLimit.length === 0
        ? `${perUser.size} buyers with rows`
        : `${rowsOverLimit.length} buyer(s) above ${sale.perUserLimit}: ${list(rowsOverLimit)}`,
  });

  const report = await reconcileSale(
    {
      reservations,
      orderRows: new PostgresOrderRows(stores.db),
      now: Date.now,
      queueDepths: sqsQueueDepths(stores.sqs, stores),
    },
    saleId,
    { repair: false, graceMs: 60_000 },
  );
  checks.push({
    name: "reconcile: Redis, Postgres and the queues agree (DLQ empty)",
    ok: report.clean && report.issues.length === 0,
    detail:
      report.issues.length === 0
        ? `clean${report.inFlight ? `, ${report.inFlight} in flight` : ""}`
        : formatReport(report)
            .split("\n")
            .slice(-report.issues.length - 1)
            .join("; "),
  });
  return checks;
}

/** Every accepted order, read back by its owner: exists, right quantity, and confirmed once drained. */
async function ordersReadable(
  api: ApiAccess,
  accepted: AcceptedOrder[],
  drainDeadline: number,
  maxReads: number,
  log: (line: string) => void,
): Promise<Check> {
  const sample = accepted.slice(0, maxReads);
  const problems: string[] = [];
  let pending = sample;
  let confirmed = 0;
  for (;;) {
    const stillPending: AcceptedOrder[] = [];
    problems.length = 0;
    for (let i = 0; i < pending.length; i += 32) {
      await Promise.all(
        pending.slice(i, i + 32).map(async (order) => {
          const reply = await getJson(
            `${api.baseUrl}/orders/${encodeURIComponent(order.orderId)}`,
            api.tokenFor(order),
          );
          const view = reply.body as { status?: string; quantity?: number };
          if (reply.status !== 200)
            problems.push(
              `${order.orderId} → ${reply.status} ${outcomeLabel(outcomeOf(reply.status, reply.body))}`,
            );
          else if (view.quantity !== order.quantity)
            problems.push(
              `${order.orderId}: quantity ${view.quantity}, accepted ${order.quantity}`,
            );
          else if (view.status === "confirmed") confirmed++;
          else stillPending.push(order);
        }),
      );
    }
    pending = stillPending;
    if (pending.length === 0 || problems.length > 0 || Date.now() >= drainDeadline) break;
    log(`  ${pending.length} accepted order(s) still pending; waiting for the consumer ...`);
    await sleep(1_000);
  }
  const skipped = accepted.length - sample.length;
  return {
    name: "api: every accepted order is its owner's and confirmed",
    ok: problems.length === 0 && pending.length === 0,
    detail:
      `${confirmed} of ${sample.length} confirmed` +
      (skipped ? ` (${skipped} not read: --max-order-reads)` : "") +
      (pending.length ? `; ${pending.length} still pending after the drain timeout` : "") +
      (problems.length ? `; ${problems.length} problem(s): ${list(problems)}` : ""),
  };
}

export function formatVerifyReport(report: VerifyReport): string {
  const lines = [`Verification of sale ${report.saleId}`];
  for (const check of report.checks)
    lines.push(`  [${check.ok ? "ok" : "FAIL"}] ${check.name}: ${check.detail}`);
  lines.push(report.ok ? "Consistent." : "INCONSISTENT: see the failed checks above.");
  return lines.join("\n");
}
