import type pg from "pg";
import { insertOrders, ordersOfSale } from "./orders-store.js";
import type { OrderRecord, RedisReservations } from "./reservations.js";

/**
 * Compares what Redis says a sale sold with the order rows in Postgres, and
 * with what is still travelling in the queues; optionally repairs what can be
 * repaired without risk of overselling or of losing an accepted order.
 */

export type IssueKind =
  | "OVERSOLD"
  | "SOLD_COUNT_MISMATCH"
  | "ROW_WITHOUT_RESERVATION"
  | "CONFIRMED_WITHOUT_ROW"
  | "STALE_RESERVATION"
  | "DLQ_NOT_EMPTY"
  | "SALE_MISSING_IN_REDIS";

export interface Issue {
  kind: IssueKind;
  orderId?: string;
  detail: string;
  repaired: boolean;
}

export interface QueueDepths {
  orders: number;
  dlq: number;
}

export interface ReconcileReport {
  saleId: string;
  redis: {
    stock: number;
    remaining: number;
    sold: number;
    reserved: number;
    confirmed: number;
    released: number;
    unitsHeld: number;
  } | null;
  postgres: { rows: number; units: number };
  queues: QueueDepths;
  /** Reservations without a row that may still be on their way (queue not empty, or younger than the grace period). */
  inFlight: number;
  issues: Issue[];
  /** True when nothing is wrong after any repairs. */
  clean: boolean;
}

export interface ReconcileDeps {
  reservations: RedisReservations;
  db: pg.Pool;
  queueDepths: () => Promise<QueueDepths>;
  now: () => number;
}

export interface ReconcileOptions {
  repair: boolean;
  /** A reservation younger than this may still have its message in flight. */
  graceMs: number;
}

const toMessage = (order: OrderRecord) => ({
  orderId: order.orderId,
  saleId: order.saleId,
  userId: order.userId,
  quantity: order.quantity,
  reservedAt: new Date(order.reservedAtMs).toISOString(),
});

