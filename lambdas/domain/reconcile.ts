import { orderConfirmed, publishQuietly } from "./integration-events.js";
import { type Order, type OrderRecord, orderFields } from "./order.js";
import { messageOf, orderMessageSchema } from "./order-message.js";
import type {
  ConfirmRequest,
  EventPublisher,
  HoldLedger,
  Logger,
  MetricsSink,
  OrderRows,
  QueueDepths,
  QueueDepthsProbe,
  SaleStore,
} from "./ports.js";

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
  | "SALE_MISSING_IN_REDIS"
  /** The consumer refused to restore an order Redis lost: the sale does not allow it. */
  | "RESTORE_REJECTED"
  /** An order that can never become a row (it breaks the order contract, or Postgres refuses it). */
  | "UNPERSISTABLE_ORDER";

export interface Issue {
  kind: IssueKind;
  orderId?: string;
  detail: string;
  repaired: boolean;
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
    /** Sales with a hold: orders by payment state. */
    payments?: {
      held: number;
      paid: number;
      expired: number;
      refundDue: number;
      cancelled: number;
    };
  } | null;
  /** Late payments of expired holds: each must be refunded to its buyer. */
  refundsDue: Array<{ orderId: string; amount: number; currency: string; reference: string }>;
  /**
   * Payments that did not match their order (wrong amount or currency): the
   * webhook refused them (409 PAYMENT_MISMATCH) and recorded them; the money
   * reached the provider's account, so each needs a refund or a correction.
   */
  paymentAnomalies: Array<{
    orderId: string;
    reason: string;
    at: string;
    received: { amount: number; currency: string };
    due: { amount: number; currency: string };
    reference: string;
  }>;
  postgres: { rows: number; units: number };
  queues: QueueDepths;
  /** Reservations without a row that may still be on their way (queue not empty, or younger than the grace period). */
  inFlight: number;
  issues: Issue[];
  /** True when nothing is wrong after any repairs. */
  clean: boolean;
}

export interface ReconcileDeps {
  reservations: SaleStore;
  orderRows: OrderRows;
  queueDepths: QueueDepthsProbe;
  now: () => number;
  /** The sales' payment records (anomalies); without it none are listed. */
  payments?: Pick<HoldLedger, "anomalies">;
  /** OrderConfirmed for each row a repair writes (the scheduled repair; docs/events.md). */
  events?: EventPublisher;
  logger?: Logger;
  metrics?: MetricsSink;
}

export interface ReconcileOptions {
  repair: boolean;
  /** A reservation younger than this may still have its message in flight. */
  graceMs: number;
  /**
   * Repair only once both queues are empty (default true: the manual tool's
   * caution). The scheduled repair passes false and relies on the grace period
   * alone: a repair is idempotent with a message still queued (confirm answers
   * already_confirmed, the row insert is ON CONFLICT DO NOTHING), so the worst
   * case is the consumer finding its work done.
   */
  requireEmptyQueues?: boolean;
  /** Most orders this call repairs (rows restored into Redis + rows written); the rest wait for the next run. */
  maxRepairs?: number;
}

const confirmation = (
  order: Order,
  nowMs: number,
  source: ConfirmRequest["source"],
): ConfirmRequest => ({ ...orderFields(order), nowMs, source });

