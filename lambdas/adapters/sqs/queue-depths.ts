import { GetQueueAttributesCommand, type SQSClient } from "@aws-sdk/client-sqs";
import type { QueueDepthsProbe } from "../../domain/ports.js";

/** Messages in a queue, visible or in flight (SQS's approximate counts). */
export async function queueDepth(sqs: SQSClient, queueUrl: string): Promise<number> {
  const { Attributes = {} } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
        "ApproximateNumberOfMessagesDelayed",
      ],
    }),
  );
  return (
    Number(Attributes.ApproximateNumberOfMessages ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesNotVisible ?? 0) +
    Number(Attributes.ApproximateNumberOfMessagesDelayed ?? 0)
  );
}

/** The QueueDepthsProbe port over the orders queue and its DLQ, both asked at once. */
export function sqsQueueDepths(
  sqs: SQSClient,
  queues: { ordersQueueUrl: string; deadLetterQueueUrl: string },
): QueueDepthsProbe {
  return async () => {
    const [orders, dlq] = await Promise.all([
      queueDepth(sqs, queues.ordersQueueUrl),
      queueDepth(sqs, queues.deadLetterQueueUrl),
    ]);
    return { orders, dlq };
  };
}