export async function reconcileSale(
  deps: ReconcileDeps,
  saleId: string,
  options: ReconcileOptions,
): Promise<ReconcileReport> {
  const nowMs = deps.now();
  const [sale, records, rows, queues] = await Promise.all([
    deps.reservations.getSale(saleId, nowMs),
    deps.reservations.listOrders(saleId),
    ordersOfSale(deps.db, saleId),
    deps.queueDepths(),
  ]);
  const issues: Issue[] = [];
  const rowIds = new Set(rows.map((row) => row.orderId));
  const byId = new Map(records.map((record) => [record.orderId, record]));
  const rowUnits = rows.reduce((sum, row) => sum + row.quantity, 0);
  const queuesEmpty = queues.orders === 0 && queues.dlq === 0;

  if (queues.dlq > 0) {
    issues.push({
      kind: "DLQ_NOT_EMPTY",
      detail: `${queues.dlq} message(s) in the DLQ; inspect them and run npm run redrive`,
      repaired: false,
    });
  }

  if (sale === null) {
    issues.push({
      kind: "SALE_MISSING_IN_REDIS",
      detail: `Redis has no sale ${saleId} but Postgres has ${rows.length} row(s); recreate the sale, then reconcile again`,
      repaired: false,
    });
    return finish();
  }

  // Rows Redis does not count as sold: restore them (confirm-3 re-records the order and its units).
  for (const row of rows) {
    const record = byId.get(row.orderId);
    if (record && record.state !== "released") continue;
    const issue: Issue = {
      kind: "ROW_WITHOUT_RESERVATION",
      orderId: row.orderId,
      detail: record
        ? "row exists but Redis released the order"
        : "row exists but Redis has no such order",
      repaired: false,
    };
    if (options.repair && !record) {
      await deps.reservations.confirm({
        saleId,
        orderId: row.orderId,
        userId: row.userId,
        quantity: row.quantity,
        reservedAtMs: row.reservedAt.getTime(),
        nowMs,
      });
      issue.repaired = true;
    }
    issues.push(issue);
  }

  // Redis orders with no row: persist them once nothing can still be in flight.
  let inFlight = 0;
  const toPersist: OrderRecord[] = [];
  for (const record of records) {
    if (record.state === "released" || rowIds.has(record.orderId)) continue;
    // A confirmed order's message has reached the consumer, so only the queues
    // matter; a reserved one may still be between its reservation and its send.
    const young = record.state === "reserved" && nowMs - record.reservedAtMs < options.graceMs;
    if (!queuesEmpty || young) {
      inFlight++;
      continue;
    }
    const kind: IssueKind =
      record.state === "confirmed" ? "CONFIRMED_WITHOUT_ROW" : "STALE_RESERVATION";
    issues.push({
      kind,
      orderId: record.orderId,
      detail:
        kind === "CONFIRMED_WITHOUT_ROW"
          ? "confirmed in Redis but no row, and no message left in the queues"
          : `reserved ${Math.round((nowMs - record.reservedAtMs) / 1000)} s ago, no row, no message left in the queues`,
      repaired: options.repair,
    });
    if (options.repair) toPersist.push(record);
  }
  if (toPersist.length > 0) {
    // Confirm first so a late release cannot undo a unit we are about to persist.
    for (const record of toPersist) {
      await deps.reservations.confirm({
        saleId,
        orderId: record.orderId,
        userId: record.userId,
        quantity: record.quantity,
        reservedAtMs: record.reservedAtMs,
        nowMs,
      });
    }
    await insertOrders(deps.db, toPersist.map(toMessage));
  }

  const after = options.repair ? await deps.reservations.getSale(saleId, nowMs) : sale;
  const afterRecords = options.repair ? await deps.reservations.listOrders(saleId) : records;
  const held = afterRecords
    .filter((r) => r.state !== "released")
    .reduce((sum, r) => sum + r.quantity, 0);
  if (after && after.sold !== held) {
    issues.push({
      kind: "SOLD_COUNT_MISMATCH",
      detail: `stock - remaining = ${after.sold} but orders hold ${held} unit(s)`,
      repaired: false,
    });
  }
  const finalRows = options.repair
    ? rowUnits + toPersist.reduce((s, r) => s + r.quantity, 0)
    : rowUnits;
  if ((after && after.remaining < 0) || finalRows > sale.stock) {
    issues.push({
      kind: "OVERSOLD",
      detail: `stock ${sale.stock}, remaining ${after?.remaining}, units in rows ${finalRows}`,
      repaired: false,
    });
  }
  return finish(inFlight);

  function finish(pending = 0): ReconcileReport {
    const count = (state: OrderRecord["state"]) => records.filter((r) => r.state === state).length;
    return {
      saleId,
      redis: sale && {
        stock: sale.stock,
        remaining: sale.remaining,
        sold: sale.sold,
        reserved: count("reserved"),
        confirmed: count("confirmed"),
        released: count("released"),
        unitsHeld: records
          .filter((r) => r.state !== "released")
          .reduce((s, r) => s + r.quantity, 0),
      },
      postgres: { rows: rows.length, units: rowUnits },
      queues,
      inFlight: pending,
      issues,
      clean: issues.every((issue) => issue.repaired),
    };
  }
}

export function formatReport(report: ReconcileReport): string {
  const lines = [`Reconciliation of sale ${report.saleId}`];
  if (report.redis) {
    const r = report.redis;
    lines.push(
      `  Redis     stock ${r.stock}, remaining ${r.remaining}, sold ${r.sold}`,
      `            orders: ${r.reserved} reserved, ${r.confirmed} confirmed, ${r.released} released (${r.unitsHeld} units held)`,
    );
  } else {
    lines.push("  Redis     no such sale");
  }
  lines.push(
    `  Postgres  ${report.postgres.rows} order rows, ${report.postgres.units} units`,
    `  Queues    ${report.queues.orders} in the orders queue, ${report.queues.dlq} in the DLQ; ${report.inFlight} reservation(s) still in flight`,
  );
  if (report.issues.length === 0) {
    lines.push("  OK: Redis, Postgres and the queues agree.");
  } else {
    lines.push(`  ${report.issues.length} issue(s):`);
    for (const issue of report.issues) {
      lines.push(
        `    - ${issue.kind}${issue.orderId ? ` ${issue.orderId}` : ""}: ${issue.detail}${issue.repaired ? " [repaired]" : ""}`,
      );
    }
    lines.push(
      report.clean
        ? "  All issues repaired."
        : "  DRIFT: not everything could be repaired (see above).",
    );
  }
  return lines.join("\n");
}
