import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import pg from "pg";
import { migrate } from "../../lambdas/adapters/postgres/migrate.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { defineScripts } from "../../lambdas/adapters/redis/scripts.js";
import { PROJECT_ROOT, startLocalServices } from "../../local/services/index.js";
import { localSqsClient } from "../../local/services/sqs-server.js";
import type { SqsLambda } from "../../local/sqs-event-source.js";
import { LOCAL_STACK_SETTINGS } from "../../local/stack-settings.js";
import {
  drainQueue,
  enqueue,
  handlerOnly,
  insertReference,
  reservedOrders,
} from "./consumer-drain.js";

/**
 * How many orders per second one consumer moves from the queue into
 * Postgres, per batch size, against a reference measured in the same run:
 * the same multi-row INSERT issued directly, with no queue and no Redis.
 *
 *   npm run bench:consumer [-- --orders 20000 --batch 10,100,500 --concurrency 5 --in-memory]
 *
 * By default the services run as `npm start` runs them (durable: Redis AOF,
 * Postgres fsync, fauxqs keeping its queues in SQLite); --in-memory runs them
 * as the tests do.
 */
const { values } = parseArgs({
  options: {
    orders: { type: "string", default: "20000" },
    batch: { type: "string", default: "10,100,500" },
    concurrency: { type: "string", default: String(LOCAL_STACK_SETTINGS.consumerMaxConcurrency) },
    "in-memory": { type: "boolean", default: false },
  },
});
const ordersPerRun = Number(values.orders);
const batchSizes = values.batch.split(",").map(Number);
const concurrency = Number(values.concurrency);

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
process.env.POWERTOOLS_LOG_LEVEL = "ERROR";
const durable = !values["in-memory"];
const services = await startLocalServices({
  durable,
  queues: { visibilityTimeoutSeconds: 30 },
});
const log = (line: string) => process.stdout.write(`${line}\n`);
log(
  `services ${durable ? "durable, as npm start runs them" : "in memory, as the tests run them"}; consumer concurrency ${concurrency}`,
);

try {
  Object.assign(process.env, services.env());
  const pool = new pg.Pool({ connectionString: services.postgres?.url, max: 2 });
  pool.on("error", () => {}); // a stop of Postgres may close idle clients
  await migrate(pool);
  const redis = defineScripts(new Redis(services.redis?.url ?? "", { enableAutoPipelining: true }));
  const reservations = new RedisSaleStore(redis);
  const sqs = localSqsClient(services.sqs?.endpoint ?? "");
  const queueUrl = services.sqs?.ordersQueueUrl ?? "";
  const consume = (await import("../../lambdas/handlers/consume-orders.js"))
    .handler as unknown as SqsLambda;

  const countRows = async (saleId: string): Promise<number> =>
    (await pool.query("SELECT count(*)::int AS n FROM orders WHERE sale_id = $1", [saleId])).rows[0]
      .n;

  const reference: Record<number, number> = {};
  for (const size of batchSizes) {
    const { messages } = await reservedOrders(reservations, ordersPerRun);
    reference[size] = await insertReference(pool, messages, size);
    log(`reference  batch ${String(size).padStart(4)}: ${reference[size]} inserts/s`);
  }

  const handlerRates: Record<number, number> = {};
  for (const size of batchSizes) {
    const { messages } = await reservedOrders(reservations, ordersPerRun);
    handlerRates[size] = await handlerOnly(consume, messages, size);
    log(
      `handler    batch ${String(size).padStart(4)}: ${handlerRates[size]} orders/s (no queue: Lambda's poller does receive/delete in AWS)`,
    );
  }

  const results = [];
  for (const size of batchSizes) {
    const { saleId, messages } = await reservedOrders(reservations, ordersPerRun);
    await enqueue(sqs, queueUrl, messages);
    const drained = await drainQueue({
      sqs,
      queueUrl,
      handler: consume,
      batchSize: size,
      concurrency,
      countRows: () => countRows(saleId),
      expectedRows: ordersPerRun,
      onProgress: (rows) => {
        if (process.stdout.isTTY)
          process.stdout.write(`\r  consumer batch ${size}: ${rows}/${ordersPerRun} rows`);
      },
    });
    const ratio = drained.ordersPerSecond / (reference[size] ?? 1);
    log(
      `${process.stdout.isTTY ? "\r" : ""}consumer   batch ${String(size).padStart(4)}: ${drained.ordersPerSecond} orders/s (${drained.rows} rows in ${drained.seconds.toFixed(2)} s), ${(ratio * 100).toFixed(0)}% of the reference`,
    );
    results.push({
      batchSize: size,
      concurrency,
      ordersPerSecond: drained.ordersPerSecond,
      referenceInsertsPerSecond: reference[size],
      handlerOnlyPerSecond: handlerRates[size],
      ratio: Number(ratio.toFixed(3)),
      rows: drained.rows,
    });
  }

  const dir = join(PROJECT_ROOT, "bench");
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, "consumer.json"),
    `${JSON.stringify({ measuredAt: new Date().toISOString(), durable, ordersPerRun, results }, null, 2)}\n`,
  );
  log(`results written to bench/consumer.json`);
  redis.disconnect();
  sqs.destroy();
  await pool.end();
} finally {
  await services.stop({ removeData: true });
}
process.exit(0);
