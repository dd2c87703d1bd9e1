import { CreateQueueCommand, ReceiveMessageCommand } from "@aws-sdk/client-sqs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createSqsClient, SqsOrderQueue } from "../../lambdas/adapters/sqs/client.js";
import { orderOf } from "../../lambdas/domain/order-message.js";
import { readSqsConfig } from "../../lambdas/platform/config.js";
import { startTcpProxy, type TcpProxy } from "../../local/services/index.js";
import { orderMessage } from "../support/sqs-records.js";

// An endpoint that accepts connections and never answers (a hung SQS).
let hung: TcpProxy;
beforeAll(async () => {
  const target = Number(new URL(process.env.SQS_ENDPOINT ?? "").port);
  hung = await startTcpProxy({ targetPort: target, mode: "blackhole" });
});
afterAll(() => hung.stop());

describe("createSqsClient", () => {
  it("fails a send to a hung endpoint within its deadlines instead of waiting forever", async () => {
    const config = {
      ...readSqsConfig({}),
      endpoint: hung.url,
      connectTimeoutMs: 200,
      requestTimeoutMs: 300,
      maxAttempts: 2,
    };
    const sqs = createSqsClient(config);
    const queue = new SqsOrderQueue(sqs, process.env.ORDERS_QUEUE_URL ?? "");
    const started = Date.now();
    try {
      const outcome = await Promise.race([
        queue.send(orderOf(orderMessage("deadline"))).then(
          () => "sent",
          (error: Error) => error.name,
        ),
        new Promise((resolve) => setTimeout(() => resolve("still waiting"), 5_000)),
      ]);
      expect(outcome).toBe("TimeoutError");
      // Two attempts of 300 ms plus the SDK's retry back-off.
      expect(Date.now() - started).toBeLessThan(2_500);
    } finally {
      sqs.destroy();
    }
  });
});

describe("SqsOrderQueue", () => {
  it("delivers each of many concurrent sends exactly once, in shared batches", async () => {
    const sqs = createSqsClient(readSqsConfig());
    try {
      const { QueueUrl } = await sqs.send(
        new CreateQueueCommand({ QueueName: `batch-${Date.now()}` }),
      );
      const queue = new SqsOrderQueue(sqs, QueueUrl ?? "");
      const orders = Array.from({ length: 25 }, (_, i) => orderOf(orderMessage(`batch-${i}`)));
      await Promise.all(orders.map((order) => queue.send(order)));
      const received = new Set<string>();
      for (let i = 0; i < 20 && received.size < orders.length; i++) {
        const { Messages = [] } = await sqs.send(
          new ReceiveMessageCommand({
            QueueUrl,
            MaxNumberOfMessages: 10,
            WaitTimeSeconds: 0,
            VisibilityTimeout: 60,
          }),
        );
        for (const message of Messages)
          received.add((JSON.parse(message.Body ?? "{}") as { orderId: string }).orderId);
      }
      expect([...received].sort()).toEqual(orders.map((order) => order.orderId).sort());
    } finally {
      sqs.destroy();
    }
  });

  it("fails every send of a batch the queue refuses, each with an error", async () => {
    const sqs = createSqsClient(readSqsConfig());
    try {
      const queue = new SqsOrderQueue(sqs, `${process.env.ORDERS_QUEUE_URL}-missing`);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => queue.send(orderOf(orderMessage(`gone-${i}`)))),
      );
      expect(outcomes.every((outcome) => outcome.status === "rejected")).toBe(true);
    } finally {
      sqs.destroy();
    }
  });
});
