import { randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { CreateQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import type { SQSBatchResponse, SQSRecord } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { HttpLambda } from "../../local/http-host.js";
import { lambdaContext } from "../../local/lambda-context.js";
import { localSqsClient } from "../../local/services/sqs-server.js";
import type { SqsLambda } from "../../local/sqs-event-source.js";
import { buyEvent, createSaleVia, invoke } from "../support/fixtures.js";

/**
 * X-Ray tracing as Lambda runs it (Powertools Tracer, lambdas/platform/tracing.ts), for real
 * buys against real Redis, SQS and Postgres: the functions load the tracer only where Lambda's
 * environment says so, and send their segments to the X-Ray daemon's UDP address, here a
 * socket of this test. A buy's trace holds its Redis script and its SQS send; the message
 * carries the trace header (AWSTraceHeader), and the consumer's persistence names it.
 */
interface SegmentDoc {
  name: string;
  id: string;
  trace_id: string;
  parent_id?: string;
  type?: string;
  namespace?: string;
  subsegments?: SegmentDoc[];
  aws?: { operation?: string };
  annotations?: Record<string, unknown>;
}

let daemon: Socket;
const received: SegmentDoc[] = [];
let buy: HttpLambda;
let upsertSale: HttpLambda;
let consume: SqsLambda;
let queueUrl: string;
const sqs = localSqsClient(process.env.SQS_ENDPOINT ?? "");
const logLines: string[] = [];
const write = process.stdout.write.bind(process.stdout);

const newTraceHeader = () =>
  `Root=1-${Math.floor(Date.now() / 1000).toString(16)}-${randomBytes(12).toString("hex")};Parent=${randomBytes(8).toString("hex")};Sampled=1`;
const rootOf = (header: string) => header.split(";")[0]?.slice("Root=".length);

/** Every segment document with its nested subsegments, flattened. */
const flatten = (docs: SegmentDoc[]): SegmentDoc[] =>
  docs.flatMap((doc) => [doc, ...flatten(doc.subsegments ?? [])]);
const ofTrace = (root: string | undefined) =>
  flatten(received).filter((doc) => doc.trace_id === root);

async function waitForSegments(root: string | undefined, names: string[]): Promise<SegmentDoc[]> {
  const deadline = Date.now() + 5_000;
  for (;;) {
    const docs = ofTrace(root);
    if (names.every((name) => docs.some((doc) => doc.name === name))) return docs;
    if (Date.now() > deadline) return docs;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

beforeAll(async () => {
  daemon = createSocket("udp4");
  daemon.on("message", (packet) => {
    // Each datagram: a JSON header line, then one segment document.
    const [, body] = packet.toString("utf8").split("\n");
    if (body) received.push(JSON.parse(body) as SegmentDoc);
  });
  await new Promise<void>((resolve) => daemon.bind(0, "127.0.0.1", resolve));
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: `tracing-${randomBytes(4).toString("hex")}` }),
  );
  queueUrl = QueueUrl ?? "";

  vi.stubEnv("AWS_EXECUTION_ENV", "AWS_Lambda_nodejs24.x");
  vi.stubEnv("LAMBDA_TASK_ROOT", process.cwd());
  vi.stubEnv("_HANDLER", "index.handler");
  vi.stubEnv("AWS_XRAY_DAEMON_ADDRESS", `127.0.0.1:${daemon.address().port}`);
  vi.stubEnv("AWS_XRAY_CONTEXT_MISSING", "IGNORE_ERROR");
  vi.stubEnv("ORDERS_QUEUE_URL", queueUrl);
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "INFO");
  vi.resetModules();
  buy = (await import("../../lambdas/handlers/buy.js")).handler as unknown as HttpLambda;
  upsertSale = (await import("../../lambdas/handlers/upsert-sale.js"))
    .handler as unknown as HttpLambda;
  consume = (await import("../../lambdas/handlers/consume-orders.js"))
    .handler as unknown as SqsLambda;
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    const text = String(chunk);
    // The functions' log lines are kept (the suite runs them silent); the rest passes.
    if (text.includes('"level"')) {
      if (text.includes('"orders persisted"')) logLines.push(text);
    } else write(chunk);
    return true;
  });
});
afterAll(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  daemon?.close();
});

