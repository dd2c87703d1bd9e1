import { PurgeQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { localSqsClient } from "../../local/services/sqs-server.js";

/** Reads (and deletes nothing from) the orders queue of the test services. */
export function testSqs() {
  const endpoint = process.env.SQS_ENDPOINT;
  const queueUrl = process.env.ORDERS_QUEUE_URL;
  if (!endpoint || !queueUrl)
    throw new Error("SQS_ENDPOINT/ORDERS_QUEUE_URL not set: needs the global setup");
  const sqs = localSqsClient(endpoint);

  return {
    sqs,
    queueUrl,
    async purge() {
      await sqs.send(new PurgeQueueCommand({ QueueUrl: queueUrl }));
    },
    /** Drains every visible message body (they stay hidden for the visibility timeout). */
    async receiveAll(max = 100_000): Promise<unknown[]> {
      const bodies: unknown[] = [];
      while (bodies.length < max) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl: queueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            VisibilityTimeout: 60,
          }),
        );
        if (Messages.length === 0) break;
        for (const message of Messages) bodies.push(JSON.parse(message.Body ?? "null"));
      }
      return bodies;
    },
  };
}
