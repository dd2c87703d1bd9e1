import { randomUUID } from "node:crypto";
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
} from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, describe, expect, it } from "vitest";
import { localSqsClient } from "../../local/services/sqs-server.js";
import {
  type BatchReport,
  type SqsLambda,
  startSqsEventSource,
} from "../../local/sqs-event-source.js";
import { LOCAL_STACK_SETTINGS } from "../../local/stack-settings.js";

/**
 * The local SQS event source against the real SQS server (fauxqs), one row per
 * documented case of Lambda's partial batch responses (ReportBatchItemFailures;
 * AWS Lambda developer guide, "Handling errors for an SQS event source in Lambda"):
 * which of a batch's three messages (a, b, c) are deleted and which come back
 * after the visibility timeout.
 */

const sqs = localSqsClient(process.env.SQS_ENDPOINT ?? "");
const queues: string[] = [];
afterAll(async () => {
  for (const QueueUrl of queues) await sqs.send(new DeleteQueueCommand({ QueueUrl }));
  sqs.destroy();
});

type Ids = Record<"a" | "b" | "c", string>;
type Respond = (ids: Ids, event: SQSEvent) => Promise<unknown> | unknown;

const ALL = ["a", "b", "c"];
const cases: Array<{ name: string; respond: Respond; retried: string[]; outcome: string }> = [
  // Complete success: every message deleted.
  { name: "no response (undefined)", respond: () => undefined, retried: [], outcome: "success" },
  { name: "null", respond: () => null, retried: [], outcome: "success" },
  { name: "an empty object", respond: () => ({}), retried: [], outcome: "success" },
  {
    name: "an empty batchItemFailures list",
    respond: () => ({ batchItemFailures: [] }),
    retried: [],
    outcome: "success",
  },
  {
    name: "a null batchItemFailures",
    respond: () => ({ batchItemFailures: null }),
    retried: [],
    outcome: "success",
  },
  // Partial: only the named messages come back.
  {
    name: "one valid itemIdentifier",
    respond: (ids) => ({ batchItemFailures: [{ itemIdentifier: ids.b }] }),
    retried: ["b"],
    outcome: "partial",
  },
  {
    name: "two valid itemIdentifiers, one twice",
    respond: (ids) => ({
      batchItemFailures: [
        { itemIdentifier: ids.a },
        { itemIdentifier: ids.c },
        { itemIdentifier: ids.a },
      ],
    }),
    retried: ["a", "c"],
    outcome: "partial",
  },
  // Complete failure: every message comes back.
  {
    name: "an itemIdentifier that is no message of the batch",
    respond: () => ({ batchItemFailures: [{ itemIdentifier: randomUUID() }] }),
    retried: ALL,
    outcome: "invalid-response",
  },
  {
    name: "a valid and an unknown itemIdentifier",
    respond: (ids) => ({
      batchItemFailures: [{ itemIdentifier: ids.a }, { itemIdentifier: "nope" }],
    }),
    retried: ALL,
    outcome: "invalid-response",
  },
  {
    name: "an empty-string itemIdentifier",
    respond: () => ({ batchItemFailures: [{ itemIdentifier: "" }] }),
    retried: ALL,
    outcome: "invalid-response",
  },
  {
    name: "a null itemIdentifier",
    respond: () => ({ batchItemFailures: [{ itemIdentifier: null }] }),
    retried: ALL,
    outcome: "invalid-response",
  },
  {
    name: "an entry without itemIdentifier (another key name)",
    respond: (ids) => ({ batchItemFailures: [{ messageId: ids.b }] }),
    retried: ALL,
    outcome: "invalid-response",
  },
  {
    name: "a null entry",
    respond: () => ({ batchItemFailures: [null] }),
    retried: ALL,
    outcome: "invalid-response",
  },
  {
    name: "a numeric itemIdentifier",
    respond: () => ({ batchItemFailures: [{ itemIdentifier: 42 }] }),
    retried: ALL,
    outcome: "invalid-response",
  },
  {
    name: "batchItemFailures not a list",
    respond: (ids) => ({ batchItemFailures: ids.b }),
    retried: ALL,
    outcome: "invalid-response",
  },
  {
    name: "a response that is not a JSON object (a string)",
    respond: () => "ok",
    retried: ALL,
    outcome: "invalid-response",
  },
  {
    name: "a response that is not a JSON object (a list of ids)",
    respond: (ids) => [ids.b],
    retried: ALL,
    outcome: "invalid-response",
  },
  {
    name: "a response that cannot be serialized",
    respond: () => ({ batchItemFailures: [], size: 1n }),
    retried: ALL,
    outcome: "invalid-response",
  },
  {
    name: "the handler throws",
    respond: () => {
      throw new Error("boom");
    },
    retried: ALL,
    outcome: "handler-error",
  },
  {
    name: "the handler runs past the function's timeout (then answers success)",
    respond: () => new Promise((resolve) => setTimeout(() => resolve({}), 1_500)),
    retried: ALL,
    outcome: "timeout",
  },
];

