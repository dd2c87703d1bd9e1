import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import type { Server } from "node:http";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { SQSClient } from "@aws-sdk/client-sqs";
import { Redis } from "ioredis";
import pg from "pg";
import { vi } from "vitest";
import { migrate } from "../../../lambdas/adapters/postgres/migrate.js";
import { reconcileDeps } from "../../../lambdas/adapters/reconcile-deps.js";
import { saleKeys } from "../../../lambdas/adapters/redis/keys.js";
import { defineScripts } from "../../../lambdas/adapters/redis/scripts.js";
import { queueDepth } from "../../../lambdas/adapters/sqs/queue-depths.js";
import { type ReconcileReport, reconcileSale } from "../../../lambdas/domain/reconcile.js";
import { localJwtSettings, signLocalToken } from "../../../local/auth.js";
import { jsonClient } from "../../../local/http-client.js";
import type { HttpLambda } from "../../../local/http-host.js";
import { localPaymentEnv } from "../../../local/payments.js";
import {
  type LocalServices,
  PROJECT_ROOT,
  type ServicesOptions,
  startLocalServices,
} from "../../../local/services/index.js";
import { isAlive } from "../../../local/services/processes.js";
import { localSqsClient } from "../../../local/services/sqs-server.js";
import {
  type BatchReport,
  type SqsEventSource,
  type SqsLambda,
  startSqsEventSource,
} from "../../../local/sqs-event-source.js";
import { invokeScheduled } from "../../../local/stack.js";

/**
 * What every fault test shares: real services on free ports, the handlers
 * behind the local API Gateway, the consumer behind the local SQS event
 * source, a bounded load of concurrent buyers over HTTP, and the books
 * (Redis, Postgres, queues) to check the promises against.
 */

export const FAULT_REPORT_DIR = join(PROJECT_ROOT, ".local", "fault-matrix");

/** Services with the orders table migrated. */
export async function startServices(options: ServicesOptions = {}): Promise<LocalServices> {
  const services = await startLocalServices(options);
  if (services.postgres) {
    const pool = quietPool(services.postgres.url, 1);
    try {
      await migrate(pool);
    } finally {
      await pool.end();
    }
  }
  return services;
}

export function quietPool(url: string, max = 4): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, application_name: "fault-test" });
  pool.on("error", () => {}); // a stopped Postgres closes idle clients; expected here
  return pool;
}

export function quietRedis(url: string): Redis {
  const redis = defineScripts(new Redis(url, { maxRetriesPerRequest: 3 }));
  redis.on("error", () => {}); // a restarted Redis drops the connection; expected here
  return redis;
}

export interface App {
  url: string;
  /** The real consume-orders handler, loaded with the same environment as the HTTP handlers. */
  consume: SqsLambda;
  close(): Promise<void>;
}

/**
 * The HTTP handlers behind the local API Gateway on a free port. Handlers read
 * their configuration at cold start, so the module registry is reset first:
 * every call loads them afresh with `env`, as a new Lambda container would.
 */
