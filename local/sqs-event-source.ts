import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from "aws-lambda";
import { invocationTraceHeader, withinInvocation } from "./invoke-store.js";
import { lambdaContext } from "./lambda-context.js";
import { LOCAL_STACK_SETTINGS } from "./stack-settings.js";

/**
 * Plays Lambda's SQS event source mapping with ReportBatchItemFailures on (as
 * the CDK stack configures it): long-polls the queue, gathers batches (size
 * and batching window), invokes the consumer with bounded concurrency and the
 * consumer function's timeout, deletes the records that succeeded and leaves
 * the failed ones to reappear after the visibility timeout, where the queue's
 * redrive policy applies. Which records failed follows AWS's documented rules
 * (Lambda developer guide, "Handling errors for an SQS event source in Lambda",
 * success and failure conditions): see batchOutcome().
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
  /** Default: the stack's consumerBatchSize (cdk.json). */
  batchSize?: number;
  /** How long to keep gathering a batch once its first message arrived; default the stack's window. */
  batchingWindowMs?: number;
  /** Concurrent batches, like the mapping's maximum concurrency; default the stack's. */
  concurrency?: number;
  /** The consumer function's timeout; default the stack's consumerTimeoutSeconds. */
  timeoutMs?: number;
  /** Long-poll wait of each ReceiveMessage. */
  waitTimeSeconds?: number;
  onBatch?: (report: BatchReport) => void;
  onError?: (error: unknown) => void;
}

export interface BatchReport {
  size: number;
  failed: number;
  /** Why the records failed: none, the ones the handler named, or all of them (and why). */
  outcome: BatchOutcome["kind"];
  handlerError: unknown;
  durationMs: number;
}

export type BatchOutcome =
  | { kind: "success"; failedIds: Set<string> }
  | { kind: "partial"; failedIds: Set<string> }
  | {
      kind: "handler-error" | "timeout" | "invalid-response";
      failedIds: Set<string>;
      reason: string;
    };

/**
 * What Lambda makes of a handler's answer to an SQS batch with
 * ReportBatchItemFailures (AWS Lambda developer guide, services-sqs-errorhandling):
 *
 * - complete success: no response (undefined/null), an empty object, a null or
 *   empty batchItemFailures list;
 * - partial: a list whose every entry names a message of this batch in
 *   itemIdentifier: those, and only those, are retried;
 * - complete failure (every message retried): the invocation failed (the handler
 *   threw or ran past its timeout), or the response is invalid: not a JSON object
 *   (a string, a number, an array, not serializable), a batchItemFailures that is
 *   not a list, or any entry whose itemIdentifier is missing (or under another key),
 *   null, empty, not a string, or not the id of a message in this batch.
 */
export function batchOutcome(messageIds: readonly string[], response: unknown): BatchOutcome {
  const all = new Set(messageIds);
  const invalid = (reason: string): BatchOutcome => ({
    kind: "invalid-response",
    failedIds: all,
    reason,
  });
  if (response === undefined || response === null) return { kind: "success", failedIds: new Set() };
  let parsed: unknown;
  try {
    // What the runtime sends back to the event source is the JSON of the return value.
    const json = JSON.stringify(response);
    parsed = json === undefined ? undefined : JSON.parse(json);
  } catch (error) {
    return invalid(`the response is not serializable to JSON: ${(error as Error).message}`);
  }
  if (parsed === undefined || parsed === null) return { kind: "success", failedIds: new Set() };
  if (typeof parsed !== "object" || Array.isArray(parsed)) {
    return invalid(`the response is not a JSON object: ${JSON.stringify(parsed).slice(0, 80)}`);
  }
  const failures = (parsed as { batchItemFailures?: unknown }).batchItemFailures;
  if (failures === undefined || failures === null) return { kind: "success", failedIds: new Set() };
  if (!Array.isArray(failures)) return invalid("batchItemFailures is not a list");
  if (failures.length === 0) return { kind: "success", failedIds: new Set() };
  const failedIds = new Set<string>();
  for (const entry of failures) {
    const id = (entry as { itemIdentifier?: unknown } | null)?.itemIdentifier;
    if (typeof id !== "string" || id === "") {
      return invalid(
        `a batchItemFailures entry has no valid itemIdentifier: ${JSON.stringify(entry)}`,
      );
    }
    if (!all.has(id))
      return invalid(`itemIdentifier ${JSON.stringify(id)} is not a message of this batch`);
    failedIds.add(id);
  }
  return { kind: "partial", failedIds };
}

