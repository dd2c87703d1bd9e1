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
}

/** An order as the sale store records it. */
export interface OrderRecord extends Order {
  state: "reserved" | "confirmed" | "released";
  confirmedAtMs: number | undefined;
}

/** An order as a row in the orders table. */
export interface OrderRow extends Order {
  persistedAtMs: number;
  status: "confirmed" | "cancelled";
}

/** The order's own fields, whatever else the value carries (a record's state, a row's status). */
export function orderFields(order: Order): Order {
  return {
    orderId: order.orderId,
    saleId: order.saleId,
    userId: order.userId,
    quantity: order.quantity,
    reservedAtMs: order.reservedAtMs,
  };
}