export async function startApp(env: Record<string, string>): Promise<App> {
  Object.assign(process.env, localPaymentEnv(), env);
  vi.resetModules();
  const host = await import("../../../local/http-host.js");
  const server: Server = host.createHttpHost({
    handlers: await host.loadRouteHandlers(),
    jwt: localJwtSettings({}),
  });
  const port = await host.listen(server, 0);
  const consume = (await import("../../../lambdas/handlers/consume-orders.js"))
    .handler as unknown as SqsLambda;
  return {
    url: `http://127.0.0.1:${port}`,
    consume,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface ConsumerStats {
  batches: number;
  records: number;
  failedRecords: number;
  handlerErrors: number;
  /** Batches in which some records failed and others succeeded. */
  mixedBatches: number;
}

export function startConsumer(options: {
  endpoint: string;
  queueUrl: string;
  handler: SqsLambda;
  batchSize?: number;
  batchingWindowMs?: number;
  concurrency?: number;
}): { source: SqsEventSource; stats: ConsumerStats } {
  const stats: ConsumerStats = {
    batches: 0,
    records: 0,
    failedRecords: 0,
    handlerErrors: 0,
    mixedBatches: 0,
  };
  const source = startSqsEventSource({
    sqs: localSqsClient(options.endpoint),
    queueUrl: options.queueUrl,
    handler: options.handler,
    batchSize: options.batchSize ?? 10,
    batchingWindowMs: options.batchingWindowMs ?? 50,
    concurrency: options.concurrency ?? 2,
    waitTimeSeconds: 1,
    onBatch: (report: BatchReport) => {
      stats.batches++;
      stats.records += report.size;
      stats.failedRecords += report.failed;
      if (report.handlerError !== undefined) stats.handlerErrors++;
      if (report.failed > 0 && report.failed < report.size) stats.mixedBatches++;
    },
    onError: () => {},
  });
  return { source, stats };
}

export async function adminToken(): Promise<string> {
  return signLocalToken({ sub: "fault-admin", scopes: ["admin"] }, localJwtSettings({}));
}

export async function createSale(
  url: string,
  sale: {
    stock: number;
    perUserLimit?: number;
    prefix?: string;
    /** A sale with a hold: the price of a unit and the payment window. */
    hold?: { price: { amount: number; currency: string }; holdSeconds: number };
  },
): Promise<string> {
  const id = `${sale.prefix ?? "fault"}-${randomUUID().slice(0, 8)}`;
  const client = jsonClient(url, 2);
  try {
    const reply = await client.call("POST", "/sales", {
      headers: { authorization: `Bearer ${await adminToken()}` },
      body: {
        id,
        name: "Fault drill",
        stock: sale.stock,
        perUserLimit: sale.perUserLimit ?? 1,
        ...(sale.hold && { price: sale.hold.price, holdSeconds: sale.hold.holdSeconds }),
      },
    });
    if (reply.status !== 201)
      throw new Error(`sale creation failed: ${reply.status} ${JSON.stringify(reply.body)}`);
    return id;
  } finally {
    client.close();
  }
}

export interface BuyOutcome {
  user: string;
  idempotencyKey: string;
  /** 0 when no HTTP answer came back (connection refused or reset). */
  status: number;
  code: string | undefined;
  orderId: string | undefined;
  retryAfter: string | undefined;
  error: string | undefined;
  sentAt: number;
  ms: number;
}

export interface Buyer {
  user: string;
  token: string;
  idempotencyKey: string;
}

export async function makeBuyers(count: number, prefix = "buyer"): Promise<Buyer[]> {
  const jwt = localJwtSettings({});
  const run = randomUUID().slice(0, 6);
  return Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const user = `${prefix}-${run}-${i}`;
      return {
        user,
        token: await signLocalToken({ sub: user }, jwt),
        idempotencyKey: randomUUID(),
      };
    }),
  );
}

export interface Load {
  /** Resolves when every buyer was answered, the load was stopped, or its deadline passed. */
  done: Promise<BuyOutcome[]>;
  answered(): number;
  /** The outcomes so far (a copy). */
  outcomes(): BuyOutcome[];
  /** Sends no further requests; those in flight still complete. */
  stop(): void;
}

/**
 * One buy request per buyer, `concurrency` at a time, over keep-alive HTTP to
 * 127.0.0.1. Bounded in count (the buyers) and in time (`deadlineMs`).
 */
