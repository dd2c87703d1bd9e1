import {
  type MessageSystemAttributeValue,
  SendMessageBatchCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import type { Order } from "../../domain/order.js";
import { encodeOrderMessage, entryMessageOf, messageOf } from "../../domain/order-message.js";
import type { DrawEntryRecord, EntryQueue, OrderQueue } from "../../domain/ports.js";
import type { SqsConfig } from "../../platform/config.js";
import { captureClient, currentTraceHeader } from "../../platform/tracing.js";
import { awsRequestHandler } from "../aws-request-handler.js";

/**
 * An SQS client with keep-alive sockets and hard deadlines (awsRequestHandler):
 * a send fails within maxAttempts × (connect + request timeout) and the
 * reservation is released. In AWS each call is an X-Ray subsegment (captureClient).
 */
export function createSqsClient(config: SqsConfig): SQSClient {
  const client = new SQSClient({
    region: config.region,
    endpoint: config.endpoint,
    // Off AWS the queue URL's host (e.g. sqs.us-east-1.localhost) may not resolve;
    // send to the configured endpoint and let the server route by QueueUrl.
    useQueueUrlAsEndpoint: config.endpoint === undefined,
    maxAttempts: config.maxAttempts,
    requestHandler: awsRequestHandler(config),
  });
  return captureClient(client);
}

/** SendMessageBatch takes at most 10 entries. */
export const MAX_BATCH_ENTRIES = 10;

interface PendingSend {
  body: string;
  /** The buy's trace header, so its persistence joins its trace (AWSTraceHeader). */
  traceHeader: string | undefined;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A batch entry SQS refused (e.g. the queue's limits), as a send error. */
export class SqsEntryRefusedError extends Error {
  constructor(
    readonly code: string | undefined,
    message: string | undefined,
  ) {
    super(`SQS refused the message: ${code ?? "unknown"} ${message ?? ""}`.trim());
    this.name = "SqsEntryRefusedError";
  }
}

/**
 * The orders queue. Each accepted buy awaits the send of its own message, as
 * before; sends that start in the same turn of the event loop share one
 * request (SendMessageBatch, up to 10 entries, each entry's own result
 * resolving or failing its own buy). A lone send is a plain SendMessage: in
 * Lambda, where a container serves one request at a time, nothing changes;
 * in the local host, where one process serves many buyers at once, a burst
 * of accepted buys costs a tenth of the SDK work. A failed entry or a failed
 * request fails exactly the buys it carried, which release their units.
 */
export class SqsOrderQueue implements OrderQueue, EntryQueue {
  private pending: PendingSend[] = [];
  private scheduled = false;

  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  send(order: Order): Promise<void> {
    return this.enqueue(encodeOrderMessage(messageOf(order)));
  }

  /** A draw's entry travels the same queue, batched with the orders, to the same consumer. */
  sendEntry(entry: DrawEntryRecord): Promise<void> {
    return this.enqueue(encodeOrderMessage(entryMessageOf(entry)));
  }

  private enqueue(body: string): Promise<void> {
    // Read now, in the buy's own invocation: the batch is sent a turn later.
    const traceHeader = currentTraceHeader();
    return new Promise<void>((resolve, reject) => {
      this.pending.push({ body, traceHeader, resolve, reject });
      if (this.pending.length >= MAX_BATCH_ENTRIES) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => {
          this.scheduled = false;
          this.flush();
        });
      }
    });
  }

  private flush(): void {
    while (this.pending.length > 0) {
      const batch = this.pending.splice(0, MAX_BATCH_ENTRIES);
      void this.sendBatch(batch);
    }
  }

  private async sendBatch(batch: PendingSend[]): Promise<void> {
    const [only] = batch;
    if (batch.length === 1 && only) {
      try {
        await this.sqs.send(
          new SendMessageCommand({
            QueueUrl: this.queueUrl,
            MessageBody: only.body,
            MessageSystemAttributes: traceAttribute(only.traceHeader),
          }),
        );
        only.resolve();
      } catch (error) {
        only.reject(error);
      }
      return;
    }
    try {
      const result = await this.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: this.queueUrl,
          Entries: batch.map((entry, i) => ({
            Id: String(i),
            MessageBody: entry.body,
            MessageSystemAttributes: traceAttribute(entry.traceHeader),
          })),
        }),
      );
      const sent = new Set((result.Successful ?? []).map((entry) => entry.Id));
      const failed = new Map((result.Failed ?? []).map((entry) => [entry.Id, entry]));
      batch.forEach((entry, i) => {
        const id = String(i);
        if (sent.has(id) && !failed.has(id)) entry.resolve();
        else {
          const refusal = failed.get(id);
          // An entry in neither list was not confirmed: a failure, so its buy releases the unit.
          entry.reject(new SqsEntryRefusedError(refusal?.Code, refusal?.Message));
        }
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
    }
  }
}

/**
 * The X-Ray trace header as the message's AWSTraceHeader system attribute:
 * the consumer's records carry it, and X-Ray links the persistence to the
 * buy. Per message, since one batch request carries buys of different
 * invocations (the HTTP header X-Ray's SDK adds would name only one; the
 * attribute takes precedence over it). Not counted in the message's size.
 */
function traceAttribute(
  traceHeader: string | undefined,
): Record<string, MessageSystemAttributeValue> | undefined {
  return traceHeader === undefined
    ? undefined
    : { AWSTraceHeader: { DataType: "String", StringValue: traceHeader } };
}
