import * as z from "zod";
import { buyerIdSchema } from "./buyer-id.js";
import { MAX_QUANTITY_PER_REQUEST, orderIdSchema, saleIdSchema } from "./sale.js";

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

/** Where accepted orders go. In AWS and locally this is SQS; see platform/sqs-client.ts. */
export interface OrderQueue {
  send(message: OrderMessage): Promise<void>;
}