describe("tracing in Lambda (X-Ray)", () => {
  it("a buy's trace holds its Redis script and SQS send, and its message carries the trace to the consumer's row", async () => {
    const saleId = await createSaleVia(
      upsertSale,
      { name: "Traced", stock: 5, perUserLimit: 1 },
      "trace",
    );
    const header = newTraceHeader();
    vi.stubEnv("_X_AMZN_TRACE_ID", header);
    const bought = await invoke(buy, buyEvent(saleId, "tracer-1", JSON.stringify({ quantity: 1 })));
    expect(bought.status).toBe(202);
    const { orderId } = bought.body as { orderId: string };

    const docs = await waitForSegments(rootOf(header), [
      "## index.handler",
      "Redis.reserve",
      "SQS",
    ]);
    const handlerSegment = docs.find((doc) => doc.name === "## index.handler");
    expect(handlerSegment?.annotations?.ColdStart).toBeDefined();
    const redis = docs.find((doc) => doc.name === "Redis.reserve");
    expect(redis?.namespace).toBe("remote");
    const send = docs.find((doc) => doc.name === "SQS");
    expect(send?.aws?.operation).toMatch(/^SendMessage(Batch)?$/);
    // Both hang from the handler's segment: one trace, one tree.
    expect(redis?.parent_id ?? handlerSegment?.id).toBe(handlerSegment?.id);

    // The message carries the buy's trace header (SQS's AWSTraceHeader system attribute).
    const { Messages = [] } = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: queueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ["All"],
        WaitTimeSeconds: 1,
      }),
    );
    const message = Messages.find((m) => (m.Body ?? "").includes(orderId));
    expect(message?.Attributes?.AWSTraceHeader).toBe(header);

    // The consumer, in a trace of its own (as Lambda starts one per batch), writes the row
    // and names the buy's trace beside the order; its Redis and Postgres calls are traced.
    const consumerHeader = newTraceHeader();
    vi.stubEnv("_X_AMZN_TRACE_ID", consumerHeader);
    const record: SQSRecord = {
      messageId: message?.MessageId ?? "",
      receiptHandle: message?.ReceiptHandle ?? "",
      body: message?.Body ?? "",
      attributes: {
        ApproximateReceiveCount: "1",
        SentTimestamp: String(Date.now()),
        SenderId: "test",
        ApproximateFirstReceiveTimestamp: String(Date.now()),
        AWSTraceHeader: message?.Attributes?.AWSTraceHeader,
      },
      messageAttributes: {},
      md5OfBody: "",
      eventSource: "aws:sqs",
      eventSourceARN: "arn:aws:sqs:us-east-1:000000000000:tracing",
      awsRegion: "us-east-1",
    };
    const response = (await consume(
      { Records: [record] },
      lambdaContext("consume-orders"),
    )) as SQSBatchResponse;
    expect(response.batchItemFailures).toEqual([]);
    const persisted = logLines
      .flatMap((chunk) => chunk.trim().split("\n"))
      .map((line) => JSON.parse(line) as { orders?: Array<{ orderId: string; traceId?: string }> })
      .flatMap((line) => line.orders ?? []);
    expect(persisted).toContainEqual({ orderId, traceId: rootOf(header) });

    const consumerDocs = await waitForSegments(rootOf(consumerHeader), [
      "Redis.confirm",
      "Postgres.insert",
    ]);
    expect(consumerDocs.map((doc) => doc.name)).toEqual(
      expect.arrayContaining(["## index.handler", "Redis.confirm", "Postgres.insert"]),
    );
  });

  it("a refused buy is traced too, and sends nothing", async () => {
    const header = newTraceHeader();
    vi.stubEnv("_X_AMZN_TRACE_ID", header);
    const refused = await invoke(
      buy,
      buyEvent("no-such-sale-trace", "tracer-2", JSON.stringify({ quantity: 1 })),
    );
    expect(refused.status).toBe(404);
    const docs = await waitForSegments(rootOf(header), ["## index.handler", "Redis.reserve"]);
    expect(docs.map((doc) => doc.name)).toContain("Redis.reserve");
    expect(docs.map((doc) => doc.name)).not.toContain("SQS");
  });
});