export function startLoad(options: {
  url: string;
  saleId: string;
  buyers: Buyer[];
  concurrency: number;
  deadlineMs?: number;
  /** Paces the load: each worker waits this long between the starts of its requests. */
  workerIntervalMs?: number;
  onAnswer?: (answered: number, outcome: BuyOutcome) => void;
}): Load {
  const client = jsonClient(options.url, options.concurrency + 4);
  const deadline = Date.now() + (options.deadlineMs ?? 60_000);
  const outcomes: BuyOutcome[] = [];
  let next = 0;
  let stopped = false;

  async function worker(): Promise<void> {
    while (!stopped && Date.now() < deadline) {
      const buyer = options.buyers[next++];
      if (buyer === undefined) return;
      const outcome = await buyOnce(client, options.saleId, buyer);
      outcomes.push(outcome);
      options.onAnswer?.(outcomes.length, outcome);
      const pause = (options.workerIntervalMs ?? 0) - outcome.ms;
      if (pause > 0) await sleep(pause);
    }
  }
  const done = Promise.all(Array.from({ length: options.concurrency }, () => worker())).then(() => {
    client.close();
    return outcomes;
  });
  return {
    done,
    answered: () => outcomes.length,
    outcomes: () => [...outcomes],
    stop: () => {
      stopped = true;
    },
  };
}

export async function buyOnce(
  client: ReturnType<typeof jsonClient>,
  saleId: string,
  buyer: Buyer,
): Promise<BuyOutcome> {
  const sentAt = Date.now();
  try {
    const reply = await client.call("POST", `/sales/${saleId}/buy`, {
      headers: {
        authorization: `Bearer ${buyer.token}`,
        "idempotency-key": buyer.idempotencyKey,
      },
      body: { quantity: 1 },
    });
    const body = reply.body as { orderId?: string; error?: { code?: string } } | undefined;
    const retryAfter = reply.headers["retry-after"];
    return {
      user: buyer.user,
      idempotencyKey: buyer.idempotencyKey,
      status: reply.status,
      code: body?.error?.code,
      orderId: reply.status === 202 ? body?.orderId : undefined,
      retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
      error: undefined,
      sentAt,
      ms: Date.now() - sentAt,
    };
  } catch (error) {
    return {
      user: buyer.user,
      idempotencyKey: buyer.idempotencyKey,
      status: 0,
      code: undefined,
      orderId: undefined,
      retryAfter: undefined,
      error: (error as NodeJS.ErrnoException).code ?? (error as Error).message,
      sentAt,
      ms: Date.now() - sentAt,
    };
  }
}

/** Resolves once `answered()` reaches n (or the load ends). */
export async function whenAnswered(load: Load, n: number, timeoutMs = 60_000): Promise<void> {
  let ended = false;
  void load.done.then(() => {
    ended = true;
  });
  const deadline = Date.now() + timeoutMs;
  while (load.answered() < n && !ended) {
    if (Date.now() > deadline)
      throw new Error(`load did not reach ${n} answers in ${timeoutMs} ms`);
    await sleep(5);
  }
}

export async function waitFor(
  description: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs = 100,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await probe().catch(() => false)) return;
    await sleep(intervalMs);
  }
  throw new Error(`${description}: not reached within ${timeoutMs} ms`);
}

export async function depths(sqs: SQSClient, services: LocalServices) {
  return {
    orders: await queueDepth(sqs, services.sqs?.ordersQueueUrl ?? ""),
    dlq: await queueDepth(sqs, services.sqs?.deadLetterQueueUrl ?? ""),
  };
}

/** Waits until the orders queue is empty (nothing visible or in flight). */
export async function drained(sqs: SQSClient, queueUrl: string, timeoutMs = 30_000): Promise<void> {
  await waitFor(
    "orders queue drained",
    async () => (await queueDepth(sqs, queueUrl)) === 0,
    timeoutMs,
  );
}

export interface OrderInRedis {
  orderId: string;
  state: "reserved" | "confirmed" | "released";
  userId: string;
  quantity: number;
  restored: boolean;
}

export interface Books {
  stock: number;
  remaining: number;
  sold: number;
  orders: OrderInRedis[];
  byState: Record<OrderInRedis["state"], number>;
  /** Units held by orders that are not released: what `sold` must equal. */
  unitsHeld: number;
  buyers: Record<string, string>;
  rows: Array<{ orderId: string; userId: string; quantity: number }>;
  rowUnits: number;
  /** Rows with an order id that appears more than once (the primary key forbids it; checked anyway). */
  duplicateRows: number;
}

