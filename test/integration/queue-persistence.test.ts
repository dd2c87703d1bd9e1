import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ChangeMessageVisibilityCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  type SQSClient,
} from "@aws-sdk/client-sqs";
import pg from "pg";
import { afterEach, describe, expect, it } from "vitest";
import { queueDepth } from "../../lambdas/adapters/sqs/queue-depths.js";
import { jsonClient } from "../../local/http-client.js";
import { DEFAULT_QUEUE_SETTINGS, localSqsClient } from "../../local/services/sqs-server.js";
import { buyOnce, createSale, makeBuyers, waitFor } from "../faults/support/harness.js";
import { type NpmStart, startNpmStart } from "../support/npm-start.js";
import { orderMessage } from "../support/sqs-records.js";

/**
 * Queues survive a restart of `npm start`: stopped (Ctrl-C's SIGTERM) with
 * accepted orders waiting in the orders queue (one of them in flight, as a
 * consumer had received it) and messages in the DLQ, then started again on the
 * same --data-dir, the orders become rows and the DLQ still holds its messages.
 */

const cleanups: Array<() => Promise<unknown>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  cleanups.length = 0;
});

/** What `npm start` prints about its services. */
function printed(start: NpmStart) {
  const out = start.output();
  const field = (pattern: RegExp) => {
    const value = pattern.exec(out)?.[1];
    if (!value) throw new Error(`not in the output of npm start: ${pattern}\n${out}`);
    return value;
  };
  return {
    sqsEndpoint: field(/SQS server \(fauxqs\)\s+(http:\/\/\S+)/),
    ordersQueueUrl: field(/orders queue\s+(http:\/\/\S+)/),
    dlqUrl: field(/dead-letter queue\s+(http:\/\/\S+)/),
    databaseUrl: field(/Postgres\s+(postgres:\/\/\S+)/),
  };
}

async function receive(sqs: SQSClient, queueUrl: string) {
  const { Messages = [] } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: 10,
      WaitTimeSeconds: 1,
      VisibilityTimeout: 30,
    }),
  );
  return Messages;
}

describe("queues survive a restart of npm start", () => {
  it("orders queued (one in flight) and dead-lettered before a stop are there after the restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flash-sale-queues-"));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    // Keep the data (--no-clean), and consume nothing in the first run: the orders stay queued.
    const first = await startNpmStart([
      "--data-dir",
      dir,
      "--no-clean",
      "--consumer-concurrency",
      "0",
    ]);
    cleanups.push(() => first.stop());
    const before = printed(first);
    const sqs = localSqsClient(before.sqsEndpoint);
    cleanups.push(async () => sqs.destroy());

    // The queue the CDK stack deploys: visibility 6 × consumer timeout + window, its redrive policy.
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({
        QueueUrl: before.ordersQueueUrl,
        AttributeNames: ["VisibilityTimeout", "RedrivePolicy"],
      }),
    );
    expect(DEFAULT_QUEUE_SETTINGS.visibilityTimeoutSeconds).toBe(181);
    expect(Attributes?.VisibilityTimeout).toBe("181");
    expect(JSON.parse(Attributes?.RedrivePolicy ?? "{}")).toMatchObject({ maxReceiveCount: 5 });

    const saleId = await createSale(first.url, { stock: 20, prefix: "persist" });
    const client = jsonClient(first.url, 4);
    const buys = await Promise.all(
      (await makeBuyers(12, "persist")).map((buyer) => buyOnce(client, saleId, buyer)),
    );
    await client.close();
    const accepted = buys.filter((b) => b.status === 202).map((b) => b.orderId ?? "");
    expect(accepted).toHaveLength(12);
    // One in flight at the stop: it comes back when its visibility timeout ends, as in SQS.
    const [inFlight] = await receive(sqs, before.ordersQueueUrl);
    expect(inFlight).toBeDefined();
    await sqs.send(
      new ChangeMessageVisibilityCommand({
        QueueUrl: before.ordersQueueUrl,
        ReceiptHandle: inFlight?.ReceiptHandle,
        VisibilityTimeout: 3,
      }),
    );
    // Two dead-lettered orders.
    const dead = [orderMessage(saleId, "dead-1"), orderMessage(saleId, "dead-2")];
    for (const message of dead) {
      await sqs.send(
        new SendMessageCommand({ QueueUrl: before.dlqUrl, MessageBody: JSON.stringify(message) }),
      );
    }
    expect(await queueDepth(sqs, before.ordersQueueUrl)).toBe(12);
    await first.stop();

    // Started again on the same folder, with the stack's consumer this time.
    const second = await startNpmStart(["--data-dir", dir, "--clean"]);
    cleanups.push(() => second.stop());
    const after = printed(second);
    const sqs2 = localSqsClient(after.sqsEndpoint);
    cleanups.push(async () => sqs2.destroy());
    const db = new pg.Pool({ connectionString: after.databaseUrl, max: 1 });
    db.on("error", () => {});
    cleanups.push(() => db.end());
    const rows = async () =>
      (
        await db.query<{ order_id: string }>("SELECT order_id FROM orders WHERE sale_id = $1", [
          saleId,
        ])
      ).rows.map((r) => r.order_id);
    await waitFor(
      "every accepted order is a row after the restart",
      async () => (await rows()).length >= accepted.length,
      30_000,
    );
    expect((await rows()).sort()).toEqual([...accepted].sort());
    await waitFor(
      "the orders queue is empty",
      async () => (await queueDepth(sqs2, after.ordersQueueUrl)) === 0,
      10_000,
    );

    const kept = await receive(sqs2, after.dlqUrl);
    const bodies = kept.map((m) => JSON.parse(m.Body ?? "null") as { userId: string });
    expect(bodies.sort((a, b) => a.userId.localeCompare(b.userId))).toEqual(dead);
  });
});