export interface SqsEventSource {
  readonly processed: number;
  readonly failed: number;
  stop(): Promise<void>;
}

const RECEIVE_MAX = 10;

/**
 * The poller. Lambda's pollers keep receiving while the function runs, so here
 * one gatherer fills each batch with concurrent ReceiveMessage calls (ten
 * messages each, as many as the batch size needs), hands it to the handler and
 * gathers the next one while the handler runs: at most `concurrency` batches
 * in flight (being gathered, in the handler, or being deleted), so no batch
 * waits for a slot with its visibility timeout running. A batch's successful
 * records are deleted with concurrent DeleteMessageBatch calls.
 */
export function startSqsEventSource(options: SqsEventSourceOptions): SqsEventSource {
  const batchSize = options.batchSize ?? LOCAL_STACK_SETTINGS.consumerBatchSize;
  const windowMs =
    options.batchingWindowMs ?? LOCAL_STACK_SETTINGS.consumerBatchingWindowSeconds * 1000;
  const timeoutMs = options.timeoutMs ?? LOCAL_STACK_SETTINGS.consumerTimeoutSeconds * 1000;
  const waitTimeSeconds = options.waitTimeSeconds ?? 1;
  const concurrency = options.concurrency ?? LOCAL_STACK_SETTINGS.consumerMaxConcurrency;
  const queueArn = options.queueArn ?? arnOf(options.queueUrl);
  const controller = new AbortController();
  const { signal } = controller;
  let processed = 0;
  let failed = 0;

  /**
   * Never aborted by stop(): SQS makes messages invisible when it answers, so a
   * receive cut short on our side may already have taken messages that nobody
   * would then see until their visibility timeout ended (orders missing from
   * Postgres for minutes after a stop, and from a test that stops and restarts
   * the consumer). A receive waits at most waitTimeSeconds; what it brings
   * after stop() is made visible again by the poller.
   */
  async function receive(max: number, wait: number): Promise<Message[]> {
    const { Messages = [] } = await options.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: options.queueUrl,
        MaxNumberOfMessages: Math.min(RECEIVE_MAX, max),
        WaitTimeSeconds: wait,
        MessageSystemAttributeNames: ["All"],
        MessageAttributeNames: ["All"],
      }),
    );
    return Messages;
  }

  /** Up to `wanted` messages from concurrent receives of ten; what arrived even if some failed. */
  async function receiveMany(wanted: number, wait: number): Promise<Message[]> {
    const calls = Array.from({ length: Math.ceil(wanted / RECEIVE_MAX) }, (_, i) =>
      receive(Math.min(RECEIVE_MAX, wanted - i * RECEIVE_MAX), wait),
    );
    const settled = await Promise.allSettled(calls);
    const messages = settled.flatMap((r) => (r.status === "fulfilled" ? r.value : []));
    const rejected = settled.find((r) => r.status === "rejected");
    if (rejected && messages.length === 0) throw rejected.reason;
    if (rejected && !signal.aborted) options.onError?.(rejected.reason);
    return messages;
  }

  /**
   * A batch as Lambda gathers one: it waits for a first message (one long poll),
   * then keeps receiving (concurrently, ten per call) until the batch is full or
   * the batching window has passed; with no window, until the queue has no more.
   */
  async function gatherBatch(): Promise<Message[]> {
    const batch = await receive(batchSize, waitTimeSeconds);
    if (batch.length === 0) return batch;
    const deadline = Date.now() + windowMs;
    while (batch.length < batchSize && !signal.aborted) {
      const wanted = batchSize - batch.length;
      try {
        let more = await receiveMany(wanted, 0);
        const remaining = deadline - Date.now();
        if (more.length === 0) {
          if (remaining <= 0) break;
          // Nothing queued within the window: wait for more, without spinning on empty receives.
          if (remaining >= 1000) more = await receive(wanted, 1);
          else await sleep(Math.min(remaining, 20), signal);
        }
        batch.push(...more);
      } catch (error) {
        // The batch so far goes to the handler; the error to the log.
        if (!signal.aborted) options.onError?.(error);
        break;
      }
    }
    return batch;
  }

  async function deleteMessages(messages: Message[]): Promise<void> {
    await Promise.all(
      batchesOfTen(messages).map((chunk) =>
        options.sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: chunk.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle })),
          }),
        ),
      ),
    );
  }

  async function release(messages: Message[]): Promise<void> {
    await Promise.allSettled(
      batchesOfTen(messages).map((chunk) =>
        options.sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: options.queueUrl,
            Entries: chunk.map((m, j) => ({
              Id: String(j),
              ReceiptHandle: m.ReceiptHandle,
              VisibilityTimeout: 0,
            })),
          }),
        ),
      ),
    );
  }

  async function runBatch(messages: Message[]): Promise<void> {
    const started = Date.now();
    const event: SQSEvent = { Records: messages.map((m) => toRecord(m, queueArn)) };
    const ids = event.Records.map((r) => r.messageId);
    let outcome: BatchOutcome;
    let handlerError: unknown;
    let timer: NodeJS.Timeout | undefined;
    try {
      // Lambda ends an invocation at the function's timeout: the batch counts as failed,
      // whatever the handler does afterwards (here it cannot be frozen, only ignored).
      const timedOut = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new InvocationTimeout(timeoutMs)), timeoutMs);
      });
      const context = lambdaContext("consume-orders", timeoutMs);
      const response = await Promise.race([
        withinInvocation(context, invocationTraceHeader(), () => options.handler(event, context)),
        timedOut,
      ]);
      outcome = batchOutcome(ids, response);
    } catch (error) {
      handlerError = error;
      outcome =
        error instanceof InvocationTimeout
          ? { kind: "timeout", failedIds: new Set(ids), reason: error.message }
          : { kind: "handler-error", failedIds: new Set(ids), reason: String(error) };
    } finally {
      clearTimeout(timer);
    }
    const { failedIds } = outcome;
    const succeeded = messages.filter((m) => !failedIds.has(m.MessageId ?? ""));
    // The failed records are left alone: they reappear after the visibility timeout.
    await deleteMessages(succeeded);
    processed += succeeded.length;
    failed += failedIds.size;
    options.onBatch?.({
      size: messages.length,
      failed: failedIds.size,
      outcome: outcome.kind,
      handlerError,
      durationMs: Date.now() - started,
    });
  }

  // Batches in the handler (or deleting), bounded by the concurrency.
  const inFlight = new Set<Promise<void>>();
  let slotFreed: (() => void) | undefined;

  async function poller(): Promise<void> {
    while (!signal.aborted) {
      // A batch being gathered counts as in flight: its messages are already invisible.
      while (inFlight.size >= concurrency && !signal.aborted) {
        await new Promise<void>((resolve) => {
          slotFreed = resolve;
        });
      }
      if (signal.aborted) return;
      let batch: Message[];
      try {
        batch = await gatherBatch();
      } catch (error) {
        if (signal.aborted) return;
        options.onError?.(error);
        // The queue is unreachable: back off like the event source mapping does.
        await sleep(500, signal);
        continue;
      }
      if (batch.length === 0) continue;
      if (signal.aborted) {
        // Stopped while gathering: what was received becomes visible again at once,
        // rather than after the visibility timeout, for the next start to take.
        await release(batch);
        return;
      }
      const run = runBatch(batch)
        .catch((error: unknown) => options.onError?.(error))
        .finally(() => {
          inFlight.delete(run);
          slotFreed?.();
        });
      inFlight.add(run);
    }
  }

  const polling = concurrency > 0 ? poller() : Promise.resolve();

  return {
    get processed() {
      return processed;
    },
    get failed() {
      return failed;
    },
    async stop() {
      controller.abort();
      slotFreed?.();
      await polling.catch(() => {});
      // The batches already in the handler finish, and their records are deleted.
      await Promise.allSettled([...inFlight]);
    },
  };
}

/** SQS batch calls take at most ten entries. */
function batchesOfTen(messages: Message[]): Message[][] {
  return Array.from({ length: Math.ceil(messages.length / RECEIVE_MAX) }, (_, i) =>
    messages.slice(i * RECEIVE_MAX, (i + 1) * RECEIVE_MAX),
  );
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    }
    signal.addEventListener("abort", done, { once: true });
  });
}

class InvocationTimeout extends Error {
  constructor(timeoutMs: number) {
    super(`Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds`);
    this.name = "InvocationTimeout";
  }
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
      // The sender's X-Ray trace header, when it sent one (the buy does).
      ...(attributes.AWSTraceHeader ? { AWSTraceHeader: attributes.AWSTraceHeader } : {}),
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