async function newQueue(): Promise<string> {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({
      QueueName: `batch-rules-${randomUUID().slice(0, 8)}`,
      Attributes: { VisibilityTimeout: "1" },
    }),
  );
  queues.push(QueueUrl ?? "");
  return QueueUrl ?? "";
}

describe("local SQS event source: partial batch responses as Lambda documents them", () => {
  it.concurrent.each(cases)("$name → retried: $retried", async ({ respond, retried, outcome }) => {
    const queueUrl = await newQueue();
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: ALL.map((body) => ({ Id: body, MessageBody: body })),
      }),
    );
    let firstBatch: (report: BatchReport) => void = () => {};
    const reported = new Promise<BatchReport>((resolve) => {
      firstBatch = resolve;
    });
    const handler: SqsLambda = async (event) => {
      const ids = Object.fromEntries(event.Records.map((r) => [r.body, r.messageId])) as Ids;
      return (await respond(ids, event)) as undefined;
    };
    const source = startSqsEventSource({
      sqs,
      queueUrl,
      handler,
      batchSize: 3,
      batchingWindowMs: 1_000,
      concurrency: 1,
      timeoutMs: 500,
      waitTimeSeconds: 1,
      onBatch: (report) => firstBatch(report),
    });
    const report = await reported;
    await source.stop();
    expect(report).toMatchObject({ size: 3, failed: retried.length, outcome });

    // What comes back once the visibility timeout (1 s) ends: the retried ones, received twice.
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: retried.length > 0 ? 2 : 0,
        MessageSystemAttributeNames: ["ApproximateReceiveCount"],
      }),
    );
    expect(Messages.map((m) => m.Body).sort()).toEqual(retried);
    for (const m of Messages) expect(m.Attributes?.ApproximateReceiveCount).toBe("2");
    if (retried.length === 0) {
      const { Attributes } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: queueUrl,
          AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        }),
      );
      expect(Attributes).toMatchObject({
        ApproximateNumberOfMessages: "0",
        ApproximateNumberOfMessagesNotVisible: "0",
      });
    }
  });

  it("defaults to the CDK stack's event source and consumer settings (cdk.json)", () => {
    expect(LOCAL_STACK_SETTINGS).toMatchObject({
      consumerBatchSize: 100,
      consumerBatchingWindowSeconds: 1,
      consumerMaxConcurrency: 5,
      consumerTimeoutSeconds: 30,
      maxReceiveCount: 5,
    });
  });
});

describe("local SQS event source: stopping", () => {
  it("leaves no message invisible: what a receive brings after stop() is visible again at once", async () => {
    const { QueueUrl: queueUrl = "" } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `stop-${randomUUID().slice(0, 8)}`,
        // Long enough that a stranded message would still be invisible when we look.
        Attributes: { VisibilityTimeout: "60" },
      }),
    );
    queues.push(queueUrl);
    const handled: string[] = [];
    const source = startSqsEventSource({
      sqs,
      queueUrl,
      handler: async (event) => {
        handled.push(...event.Records.map((r) => r.body));
        return undefined;
      },
      batchSize: 10,
      batchingWindowMs: 0,
      concurrency: 2,
      waitTimeSeconds: 1,
    });
    // The poller is in a long poll of the empty queue: stop, then send while that poll waits.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const stopped = source.stop();
    await sqs.send(
      new SendMessageBatchCommand({
        QueueUrl: queueUrl,
        Entries: ["x", "y", "z"].map((body) => ({ Id: body, MessageBody: body })),
      }),
    );
    await stopped;
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: queueUrl,
        AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
      }),
    );
    // Every message is either handled (and deleted) or back in the queue: none stranded in flight.
    expect(Attributes?.ApproximateNumberOfMessagesNotVisible).toBe("0");
    expect(handled.length + Number(Attributes?.ApproximateNumberOfMessages)).toBe(3);
  });
});
