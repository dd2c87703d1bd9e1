import * as z from "zod";
import { buyerIdSchema } from "./buyer-id.js";
import type { Order, OrderEvent } from "./order.js";
import type { DrawEntryRecord } from "./ports.js";
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
  /** Only for an order of a sale with a hold: its terms. */
  hold: z
    .object({
      expiresAt: z.iso.datetime(),
      amount: z.number().int().min(0),
      currency: z.string().regex(/^[a-z]{3}$/),
    })
    .optional(),
});

/**
 * A step in a held order's history (paid, expired, refund_due), sent on the
 * same queue by the sweeper when it drains a sale's outbox; the consumer
 * writes it to order_events. `kind` tells it from an order message.
 */
export const orderEventMessageSchema = z.object({
  kind: z.literal("order_event"),
  orderId: orderIdSchema,
  saleId: saleIdSchema,
  event: z.enum(["held", "paid", "expired", "refund_due"]),
  at: z.iso.datetime(),
  amount: z.number().int().min(0).optional(),
  currency: z.string().max(16).optional(),
  reference: z.string().max(255).optional(),
});

export type OrderEventMessage = z.infer<typeof orderEventMessageSchema>;

/**
 * A draw's entry (docs/draws.md), sent on the same queue by the entry path;
 * the consumer writes it to draw_entries. `kind` tells it from an order.
 */
export const drawEntryMessageSchema = z.object({
  kind: z.literal("draw_entry"),
  saleId: saleIdSchema,
  userId: buyerIdSchema,
  entryId: z.uuid(),
  quantity: z.number().int().positive().max(MAX_QUANTITY_PER_REQUEST),
  enteredAt: z.iso.datetime(),
});

export type DrawEntryMessage = z.infer<typeof drawEntryMessageSchema>;

export function entryMessageOf(entry: DrawEntryRecord): DrawEntryMessage {
  return {
    kind: "draw_entry",
    saleId: entry.saleId,
    userId: entry.userId,
    entryId: entry.entryId,
    quantity: entry.quantity,
    enteredAt: new Date(entry.enteredAtMs).toISOString(),
  };
}

export function entryOf(message: DrawEntryMessage): DrawEntryRecord {
  return {
    saleId: message.saleId,
    userId: message.userId,
    entryId: message.entryId,
    quantity: message.quantity,
    enteredAtMs: Date.parse(message.enteredAt),
  };
}

export type OrderMessage = z.infer<typeof orderMessageSchema>;

/**
 * The message body: JSON with every character outside printable ASCII written
 * as a \u escape. SQS accepts only some Unicode (no U+FFFE/U+FFFF, for one),
 * and local SQS servers refuse characters outside the Basic Multilingual
 * Plane; an ASCII body is accepted by all of them and parses back to the very
 * same strings.
 */
export function encodeOrderMessage(
  message: OrderMessage | OrderEventMessage | DrawEntryMessage,
): string {
  return JSON.stringify(message).replace(
    /[^\x20-\x7e]/g,
    (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** The message an order travels as: the same fields, its time as an ISO 8601 instant. */
export function messageOf(order: Order): OrderMessage {
  const message: OrderMessage = {
    orderId: order.orderId,
    saleId: order.saleId,
    userId: order.userId,
    quantity: order.quantity,
    reservedAt: new Date(order.reservedAtMs).toISOString(),
  };
  // Only held orders carry terms: every other message is byte for byte as before.
  if (order.hold) {
    message.hold = {
      expiresAt: new Date(order.hold.expiresAtMs).toISOString(),
      amount: order.hold.amount,
      currency: order.hold.currency,
    };
  }
  return message;
}

export function orderOf(message: OrderMessage): Order {
  const order: Order = {
    orderId: message.orderId,
    saleId: message.saleId,
    userId: message.userId,
    quantity: message.quantity,
    reservedAtMs: Date.parse(message.reservedAt),
  };
  if (message.hold) {
    order.hold = {
      expiresAtMs: Date.parse(message.hold.expiresAt),
      amount: message.hold.amount,
      currency: message.hold.currency,
    };
  }
  return order;
}

export function eventMessageOf(event: OrderEvent): OrderEventMessage {
  return {
    kind: "order_event",
    orderId: event.orderId,
    saleId: event.saleId,
    event: event.event,
    at: new Date(event.atMs).toISOString(),
    ...(event.amount !== undefined && { amount: event.amount }),
    ...(event.currency !== undefined && { currency: event.currency }),
    ...(event.reference !== undefined && { reference: event.reference }),
  };
}

export function eventOf(message: OrderEventMessage): OrderEvent {
  return {
    orderId: message.orderId,
    saleId: message.saleId,
    event: message.event,
    atMs: Date.parse(message.at),
    ...(message.amount !== undefined && { amount: message.amount }),
    ...(message.currency !== undefined && { currency: message.currency }),
    ...(message.reference !== undefined && { reference: message.reference }),
  };
}

/** A queue body: an order, or a step in a held order's history. */
export function parseQueueMessage(
  body: string,
):
  | { kind: "order"; message: OrderMessage }
  | { kind: "event"; message: OrderEventMessage }
  | { kind: "entry"; message: DrawEntryMessage } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new PoisonMessageError("message body is not JSON");
  }
  if ((json as { kind?: unknown } | null)?.kind === "draw_entry") {
    const parsed = drawEntryMessageSchema.safeParse(json);
    if (!parsed.success) {
      throw new PoisonMessageError(
        `invalid draw entry message: ${parsed.error.issues[0]?.message ?? "unknown"}`,
      );
    }
    return { kind: "entry", message: parsed.data };
  }
  if ((json as { kind?: unknown } | null)?.kind === "order_event") {
    const parsed = orderEventMessageSchema.safeParse(json);
    if (!parsed.success) {
      throw new PoisonMessageError(
        `invalid order event message: ${parsed.error.issues[0]?.message ?? "unknown"}`,
      );
    }
    if (saleIdOfOrder(parsed.data.orderId) !== parsed.data.saleId) {
      throw new PoisonMessageError("order id does not belong to the message's sale");
    }
    return { kind: "event", message: parsed.data };
  }
  return { kind: "order", message: parseOrderMessage(body) };
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
