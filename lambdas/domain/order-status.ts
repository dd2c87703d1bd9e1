import type { HoldTerms, OrderEvent, OrderRecord } from "./order.js";
import type { OrderRows, SaleStore } from "./ports.js";
import type { Money } from "./sale.js";
import { saleIdOfOrder } from "./sale.js";

export type OrderViewStatus =
  | "pending"
  | "confirmed"
  | "awaiting_payment"
  | "paid"
  | "expired"
  | "refund_due";

export interface OrderView {
  orderId: string;
  saleId: string;
  quantity: number;
  status: OrderViewStatus;
  reservedAt: string;
  confirmedAt: string | null;
  /** Orders of a sale with a hold: when the hold ends (or ended). */
  expiresAt?: string;
  /** Orders of a sale with a hold: what the buyer pays for the order. */
  amountDue?: Money;
  paidAt?: string;
  expiredAt?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * An order as its owner sees it. Sales without a hold: `confirmed` once its
 * row exists, `pending` while it is reserved in Redis but not yet persisted.
 * Sales with a hold: `awaiting_payment` (with `expiresAt` and `amountDue`)
 * until it is `paid` or `expired`; `refund_due` when a payment came after the
 * hold ended. Redis decides a held order's state (the pay and expiry scripts);
 * when Redis has lost it, the history in Postgres tells. Null for an unknown
 * order, a released one, or one that belongs to someone else (the caller must
 * not learn that it exists).
 */
export async function orderStatus(
  deps: { orderRows: OrderRows; reservations: SaleStore },
  orderId: string,
  callerId: string,
): Promise<OrderView | null> {
  const saleId = saleIdOfOrder(orderId);
  if (saleId === null) return null;

  const row = await deps.orderRows.find(orderId);
  if (row) {
    if (row.userId !== callerId || row.status !== "confirmed") return null;
    const base = {
      orderId,
      saleId: row.saleId,
      quantity: row.quantity,
      reservedAt: iso(row.reservedAtMs),
      confirmedAt: iso(row.persistedAtMs),
    };
    if (!row.hold) return { ...base, status: "confirmed" };
    const record = await deps.reservations.getOrder(saleId, orderId, callerId);
    if (record?.payment) return { ...base, ...heldView(record.hold ?? row.hold, record) };
    return { ...base, ...fromHistory(row.hold, await deps.orderRows.eventsOf(orderId)) };
  }

  const record = await deps.reservations.getOrder(saleId, orderId, callerId);
  if (!record || record.userId !== callerId || record.state === "released") return null;
  const base = {
    orderId,
    saleId,
    quantity: record.quantity,
    reservedAt: iso(record.reservedAtMs),
    confirmedAt: null,
  };
  if (record.payment && record.hold) return { ...base, ...heldView(record.hold, record) };
  return { ...base, status: "pending" };
}

function terms(hold: HoldTerms) {
  return {
    expiresAt: iso(hold.expiresAtMs),
    amountDue: { amount: hold.amount, currency: hold.currency },
  };
}

function heldView(hold: HoldTerms, record: OrderRecord) {
  const payment = record.payment;
  const status: OrderViewStatus =
    payment?.state === "held" || payment?.state === undefined
      ? "awaiting_payment"
      : payment.state === "cancelled"
        ? "expired"
        : payment.state;
  return {
    status,
    ...terms(hold),
    ...(payment?.paidAtMs !== undefined && { paidAt: iso(payment.paidAtMs) }),
    ...(payment?.expiredAtMs !== undefined && { expiredAt: iso(payment.expiredAtMs) }),
  };
}

/** A held order's state from its history alone (Redis has lost it). */
function fromHistory(hold: HoldTerms, events: OrderEvent[]) {
  const at = (kind: OrderEvent["event"]) => events.find((e) => e.event === kind)?.atMs;
  const paidAt = at("paid");
  const expiredAt = at("expired");
  const status: OrderViewStatus =
    at("refund_due") !== undefined
      ? "refund_due"
      : paidAt !== undefined
        ? "paid"
        : expiredAt !== undefined
          ? "expired"
          : "awaiting_payment";
  return {
    status,
    ...terms(hold),
    ...(paidAt !== undefined && { paidAt: iso(paidAt) }),
    ...(expiredAt !== undefined && { expiredAt: iso(expiredAt) }),
  };
}