export async function reconcileSale(
  deps: ReconcileDeps,
  saleId: string,
  options: ReconcileOptions,
): Promise<ReconcileReport> {
  const nowMs = deps.now();
  const [sale, records, rejections, rows, queues, anomalies] = await Promise.all([
    deps.reservations.getSale(saleId, nowMs),
    deps.reservations.listOrders(saleId),
    deps.reservations.listRejectedRestores(saleId),
    deps.orderRows.ofSale(saleId),
    deps.queueDepths(),
    deps.payments?.anomalies(saleId) ?? [],
  ]);
  const issues: Issue[] = [];
  const rowIds = new Set(rows.map((row) => row.orderId));
  const byId = new Map(records.map((record) => [record.orderId, record]));
  const rowUnits = rows.reduce((sum, row) => sum + row.quantity, 0);
  // The rows of orders whose hold expired (their units went back on sale, to
  // another buyer or a draw's alternate) keep their row but hold no unit.
  const soldRowUnits = rows.reduce((sum, row) => {
    const record = byId.get(row.orderId);
    return record && !holdsUnits(record) ? sum : sum + row.quantity;
  }, 0);
  const queuesEmpty =
    options.requireEmptyQueues === false || (queues.orders === 0 && queues.dlq === 0);
  let budget = options.maxRepairs ?? Number.POSITIVE_INFINITY;

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

  // Rows Redis does not count as sold: restore them from the row (the truth:
  // its units are sold), which re-records the order and its units.
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
    if (options.repair && !record && budget > 0) {
      budget--;
      const outcome = await settle(() =>
        deps.reservations.confirm(confirmation(row, nowMs, "row")),
      );
      if (outcome.ok) issue.repaired = true;
      else issue.detail += `; restoring it failed: ${outcome.error}`;
    }
    issues.push(issue);
  }

  // Orders the consumer could not restore from their message: accepted, but
  // honouring them would break the per-user limit or oversell. A person decides
  // (raise the stock and redrive, or refund); nothing was counted meanwhile.
  for (const rejected of rejections) {
    if (rowIds.has(rejected.orderId)) continue;
    issues.push({
      kind: "RESTORE_REJECTED",
      orderId: rejected.orderId,
      detail: `Redis had lost this order and restoring ${rejected.quantity} unit(s) for its buyer would ${rejected.reason === "OVER_STOCK" ? "oversell the sale" : "exceed the per-user limit"}; its message is retried into the DLQ: raise the stock and redrive it, or refund the buyer`,
      repaired: false,
    });
  }

  // Redis orders with no row: persist them once nothing can still be in flight.
  let inFlight = 0;
  const toPersist: Array<{ record: OrderRecord; issue: Issue }> = [];
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
    const issue: Issue = {
      kind,
      orderId: record.orderId,
      detail:
        kind === "CONFIRMED_WITHOUT_ROW"
          ? "confirmed in Redis but no row, and no message left in the queues"
          : `reserved ${Math.round((nowMs - record.reservedAtMs) / 1000)} s ago, no row, no message left in the queues`,
      repaired: false,
    };
    issues.push(issue);
    // An order that breaks the order contract (recorded before the contract
    // existed) cannot become a row: it is named, and left for a person.
    const invalid = orderMessageSchema.safeParse(messageOf(record));
    if (!invalid.success) {
      issue.kind = "UNPERSISTABLE_ORDER";
      issue.detail = `${issue.detail}; it cannot become a row: ${invalid.error.issues[0]?.message ?? "invalid"}`;
      continue;
    }
    if (options.repair && budget > 0) {
      budget--;
      toPersist.push({ record, issue });
    }
  }
  // Confirm first so a late release cannot undo a unit we are about to persist.
  const confirmed: typeof toPersist = [];
  for (const entry of toPersist) {
    const { record, issue } = entry;
    const outcome = await settle(() =>
      deps.reservations.confirm(confirmation(record, nowMs, "message")),
    );
    if (!outcome.ok) issue.detail += `; confirming it failed: ${outcome.error}`;
    else if (outcome.value === "confirmed" || outcome.value === "already_confirmed") {
      confirmed.push(entry);
    } else issue.detail += `; Redis answered ${outcome.value}, so it was not persisted`;
  }
  let persistedUnits = 0;
  if (confirmed.length > 0) {
    const outcome = await settle(() =>
      deps.orderRows.insert(confirmed.map(({ record }) => orderFields(record))),
    );
    if (!outcome.ok) {
      for (const { issue } of confirmed)
        issue.detail += `; writing its row failed: ${outcome.error}`;
    } else {
      const refused = new Map(outcome.value.refused.map((r) => [r.order.orderId, r.error]));
      const inserted = new Set(outcome.value.inserted);
      await publishQuietly(
        deps,
        confirmed
          .filter(({ record }) => inserted.has(record.orderId))
          .map(({ record }) => orderConfirmed(orderFields(record), deps.now())),
      );
      for (const { record, issue } of confirmed) {
        const error = refused.get(record.orderId);
        if (error) {
          issue.kind = "UNPERSISTABLE_ORDER";
          issue.detail += `; Postgres refused its row: ${error.message}`;
        } else {
          issue.repaired = true;
          persistedUnits += record.quantity;
        }
      }
    }
  }

  const after = options.repair ? await deps.reservations.getSale(saleId, nowMs) : sale;
  const afterRecords = options.repair ? await deps.reservations.listOrders(saleId) : records;
  const held = afterRecords.filter(holdsUnits).reduce((sum, r) => sum + r.quantity, 0);
  if (after && after.sold !== held) {
    issues.push({
      kind: "SOLD_COUNT_MISMATCH",
      detail: `stock - remaining = ${after.sold} but orders hold ${held} unit(s)`,
      repaired: false,
    });
  }
  const finalRows = soldRowUnits + persistedUnits;
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
        unitsHeld: records.filter(holdsUnits).reduce((s, r) => s + r.quantity, 0),
        ...(records.some((r) => r.payment) && { payments: paymentCounts(records) }),
      },
      refundsDue: records.flatMap((r) =>
        r.payment?.state === "refund_due"
          ? [
              {
                orderId: r.orderId,
                amount: r.payment.received?.amount ?? 0,
                currency: r.payment.received?.currency ?? "",
                reference: r.payment.received?.reference ?? "",
              },
            ]
          : [],
      ),
      paymentAnomalies: anomalies
        .map((a) => ({
          orderId: a.orderId,
          reason: a.reason,
          at: new Date(a.atMs).toISOString(),
          received: a.received,
          due: a.due,
          reference: a.reference,
        }))
        .sort((a, b) => a.at.localeCompare(b.at)),
      postgres: { rows: rows.length, units: rowUnits },
      queues,
      inFlight: pending,
      issues,
      clean: issues.every((issue) => issue.repaired),
    };
  }
}

