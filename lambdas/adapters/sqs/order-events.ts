import { SendMessageBatchCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { OrderEvent } from "../../domain/order.js";
import { encodeOrderMessage, eventMessageOf } from "../../domain/order-message.js";
import type { OrderEventQueue } from "../../domain/ports.js";

/** SQS takes at most 10 messages per batch. */
const BATCH = 10;

/**
 * Held orders' history events on the orders queue, for the consumer to write
 * to order_events. Sent in batches of 10; a batch with any failed entry
 * throws, so the caller keeps the events and sends them again (the consumer's
 * write is idempotent, so the entries that did go through do no harm).
 */
export class SqsOrderEventQueue implements OrderEventQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async sendEvents(events: OrderEvent[]): Promise<void> {
    for (let i = 0; i < events.length; i += BATCH) {
      const batch = events.slice(i, i + BATCH);
      const result = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((event, n) => ({
            Id: String(n),
            MessageBody: encodeOrderMessage(eventMessageOf(event)),
          })),
        }),
      );
      if ((result.Failed?.length ?? 0) > 0) {
        throw new Error(
          `SQS refused ${result.Failed?.length} of ${batch.length} order event(s): ${result.Failed?.[0]?.Message ?? ""}`,
        );
      }
    }
  }
}
