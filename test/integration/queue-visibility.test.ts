import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ChangeMessageVisibilityBatchCommand,
  ChangeMessageVisibilityCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from "@aws-sdk/client-sqs";
import { afterAll, describe, expect, it } from "vitest";
import { queueDepth } from "../../lambdas/adapters/sqs/queue-depths.js";
import { createSqsService, localSqsClient } from "../../local/services/sqs-server.js";

/**
 * ChangeMessageVisibility to 0 hands a message back, as SQS documents: it is
 * visible again at once, keeps its receive count, and survives a restart of a
 * persistent queue server. fauxqs 2.4 as shipped threw inside this call when it
 * kept its queues on disk (as `npm start` runs it) and dropped the message from
 * memory: the local event source lost the orders it handed back when stopping.
 */

const dir = mkdtempSync(join(tmpdir(), "queue-visibility-"));
const service = await createSqsService({ dir, persistent: true });
await service.start();
const sqs = localSqsClient(service.endpoint);
afterAll(async () => {
  sqs.destroy();
  await service.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function receiveAll(wait = 0) {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: service.ordersQueueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: wait,
      MessageSystemAttributeNames: ["ApproximateReceiveCount"],
    }),
  );
  return Messages;
}

describe("a message handed back with ChangeMessageVisibility 0 (persistent queues)", () => {
  it("is visible again at once, with its receive count, and after a restart", async () => {
    for (const body of ["one", "two", "three"]) {
      await sqs.send(
        new SendMessageCommand({ QueueUrl: service.ordersQueueUrl, MessageBody: body }),
      );
    }
    const first = await receiveAll();
    expect(first.map((m) => m.Body).sort()).toEqual(["one", "three", "two"]);
    const [single, ...rest] = first;
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: service.ordersQueueUrl,
        ReceiptHandle: single?.ReceiptHandle,
        VisibilityTimeout: 0,
      }),
    );
    const batch = await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: service.ordersQueueUrl,
        Entries: rest.map((m, i) => ({
          Id: String(i),
          ReceiptHandle: m.ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );
    expect(batch.Failed ?? []).toEqual([]);

    const again = await receiveAll();
    expect(again.map((m) => m.Body).sort()).toEqual(["one", "three", "two"]);
    for (const m of again) expect(m.Attributes?.ApproximateReceiveCount).toBe("2");
    await sqs.send(
      new ChangeMessageVisibilityBatchCommand({
        QueueUrl: service.ordersQueueUrl,
        Entries: again.map((m, i) => ({
          Id: String(i),
          ReceiptHandle: m.ReceiptHandle,
          VisibilityTimeout: 0,
        })),
      }),
    );

    await service.stop("SIGKILL");
    await service.start();
    expect(await queueDepth(sqs, service.ordersQueueUrl)).toBe(3);
    const afterRestart = await receiveAll(1);
    expect(afterRestart.map((m) => m.Body).sort()).toEqual(["one", "three", "two"]);
    for (const m of afterRestart) expect(m.Attributes?.ApproximateReceiveCount).toBe("3");
  });
});
