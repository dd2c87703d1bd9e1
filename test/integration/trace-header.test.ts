import { randomUUID } from "node:crypto";
import { CreateQueueCommand, DeleteQueueCommand } from "@aws-sdk/client-sqs";
import type { SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { apiGatewayEvent } from "../../local/apigw-event.js";
import type { HttpLambda } from "../../local/http-host.js";
import { invocationTraceHeader, withinInvocation } from "../../local/invoke-store.js";
import { lambdaContext } from "../../local/lambda-context.js";
import { localSqsClient } from "../../local/services/sqs-server.js";
import { startSqsEventSource } from "../../local/sqs-event-source.js";
import { buyEvent, createSaleVia } from "../support/fixtures.js";

/**
 * The trace header's way from a buy to its persistence in the local stack, as in AWS: each
 * invocation the host makes has its own X-Ray trace header in the runtime's invoke store,
 * the buy's message carries it as AWSTraceHeader (also when one SendMessageBatch carries the
 * buys of several concurrent invocations), the SQS server keeps it, and the event source
 * hands it to the consumer in the record's attributes. No tracer is loaded here (not Lambda).
 */
const sqs = localSqsClient(process.env.SQS_ENDPOINT ?? "");
let queueUrl: string;
let buy: HttpLambda;
let upsertSale: HttpLambda;
const logs: Array<Record<string, unknown>> = [];
const write = process.stdout.write.bind(process.stdout);

beforeAll(async () => {
  const { QueueUrl } = await sqs.send(
    new CreateQueueCommand({ QueueName: `trace-${randomUUID().slice(0, 8)}` }),
  );
  queueUrl = QueueUrl ?? "";
  vi.stubEnv("ORDERS_QUEUE_URL", queueUrl);
  vi.stubEnv("POWERTOOLS_LOG_LEVEL", "INFO");
  vi.resetModules();
  buy = (await import("../../lambdas/handlers/buy.js")).handler as unknown as HttpLambda;
  upsertSale = (await import("../../lambdas/handlers/upsert-sale.js"))
    .handler as unknown as HttpLambda;
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    const text = String(chunk);
    if (!text.includes('"level"')) return write(chunk);
    for (const line of text.trim().split("\n")) logs.push(JSON.parse(line));
    return true;
  });
});
afterAll(async () => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
});

const rootOf = (header: string) => header.split(";")[0]?.slice("Root=".length);

describe("trace header, buy to consumer (local stack)", () => {
  it("concurrent buys batched into one send each carry their own invocation's trace to the consumer's record", async () => {
    const saleId = await createSaleVia(
      upsertSale,
      { name: "Trace join", stock: 20, perUserLimit: 1 },
      "trace-join",
    );
    // Ten buys started in one turn: the SQS adapter sends them as one SendMessageBatch.
    const headers = Array.from({ length: 10 }, () => invocationTraceHeader());
    const replies = await Promise.all(
      headers.map((header, i) => {
        const context = lambdaContext("buy");
        const event = apiGatewayEvent({
          ...buyEvent(saleId, `trace-buyer-${i}`, JSON.stringify({ quantity: 1 })),
        });
        return withinInvocation(context, header, () => buy(event, context)) as Promise<{
          statusCode: number;
          body: string;
        }>;
      }),
    );
    expect(replies.map((reply) => reply.statusCode)).toEqual(headers.map(() => 202));
    const orderIds = replies.map(
      (reply) => (JSON.parse(reply.body) as { orderId: string }).orderId,
    );

    // Each buy's own log line names its own trace (Powertools reads the invoke store).
    for (const [i, orderId] of orderIds.entries()) {
      const line = logs.find((l) => l.message === "buy accepted" && l.orderId === orderId);
      expect(line?.xray_trace_id).toBe(rootOf(headers[i] ?? ""));
    }

    const events: SQSEvent[] = [];
    const source = startSqsEventSource({
      sqs,
      queueUrl,
      handler: async (event) => {
        events.push(event);
        return { batchItemFailures: [] };
      },
      batchSize: 10,
      waitTimeSeconds: 1,
    });
    try {
      const deadline = Date.now() + 10_000;
      while (events.flatMap((e) => e.Records).length < 10 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await source.stop();
    }
    const traceOfOrder = new Map(
      events
        .flatMap((event) => event.Records)
        .map((record) => [
          (JSON.parse(record.body) as { orderId: string }).orderId,
          record.attributes.AWSTraceHeader,
        ]),
    );
    expect(orderIds.map((orderId) => traceOfOrder.get(orderId))).toEqual(headers);
  });

  it("a buy outside any invocation (no trace header) still sells", async () => {
    const saleId = await createSaleVia(
      upsertSale,
      { name: "No trace", stock: 1, perUserLimit: 1 },
      "no-trace",
    );
    const context = lambdaContext("buy");
    const reply = (await buy(
      apiGatewayEvent(buyEvent(saleId, "untraced", JSON.stringify({ quantity: 1 }))),
      context,
    )) as { statusCode: number };
    expect(reply.statusCode).toBe(202);
  });
});
