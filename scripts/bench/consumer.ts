import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { SendMessageBatchCommand } from "@aws-sdk/client-sqs";
import { Redis } from "ioredis";
import pg from "pg";
import { migrate } from "../../lambdas/db/migrate.js";
import { insertOrders } from "../../lambdas/domain/orders-store.js";
import { RedisReservations } from "../../lambdas/domain/reservations.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { defineScripts } from "../../lambdas/platform/lua-scripts.js";
import { PROJECT_ROOT, startLocalServices } from "../../local/services/index.js";
import { localSqsClient } from "../../local/services/sqs-server.js";
import { type SqsLambda, startSqsEventSource } from "../../local/sqs-event-source.js";

/**
 * How many orders per second one consumer moves from the queue into
 * Postgres, per batch size, against a reference measured in the same run:
 * the same multi-row INSERT issued directly, with no queue and no Redis.
 *
 *   npm run bench:consumer [-- --orders 20000 --batch 10,100,500 --concurrency 1]
 */
const { values } = parseArgs({
  options: {
    orders: { type: "string", default: "20000" },
    batch: { type: "string", default: "10,100,500" },
    concurrency: { type: "string", default: "1" },
  },
});
const ordersPerRun = Number(values.orders);
const batchSizes = values.batch.split(",").map(Number);
const concurrency = Number(values.concurrency);

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
process.env.POWERTOOLS_LOG_LEVEL = "ERROR";
// Same settings as the local stack (npm start): durable Redis and Postgres.
const services = await startLocalServices({
  durable: true,
  queues: { visibilityTimeoutSeconds: 30 },
});
const log = (line: string) => process.stdout.write(`${line}\n`);

try {
  Object.assign(process.env, services.env());
  const pool = new pg.Pool({ connectionString: services.postgres?.url, max: 2 });
  await migrate(pool);
  const redis = defineScripts(new Redis(services.redis?.url ?? "", { enableAutoPipelining: true }));
  const reservations = new RedisReservations(redis);
  const sqs = localSqsClient(services.sqs?.endpoint ?? "");
  const queueUrl = services.sqs?.ordersQueueUrl ?? "";
  const consume = (await import("../../lambdas/handlers/consume-orders.js"))
    .handler as unknown as SqsLambda;

  async function prepare(count: number) {
    const saleId = `bench-${randomUUID().slice(0, 8)}`;
    await reservations.upsertSale(
      { id: saleId, name: "bench", stock: count, perUserLimit: 100, startsAtMs: 0, endsAtMs: 0 },
      Date.now(),
    );
    const nowMs = Date.now();
    const messages = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const orderId = newOrderId(saleId, randomUUID());
        const userId = `u${i % 10_000}`;
        await reservations.reserve({
          saleId,
          userId,
          quantity: 1,
          nowMs,
          orderId,
          idempotencyKey: undefined,
        });
        return { orderId, saleId, userId, quantity: 1, reservedAt: new Date(nowMs).toISOString() };
      }),
    );
    return { saleId, messages };
  }

  async function countRows(saleId: string): Promise<number> {
    return (await pool.query("SELECT count(*)::int AS n FROM orders WHERE sale_id = $1", [saleId]))
      .rows[0].n;
  }

  // Reference: the consumer's INSERT alone, batch by batch, straight into Postgres.
  const reference: Record<number, number> = {};
  for (const size of batchSizes) {
    const { messages } = await prepare(ordersPerRun);
    const started = performance.now();
    for (let i = 0; i < messages.length; i += size)
      await insertOrders(pool, messages.slice(i, i + size));
    reference[size] = Math.round(ordersPerRun / ((performance.now() - started) / 1000));
    log(`reference  batch ${String(size).padStart(4)}: ${reference[size]} inserts/s`);
  }

  // The handler alone, fed pre-built SQS events: in AWS, Lambda's poller does
  // the receive and delete calls, so this is the function's own share.
  const { lambdaContext } = await import("../../local/lambda-context.js");
  const handlerOnly: Record<number, number> = {};
  for (const size of batchSizes) {
    const { messages } = await prepare(ordersPerRun);
    const started = performance.now();
    for (let i = 0; i < messages.length; i += size) {
      const Records = messages.slice(i, i + size).map((m) => ({
        messageId: randomUUID(),
        receiptHandle: "",
        body: JSON.stringify(m),
        attributes: {},
        messageAttributes: {},
        md5OfBody: "",
        eventSource: "aws:sqs",
        eventSourceARN: "",
        awsRegion: "us-east-1",
      }));
      await consume({ Records } as never, lambdaContext("consume-orders"));
    }
    handlerOnly[size] = Math.round(ordersPerRun / ((performance.now() - started) / 1000));
    log(
      `handler    batch ${String(size).padStart(4)}: ${handlerOnly[size]} orders/s (no queue: Lambda's poller does receive/delete in AWS)`,
    );
  }

  const results = [];
  for (const size of batchSizes) {
    const { saleId, messages } = await prepare(ordersPerRun);
    for (let i = 0; i < messages.length; i += 100) {
      const chunk = messages.slice(i, i + 100);
      await Promise.all(
        Array.from({ length: Math.ceil(chunk.length / 10) }, (_, j) =>
          sqs.send(
            new SendMessageBatchCommand({
              QueueUrl: queueUrl,
              Entries: chunk
                .slice(j * 10, j * 10 + 10)
                .map((m, k) => ({ Id: String(k), MessageBody: JSON.stringify(m) })),
            }),
          ),
        ),
      );
    }
    const started = performance.now();
    const source = startSqsEventSource({
      sqs,
      queueUrl,
      handler: consume,
      batchSize: size,
      batchingWindowMs: 100,
      concurrency,
      waitTimeSeconds: 0,
    });
    const deadline = Date.now() + 120_000;
    let rows = 0;
    while (rows < ordersPerRun && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 100));
      rows = await countRows(saleId);
      if (process.stdout.isTTY)
        process.stdout.write(`\r  consumer batch ${size}: ${rows}/${ordersPerRun} rows`);
    }
    const seconds = (performance.now() - started) / 1000;
    await source.stop();
    const perSecond = Math.round(rows / seconds);
    const ratio = perSecond / (reference[size] ?? 1);
    log(
      `${process.stdout.isTTY ? "\r" : ""}consumer   batch ${String(size).padStart(4)}: ${perSecond} orders/s (${rows} rows in ${seconds.toFixed(2)} s), ${(ratio * 100).toFixed(0)}% of the reference`,
    );
    results.push({
      batchSize: size,
      concurrency,
      ordersPerSecond: perSecond,
      referenceInsertsPerSecond: reference[size],
      handlerOnlyPerSecond: handlerOnly[size],
      ratio: Number(ratio.toFixed(3)),
      rows,
    });
  }

  const dir = join(PROJECT_ROOT, "bench");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "consumer.json"),
    `${JSON.stringify({ measuredAt: new Date().toISOString(), ordersPerRun, results }, null, 2)}\n`,
  );
  log(`results written to bench/consumer.json`);
  redis.disconnect();
  sqs.destroy();
  await pool.end();
} finally {
  await services.stop({ removeData: true });
}
process.exit(0);