export async function readBooks(redis: Redis, db: pg.Pool, saleId: string): Promise<Books> {
  const keys = saleKeys(saleId);
  const [sale, ordersHash, buyers, rowsResult] = await Promise.all([
    redis.hgetall(keys.sale),
    redis.hgetall(keys.orders),
    redis.hgetall(keys.buyers),
    db.query<{ order_id: string; user_id: string; quantity: number }>(
      "SELECT order_id, user_id, quantity FROM orders WHERE sale_id = $1",
      [saleId],
    ),
  ]);
  const orders = Object.entries(ordersHash).map(([orderId, json]) => {
    const raw = JSON.parse(json) as {
      state: OrderInRedis["state"];
      userId: string;
      quantity: number;
      restored?: boolean;
    };
    return {
      orderId,
      state: raw.state,
      userId: raw.userId,
      quantity: Number(raw.quantity),
      restored: raw.restored === true,
    };
  });
  const rows = rowsResult.rows.map((r) => ({
    orderId: r.order_id,
    userId: r.user_id,
    quantity: r.quantity,
  }));
  const stock = Number(sale.stock);
  const remaining = Number(sale.remaining);
  return {
    stock,
    remaining,
    sold: stock - remaining,
    orders,
    byState: {
      reserved: orders.filter((o) => o.state === "reserved").length,
      confirmed: orders.filter((o) => o.state === "confirmed").length,
      released: orders.filter((o) => o.state === "released").length,
    },
    unitsHeld: orders.filter((o) => o.state !== "released").reduce((s, o) => s + o.quantity, 0),
    buyers,
    rows,
    rowUnits: rows.reduce((s, r) => s + r.quantity, 0),
    duplicateRows: rows.length - new Set(rows.map((r) => r.orderId)).size,
  };
}

export function reconcileWith(redis: Redis, db: pg.Pool, sqs: SQSClient, services: LocalServices) {
  return (saleId: string, options: { repair: boolean; graceMs: number }) =>
    reconcileSale(
      reconcileDeps({
        redis,
        db,
        sqs,
        queues: {
          ordersQueueUrl: services.sqs?.ordersQueueUrl ?? "",
          deadLetterQueueUrl: services.sqs?.deadLetterQueueUrl ?? "",
        },
      }),
      saleId,
      options,
    );
}

export function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

export const accepted = (outcomes: BuyOutcome[]) => outcomes.filter((o) => o.status === 202);

/**
 * The promises, as checks over the final books:
 * - never oversold: sold ≤ stock, and Redis' sold count equals the units its
 *   orders hold (so no unit vanished or was counted twice);
 * - every 2xx buy is exactly one order row; every row is a 2xx buy (or, when
 *   a request got no answer at all, may be that request's order);
 * - every released order has no row; nothing is left reserved.
 * Returns the violations, so a failing test prints all of them at once.
 */
export function promiseViolations(
  books: Books,
  outcomes: BuyOutcome[],
  options: { unanswered?: Set<string>; allowReserved?: boolean } = {},
): string[] {
  const problems: string[] = [];
  const acceptedIds = new Set(accepted(outcomes).map((o) => o.orderId ?? ""));
  const rowIds = new Set(books.rows.map((r) => r.orderId));
  if (books.sold > books.stock) problems.push(`oversold: sold ${books.sold} of ${books.stock}`);
  if (books.remaining < 0) problems.push(`remaining is ${books.remaining}`);
  if (books.sold !== books.unitsHeld)
    problems.push(`Redis sold ${books.sold} but its orders hold ${books.unitsHeld} unit(s)`);
  if (books.rowUnits > books.stock)
    problems.push(`rows hold ${books.rowUnits} units, stock ${books.stock}`);
  if (books.duplicateRows > 0) problems.push(`${books.duplicateRows} duplicate row(s)`);
  for (const id of acceptedIds) if (!rowIds.has(id)) problems.push(`accepted ${id} has no row`);
  for (const row of books.rows) {
    if (acceptedIds.has(row.orderId)) continue;
    if (options.unanswered?.has(row.userId)) continue;
    problems.push(`row ${row.orderId} (${row.userId}) was never accepted`);
  }
  for (const order of books.orders) {
    if (order.state === "released" && rowIds.has(order.orderId))
      problems.push(`released ${order.orderId} has a row`);
    if (order.state === "reserved" && !options.allowReserved)
      problems.push(`order ${order.orderId} is still reserved`);
  }
  return problems;
}

