/**
 * An accepted order: what the buy path reserved, the queue carries and the
 * consumer persists. One shape and one time representation (epoch ms)
 * everywhere in the domain; the queue message (order-message.ts) and the
 * table (adapters/postgres) keep their own wire and column formats.
 */
export interface Order {
  orderId: string;
  saleId: string;
  userId: string;
  quantity: number;
  reservedAtMs: number;
  /** In a sale with a hold: when the hold ends and what is due for it. */
  hold?: HoldTerms;
}

export interface HoldTerms {
  expiresAtMs: number;
  /** The amount due for the order (unit price × quantity), minor units. */
  amount: number;
  currency: string;
}

/**
 * Where a held order stands with its payment: `held` until paid or expired;
 * `refund_due` when a payment came after the hold ended (the order stays
 * expired, the money must go back); `cancelled` when the buy itself failed.
 */
export type PaymentState = "held" | "paid" | "expired" | "refund_due" | "cancelled";

/** An order as the sale store records it. */
export interface OrderRecord extends Order {
  state: "reserved" | "confirmed" | "released";
  confirmedAtMs: number | undefined;
  /** Only for orders of a sale with a hold. */
  payment?: {
    state: PaymentState;
    paidAtMs?: number;
    expiredAtMs?: number;
    refundDueAtMs?: number;
    /** What the late payment brought, for its refund. */
    received?: { amount: number; currency: string; reference: string };
  };
}

/** The history of a held order, one event per step (Postgres order_events). */
export type OrderEventKind = "held" | "paid" | "expired" | "refund_due";

export interface OrderEvent {
  orderId: string;
  saleId: string;
  event: OrderEventKind;
  atMs: number;
  amount?: number;
  currency?: string;
  /** The provider's payment reference, for paid and refund_due. */
  reference?: string;
}

/** An order as a row in the orders table. */
export interface OrderRow extends Order {
  persistedAtMs: number;
  status: "confirmed" | "cancelled";
}

/** The order's own fields, whatever else the value carries (a record's state, a row's status). */
export function orderFields(order: Order): Order {
  const fields: Order = {
    orderId: order.orderId,
    saleId: order.saleId,
    userId: order.userId,
    quantity: order.quantity,
    reservedAtMs: order.reservedAtMs,
  };
  if (order.hold) fields.hold = { ...order.hold };
  return fields;
}
