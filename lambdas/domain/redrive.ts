import {
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";

export interface RedriveResult {
  moved: number;
  failed: number;
}

/**
 * Moves messages from the DLQ back to the orders queue, ten at a time: each
 * is sent first and deleted from the DLQ only once the send succeeded, so a
 * crash in between duplicates a message (the consumer is idempotent) rather
 * than losing it. Bounded by `max` so it always ends.
 */
export async function redrive(
  sqs: SQSClient,
  from: string,
  to: string,
  options: { max?: number } = {},
): Promise<RedriveResult> {
  const max = options.max ?? 100_000;
  let moved = 0;
  let failed = 0;
  while (moved + failed < max) {
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: from,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 0,
        VisibilityTimeout: 30,
        MessageAttributeNames: ["All"],
      }),
    );
    if (Messages.length === 0) break;
    const sent = await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: to,
        Entries: Messages.map((message, i) => ({
          Id: String(i),
          MessageBody: message.Body ?? "",
          MessageAttributes: message.MessageAttributes,
        })),
      }),
    );
    const okIds = new Set((sent.Successful ?? []).map((entry) => entry.Id));
    const toDelete = Messages.filter((_, i) => okIds.has(String(i)));
    let deleted = 0;
    if (toDelete.length > 0) {
      const result = await sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: from,
          Entries: toDelete.map((message, i) => ({
            Id: String(i),
            ReceiptHandle: message.ReceiptHandle,
          })),
        }),
      );
      // Sent but not deleted: the message is in both queues. Never lost, but not "moved".
      deleted = result.Successful?.length ?? 0;
    }
    moved += deleted;
    failed += Messages.length - deleted;
  }
  return { moved, failed };
}
