import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import { parseQueueMessage } from "../../domain/order-message.js";

export interface RedriveResult {
  moved: number;
  failed: number;
  /** Messages left in the DLQ because they can never be persisted (malformed, or breaking the order contract). */
  skipped: number;
  /** The first few skipped messages, with why; a person inspects them in the DLQ. */
  skippedMessages: Array<{ messageId: string; reason: string }>;
}

const SKIPPED_LISTED = 20;
/** Skipped messages stay invisible this long, so one run does not receive them again. */
const RECEIVE_VISIBILITY_SECONDS = 30;

/**
 * Moves messages from the DLQ back to the orders queue, ten at a time: each
 * is sent first and deleted from the DLQ only once the send succeeded, so a
 * crash in between duplicates a message (the consumer is idempotent) rather
 * than losing it. A message the consumer could never persist (it fails the
 * same validation) is left in the DLQ and reported instead of sent round the
 * loop again. Bounded by `max` so it always ends.
 */
export async function redrive(
  sqs: SQSClient,
  from: string,
  to: string,
  options: { max?: number } = {},
): Promise<RedriveResult> {
  const max = options.max ?? 100_000;
  const result: RedriveResult = { moved: 0, failed: 0, skipped: 0, skippedMessages: [] };
  const skippedIds = new Set<string>();
  while (result.moved + result.failed + result.skipped < max) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: from,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: RECEIVE_VISIBILITY_SECONDS,
        MessageAttributeNames: ["All"],
      }),
    );
    const fresh = Messages.filter((message) => !skippedIds.has(message.MessageId ?? ""));
    // Nothing left but messages this run already skipped (a run past the visibility timeout).
    if (fresh.length === 0) break;

    const movable = fresh.filter((message) => {
      try {
        // Orders and order-history events (paid, expired, refund_due) share the queue.
        parseQueueMessage(message.Body ?? "");
        return true;
      } catch (error) {
        const messageId = message.MessageId ?? "";
        skippedIds.add(messageId);
        result.skipped++;
        if (result.skippedMessages.length < SKIPPED_LISTED) {
          result.skippedMessages.push({ messageId, reason: (error as Error).message });
        }
        return false;
      }
    });
    if (movable.length === 0) continue;

    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: to,
        Entries: movable.map((message, i) => ({
          Id: String(i),
          MessageBody: message.Body ?? "",
          MessageAttributes: message.MessageAttributes,
        })),
      }),
    );
    const okIds = new Set((sent.Successful ?? []).map((entry) => entry.Id));
    const toDelete = movable.filter((_, i) => okIds.has(String(i)));
    let deleted = 0;
    if (toDelete.length > 0) {
      const deletion = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: from,
          Entries: toDelete.map((message, i) => ({
            Id: String(i),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
      // Sent but not deleted: the message is in both queues. Never lost, but not "moved".
      deleted = deletion.Successful?.length ?? 0;
    }
    result.moved += deleted;
    result.failed += movable.length - deleted;
  }
  return result;
}