export interface FaultMeasurement {
  fault: string;
  requests: number;
  accepted: number;
  statuses: Record<string, number>;
  rows: number;
  released: number;
  dlq: number;
  repaired: number;
  durationMs: number;
  [extra: string]: unknown;
}

/** Prints one line per fault and keeps it under .local/fault-matrix/ for the closing note. */
export function recordFault(measurement: FaultMeasurement): void {
  mkdirSync(FAULT_REPORT_DIR, { recursive: true });
  const file = join(FAULT_REPORT_DIR, `${measurement.fault.replace(/[^\w-]+/g, "_")}.json`);
  writeFileSync(file, `${JSON.stringify(measurement, null, 2)}\n`);
  process.stdout.write(`[fault-matrix] ${JSON.stringify(measurement)}\n`);
}

export function statusCounts(outcomes: BuyOutcome[]): Record<string, number> {
  return countBy(outcomes, (o) =>
    o.status === 0 ? `no answer (${o.error})` : `${o.status}${o.code ? ` ${o.code}` : ""}`,
  );
}

/** Every pid is gone (a stopped service leaves no process behind). */
export function deadPids(pids: Array<number | undefined>): boolean {
  return pids.every((pid) => pid === undefined || !isAlive(pid));
}

/** Undo steps, run last-in first-out; each step's failure is ignored so the rest still run. */
export class Teardown {
  private steps: Array<() => Promise<unknown>> = [];
  add(step: () => Promise<unknown>): void {
    this.steps.push(step);
  }
  async run(): Promise<void> {
    const steps = this.steps.reverse();
    this.steps = [];
    for (const step of steps) await step().catch(() => {});
  }
}

export interface Rig {
  services: LocalServices;
  env: Record<string, string>;
  app: App;
  redis: Redis;
  db: pg.Pool;
  /** Talks to the SQS server directly (never through a fault proxy). */
  sqs: SQSClient;
  startConsumer(
    handler?: SqsLambda,
    options?: { endpoint?: string; batchSize?: number; batchingWindowMs?: number },
  ): { source: SqsEventSource; stats: ConsumerStats };
  reconcile: ReturnType<typeof reconcileWith>;
  depths(): ReturnType<typeof depths>;
  rowCount(saleId: string): Promise<number>;
  /** Process ids of the services as they run now (they change when a service restarts). */
  pids(): Array<number | undefined>;
}

/**
 * Services, the HTTP API and clients for checking the books; `env` may
 * override the handlers' environment (e.g. point SQS_ENDPOINT at a proxy).
 * Everything is registered with `teardown`.
 */
