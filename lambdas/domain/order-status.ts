import type { OrderRows, SaleStore } from "./ports.js";
import { saleIdOfOrder } from "./sale.js";

export interface OrderView {
  orderId: string;
  saleId: string;
  quantity: number;
  status: "pending" | "confirmed";
  reservedAt: string;
  confirmedAt: string | null;
}

/**
 * An order as its owner sees it: `confirmed` once its row exists, `pending`
 * while it is reserved in Redis but not yet persisted. Null for an unknown
 * order, a released one, or one that belongs to someone else (the caller
 * must not learn that it exists).
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
    return {
      orderId,
      saleId: row.saleId,
      quantity: row.quantity,
      status: "confirmed",
      reservedAt: new Date(row.reservedAtMs).toISOString(),
      confirmedAt: new Date(row.persistedAtMs).toISOString(),
    };
  }

  const record = await deps.reservations.getOrder(saleId, orderId, callerId);
  if (!record || record.userId !== callerId || record.state === "released") return null;
  return {
    orderId,
    saleId,
    quantity: record.quantity,
    status: "pending",
    reservedAt: new Date(record.reservedAtMs).toISOString(),
    confirmedAt: null,
  };
}
