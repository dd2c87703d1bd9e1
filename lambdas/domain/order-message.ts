import * as z from "zod";
import { buyerIdSchema } from "./buyer-id.js";
import type { Order } from "./order.js";
import { MAX_QUANTITY_PER_REQUEST, orderIdSchema, saleIdOfOrder, saleIdSchema } from "./sale.js";

/**
 * The message an accepted buy sends to the orders queue; the consumer
 * validates it with the same schema, so the buy path and the consumer agree
 * on what an order is (see buyer-id.ts).
 */
export const orderMessageSchema = z.object({
  orderId: orderIdSchema,
  saleId: saleIdSchema,
  userId: buyerIdSchema,
  quantity: z.number().int().positive().max(MAX_QUANTITY_PER_REQUEST),
  reservedAt: z.iso.datetime(),
});

export type OrderMessage = z.infer<typeof orderMessageSchema>;

/**
 * The message body: JSON with every character outside printable ASCII written
 * as a \u escape. SQS accepts only some Unicode (no U+FFFE/U+FFFF, for one),
 * and local SQS servers refuse characters outside the Basic Multilingual
 * Plane; an ASCII body is accepted by all of them and parses back to the very
 * same strings.
 */
export function encodeOrderMessage(message: OrderMessage): string {
  return JSON.stringify(message).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The message an order travels as: the same fields, its time as an ISO 8601 instant. */
export function messageOf(order: Order): OrderMessage {
  return {
    orderId: order.orderId,
    saleId: order.saleId,
    userId: order.userId,
    quantity: order.quantity,
    reservedAt: new Date(order.reservedAtMs).toISOString(),
  };
}

export function orderOf(message: OrderMessage): Order {
  return {
    orderId: message.orderId,
    saleId: message.saleId,
    userId: message.userId,
    quantity: message.quantity,
    reservedAtMs: Date.parse(message.reservedAt),
  };
}

/** A message that can never become an order: it fails alone and, after its retries, stays in the DLQ. */
export class PoisonMessageError extends Error {
  override name = "PoisonMessageError";
}

/** Parses and validates a message body as the buy path wrote it. */
export function parseOrderMessage(body: string): OrderMessage {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new PoisonMessageError("message body is not JSON");
  }
  const parsed = orderMessageSchema.safeParse(json);
  if (!parsed.success) {
    throw new PoisonMessageError(
      `invalid order message: ${parsed.error.issues[0]?.message ?? "unknown"}`,
    );
  }
  if (saleIdOfOrder(parsed.data.orderId) !== parsed.data.saleId) {
    throw new PoisonMessageError("order id does not belong to the message's sale");
  }
  return parsed.data;
}