export async function startRig(
  teardown: Teardown,
  options: {
    services?: ServicesOptions;
    /** Runs once the services are up, before the handlers load (e.g. to start a proxy). */
    beforeApp?: (services: LocalServices) => Promise<void>;
    env?: (services: LocalServices) => Record<string, string>;
  } = {},
): Promise<Rig> {
  const services = await startServices(options.services);
  teardown.add(() => services.stop({ removeData: true }));
  await options.beforeApp?.(services);
  const env = { ...services.env(), ...options.env?.(services) };
  const app = await startApp(env);
  teardown.add(() => app.close());
  const redis = quietRedis(env.REDIS_URL ?? "");
  teardown.add(async () => redis.disconnect());
  const db = quietPool(env.DATABASE_URL ?? "");
  teardown.add(() => db.end());
  const sqs = localSqsClient(services.sqs?.endpoint ?? "");
  teardown.add(async () => sqs.destroy());
  return {
    services,
    env,
    app,
    redis,
    db,
    sqs,
    startConsumer(handler = app.consume, consumerOptions = {}) {
      const consumer = startConsumer({
        endpoint: consumerOptions.endpoint ?? services.sqs?.endpoint ?? "",
        queueUrl: services.sqs?.ordersQueueUrl ?? "",
        handler,
        batchSize: consumerOptions.batchSize,
        batchingWindowMs: consumerOptions.batchingWindowMs,
      });
      teardown.add(() => consumer.source.stop());
      return consumer;
    },
    reconcile: reconcileWith(redis, db, sqs, services),
    depths: () => depths(sqs, services),
    async rowCount(saleId: string) {
      const { rows } = await db.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM orders WHERE sale_id = $1",
        [saleId],
      );
      return rows[0]?.n ?? 0;
    },
    pids: () => [services.redis?.pid, services.postgres?.pid, services.sqs?.pid],
  };
}

export interface HoldCounts {
  stock: number;
  remaining: number;
  held: number;
  paid: number;
  /** Units given back by expired holds, ever (each expiry adds its units once). */
  expiredUnits: number;
  /** History events waiting in the sale's outbox for the sweeper. */
  outbox: number;
}

/** The live counters of a sale with a hold, straight from its hash. */
export async function holdCounts(redis: Redis, saleId: string): Promise<HoldCounts> {
  const keys = saleKeys(saleId);
  const [stock = 0, remaining = 0, held = 0, paid = 0, expiredUnits = 0] = (
    await redis.hmget(keys.sale, "stock", "remaining", "held", "paid", "expiredUnits")
  ).map(Number);
  return { stock, remaining, held, paid, expiredUnits, outbox: await redis.llen(keys.events) };
}

/** Each order's payment state in Redis (held, paid, expired, refund_due). */
export async function paymentStates(redis: Redis, saleId: string): Promise<Record<string, string>> {
  const orders = await redis.hgetall(saleKeys(saleId).orders);
  return Object.fromEntries(
    Object.entries(orders).map(([id, json]) => [
      id,
      String((JSON.parse(json) as { payment?: string }).payment),
    ]),
  );
}

/** The sale's order history in Postgres: rows per event, and (order, event) pairs seen more than once. */
export async function orderEvents(db: pg.Pool, saleId: string) {
  const { rows } = await db.query<{ order_id: string; event: string }>(
    "SELECT order_id, event FROM order_events WHERE sale_id = $1",
    [saleId],
  );
  const byEvent = countBy(rows, (r) => r.event);
  const pairs = new Set(rows.map((r) => `${r.order_id} ${r.event}`));
  return { rows, byEvent, duplicates: rows.length - pairs.size };
}

/** The hold sweeper's report (lambdas/domain/expire-holds.ts). */
export type SweepReport = import("../../../lambdas/domain/expire-holds.js").SweepReport;

/**
 * The real expire-holds handler, loaded with the app's environment (call
 * after startApp): one sweep per call, as one EventBridge invocation.
 */
export async function loadSweeper(): Promise<() => Promise<SweepReport>> {
  const { handler } = await import("../../../lambdas/handlers/expire-holds.js");
  return async () => (await invokeScheduled("expire-holds", handler)) as SweepReport;
}

/**
 * The sweeper on a timer, as `npm start` runs it (one run at a time); the
 * reports are kept.
 */
export function sweepEvery(
  sweep: () => Promise<SweepReport>,
  intervalMs: number,
): { reports: SweepReport[]; stop(): Promise<void> } {
  const reports: SweepReport[] = [];
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = sweep()
      .then((report) => void reports.push(report))
      .catch(() => undefined)
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  return {
    reports,
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

export type { HttpLambda, LocalServices, ReconcileReport };
