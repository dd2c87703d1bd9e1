import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { lambdaContext } from "./lambda-context.js";

/**
 * Plays Lambda's SQS event source mapping: long-polls the queue, gathers
 * batches (size and batching window), invokes the consumer with bounded
 * concurrency, deletes the records that succeeded and leaves the
 * batchItemFailures (or the whole batch, if the handler throws) to reappear
 * after the visibility timeout, where the queue's redrive policy applies.
 */

export type SqsLambda = (
  event: SQSEvent,
  context: Context,
) => Promise<SQSBatchResponse | undefined>;

export interface SqsEventSourceOptions {
  sqs: SQSClient;
  queueUrl: string;
  queueArn?: string;
  handler: SqsLambda;
  batchSize?: number;
  /** How long to keep gathering a batch once its first message arrived. */
  batchingWindowMs?: number;
  /** Concurrent batches, like the mapping's maximum concurrency. */
  concurrency?: number;
  /** Long-poll wait of each ReceiveMessage. */
  waitTimeSeconds?: number;
  onBatch?: (report: BatchReport) => void;
  onError?: (error: unknown) => void;
}

export interface BatchReport {
  size: number;
  failed: number;
  handlerError: unknown;
  durationMs: number;
}

export interface SqsEventSource {
  readonly processed: number;
  readonly failed: number;
  stop(): Promise<void>;
}

const RECEIVE_MAX = 10;

export function startSqsEventSource(options: SqsEventSourceOptions): SqsEventSource {
  const batchSize = options.batchSize ?? 10;
  const windowMs = options.batchingWindowMs ?? 0;
  const waitTimeSeconds = options.waitTimeSeconds ?? 1;
  const queueArn = options.queueArn ?? arnOf(options.queueUrl);
  const controller = new AbortController();
  let processed = 0;
  let failed = 0;

  async function receive(max: number, wait: number): Promise<Message[]> {
    const { Messages = [] } = await options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: Math.min(RECEIVE_MAX, max),
        WaitTimeSeconds: wait,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
      { abortSignal: controller.signal },
    );
    return Messages;
  }

  async function gatherBatch(): Promise<Message[]> {
    const batch = await receive(batchSize, waitTimeSeconds);
    if (batch.length === 0) return batch;
    const deadline = Date.now() + windowMs;
    while (batch.length < batchSize && !controller.signal.aborted) {
      const remaining = deadline - Date.now();
      const more = await receive(batchSize - batch.length, remaining >= 1000 ? 1 : 0);
      batch.push(...more);
      if (more.length === 0 && Date.now() >= deadline) break;
    }
    return batch;
  }

  async function runBatch(messages: Message[]): Promise<void> {
    const started = Date.now();
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, queueArn)) };
    let failedIds = new Set<string>();
    let handlerError: unknown;
    try {
      const response = await options.handler(event, lambdaContext("consume-orders"));
      failedIds = new Set((response?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
    } catch (error) {
      handlerError = error;
      failedIds = new Set(event.Records.map((r) => r.messageId));
    }
    const succeeded = messages.filter((m) => !failedIds.has(m.MessageId ?? ""));
    for (let i = 0; i < succeeded.length; i += RECEIVE_MAX) {
      const chunk = succeeded.slice(i, i + RECEIVE_MAX);
      await options.sqs.send(
        new DeleteMessageBatchCommand({
          QueueUrl: options.queueUrl,
          Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
        }),
      );
    }
    processed += succeeded.length;
    failed += failedIds.size;
    options.onBatch?.({
      size: messages.length,
      failed: failedIds.size,
      handlerError,
      durationMs: Date.now() - started,
    });
  }

  async function poller(): Promise<void> {
    while (!controller.signal.aborted) {
      try {
        const batch = await gatherBatch();
        if (batch.length > 0) await runBatch(batch);
      } catch (error) {
        if (controller.signal.aborted) return;
        options.onError?.(error);
        // The queue is unreachable: back off like the event source mapping does.
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
    }
  }

  const pollers = Array.from({ length: options.concurrency ?? 2 }, () => poller());

  return {
    get processed() {
      return processed;
    },
    get failed() {
      return failed;
    },
    async stop() {
      controller.abort();
      await Promise.allSettled(pollers);
    },
  };
}

function arnOf(queueUrl: string): string {
  const parts = new URL(queueUrl).pathname.split("/").filter(Boolean);
  return `arn:aws:sqs:us-east-1:${parts[0] ?? "000000000000"}:${parts[1] ?? "queue"}`;
}

function toRecord(message: Message, queueArn: string): SQSRecord {
  const attributes = message.Attributes ?? {};
  return {
    messageId: message.MessageId ?? "",
    receiptHandle: message.ReceiptHandle ?? "",
    body: message.Body ?? "",
    attributes: {
      ApproximateReceiveCount: attributes.ApproximateReceiveCount ?? "1",
      SentTimestamp: attributes.SentTimestamp ?? String(Date.now()),
      SenderId: attributes.SenderId ?? "local",
      ApproximateFirstReceiveTimestamp:
        attributes.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.MessageAttributes ?? {}).map(([name, value]) => [
        name,
        { dataType: value.DataType ?? "String", stringValue: value.StringValue },
      ]),
    ),
    md5OfBody: message.MD5OfBody ?? "",
    eventSource: "aws:sqs",
    eventSourceARN: queueArn,
    awsRegion: "us-east-1",
  };
}
