import type { SQSBatchResponse } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { HttpLambda } from "../../local/http-host.js";
import { lambdaContext } from "../../local/lambda-context.js";
import type { SqsLambda } from "../../local/sqs-event-source.js";
import { invokeScheduled } from "../../local/stack.js";
import { buyEvent, createSaleVia, invoke } from "../support/fixtures.js";
import { sqsEvent, sqsRecord } from "../support/sqs-records.js";

/**
 * The functions' CloudWatch metrics (Powertools EMF, lambdas/adapters/metrics/emf-metrics.ts), as
 * CloudWatch Logs would read them from stdout, for real buys against real Redis and SQS:
 * one line per buy, `Buys` = 1 with the outcome code as a dimension, never the sale.
 */
let buy: HttpLambda;
let upsertSale: HttpLambda;
let consume: SqsLambda;
let lines: string[] = [];
const write = process.stdout.write.bind(process.stdout);

beforeAll(async () => {
  vi.stubEnv("POWERTOOLS_METRICS_DISABLED", "false");
  vi.stubEnv("QUEUE_MAX_RECEIVE_COUNT", "3");
  vi.resetModules();
  consume = (await import("../../lambdas/handlers/consume-orders.js"))
    .handler as unknown as SqsLambda;
  buy = (await import("../../lambdas/handlers/buy.js")).handler as unknown as HttpLambda;
  upsertSale = (await import("../../lambdas/handlers/upsert-sale.js"))
    .handler as unknown as HttpLambda;
  vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
    const text = String(chunk);
    if (text.includes('"_aws"')) lines.push(text);
    else write(chunk);
    return true;
  });
});
afterAll(() => {
  vi.restoreAllMocks();
  vi.unstubAllEnvs();
});

type Emf = {
  _aws: { CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][] }> };
  [key: string]: unknown;
};
const emitted = (): Emf[] => lines.flatMap((l) => l.trim().split("\n")).map((l) => JSON.parse(l));

describe("buy metrics (EMF)", () => {
  it("counts each buy once under its outcome: accepted and refused by reason", async () => {
    const saleId = await createSaleVia(
      upsertSale,
      { name: "EMF", stock: 1, perUserLimit: 1 },
      "emf",
    );
    lines = [];
    const statuses = [
      (await invoke(buy, buyEvent(saleId, "emf-a", JSON.stringify({ quantity: 1 })))).status,
      (await invoke(buy, buyEvent(saleId, "emf-b", JSON.stringify({ quantity: 1 })))).status,
      (await invoke(buy, buyEvent(saleId, "emf-a", JSON.stringify({ quantity: 1 })))).status,
      (await invoke(buy, buyEvent(saleId, "emf-c", "{"))).status,
    ];
    expect(statuses).toEqual([202, 409, 409, 400]);

    const records = emitted();
    // The malformed body is refused by the middleware before the use case: API Gateway's 4xx
    // metric counts it; the buy outcomes are the use case's.
    expect(records).toHaveLength(3);
    for (const record of records) {
      const [directive] = record._aws.CloudWatchMetrics;
      expect(directive?.Namespace).toBe("FlashSale");
      expect(directive?.Dimensions).toEqual([["service", "outcome"]]);
      expect(record.Buys).toBe(1);
      expect(JSON.stringify(record)).not.toContain(saleId);
    }
    expect(records.map((r) => r.outcome)).toEqual([
      "ACCEPTED",
      "SOLD_OUT",
      expect.stringMatching(/^(LIMIT_REACHED|SOLD_OUT)$/),
    ]);
  });

  it("counts the consumer's records: persisted, duplicates, failed, and dead-lettered on the last receive", async () => {
    const saleId = await createSaleVia(
      upsertSale,
      { name: "EMF consumer", stock: 5, perUserLimit: 1 },
      "emfc",
    );
    const bought = await invoke(buy, buyEvent(saleId, "emfc-a", JSON.stringify({ quantity: 1 })));
    expect(bought.status).toBe(202);
    // The message the buy sent, as the queue would deliver it (twice), next to two poison records.
    const { orderId } = bought.body as { orderId: string };
    const message = {
      orderId,
      saleId,
      userId: "emfc-a",
      quantity: 1,
      reservedAt: new Date().toISOString(),
    };
    const lastTry = sqsRecord("not json");
    lastTry.attributes.ApproximateReceiveCount = "3";
    lines = [];
    const response = (await consume(
      sqsEvent([sqsRecord(message), sqsRecord(message), sqsRecord("nor this"), lastTry]),
      lambdaContext("consume-orders"),
    )) as SQSBatchResponse;
    expect(response.batchItemFailures).toHaveLength(2);
    const [record] = emitted();
    expect(emitted()).toHaveLength(1);
    expect(record?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([["service"]]);
    expect(record).toMatchObject({
      OrdersPersisted: 1,
      OrdersDuplicate: 1,
      OrderRecordsFailed: 2,
      OrdersDeadLettered: 1,
    });
  });
});

describe("repair metrics (EMF)", () => {
  it("one line per run with its figures, zeros included, so the backlog alarm reads a 0 as a 0", async () => {
    const { handler: repair } = await import("../../lambdas/handlers/repair-orders.js");
    lines = [];
    // Another file's stack may hold the repair lock for a moment: a locked run reports nothing.
    let report: Awaited<ReturnType<typeof repair>> | undefined;
    for (let attempt = 0; attempt < 20 && report?.outcome !== "done"; attempt++) {
      report = (await invokeScheduled("repair-orders", repair)) as Awaited<
        ReturnType<typeof repair>
      >;
      if (report.outcome !== "done") await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(report?.outcome).toBe("done");
    const records = emitted();
    expect(records).toHaveLength(1);
    expect(records[0]?._aws.CloudWatchMetrics[0]?.Dimensions).toEqual([["service"]]);
    expect(records[0]).toMatchObject({
      RepairStaleFound: report?.staleFound,
      RepairRepaired: report?.repaired,
      RepairBacklog: report?.backlog,
    });
    expect(typeof records[0]?.RepairBacklog).toBe("number");
  });
});