/** Whether an order's units are out of stock: not released, and (a held order) not expired. */
function holdsUnits(record: OrderRecord): boolean {
  if (record.state === "released") return false;
  const payment = record.payment?.state;
  return payment === undefined || payment === "held" || payment === "paid";
}

function paymentCounts(records: OrderRecord[]) {
  const counts = { held: 0, paid: 0, expired: 0, refundDue: 0, cancelled: 0 };
  for (const record of records) {
    const state = record.payment?.state;
    if (state === "refund_due") counts.refundDue++;
    else if (state !== undefined) counts[state]++;
  }
  return counts;
}

export function formatReport(report: ReconcileReport): string {
  const lines = [`Reconciliation of sale ${report.saleId}`];
  if (report.redis) {
    const r = report.redis;
    lines.push(
      `  Redis     stock ${r.stock}, remaining ${r.remaining}, sold ${r.sold}`,
      `            orders: ${r.reserved} reserved, ${r.confirmed} confirmed, ${r.released} released (${r.unitsHeld} units held)`,
    );
    if (r.payments) {
      const p = r.payments;
      lines.push(
        `            payments: ${p.held} held, ${p.paid} paid, ${p.expired} expired, ${p.refundDue} refund due`,
      );
    }
  } else {
    lines.push("  Redis     no such sale");
  }
  lines.push(
    `  Postgres  ${report.postgres.rows} order rows, ${report.postgres.units} units`,
    `  Queues    ${report.queues.orders} in the orders queue, ${report.queues.dlq} in the DLQ; ${report.inFlight} reservation(s) still in flight`,
  );
  for (const refund of report.refundsDue) {
    lines.push(
      `  REFUND DUE ${refund.orderId}: ${refund.amount} ${refund.currency} (payment ${refund.reference}) arrived after the hold ended`,
    );
  }
  for (const a of report.paymentAnomalies) {
    lines.push(
      `  PAYMENT ANOMALY ${a.orderId}: received ${a.received.amount} ${a.received.currency}, due ${a.due.amount} ${a.due.currency} (payment ${a.reference}, ${a.at}); refused, refund or correct it`,
    );
  }
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

/** One repair step's result, so one failing order is reported instead of failing the whole reconcile. */
async function settle<T>(
  step: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: string }> {
  try {
    return { ok: true, value: await step() };
  } catch (error) {
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
