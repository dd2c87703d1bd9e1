import * as z from "zod";
import { saleIdSchema } from "./sale.js";

/** The message an accepted buy sends to the orders queue; the consumer validates it with the same schema. */
export const orderMessageSchema = z.object({
  orderId: z.string().min(3).max(200),
  saleId: saleIdSchema,
  userId: z.string().min(1).max(256),
  quantity: z.number().int().positive(),
  reservedAt: z.iso.datetime(),
});

export type OrderMessage = z.infer<typeof orderMessageSchema>;

/** Where accepted orders go. In AWS and locally this is SQS; see platform/order-queue.ts. */
export interface OrderQueue {
  send(message: OrderMessage): Promise<void>;
}
