import cluster, { type Worker } from "node:cluster";
import type { Server } from "node:http";
import { join } from "node:path";
import pg from "pg";
import { migrate } from "../lambdas/adapters/postgres/migrate.js";
import { localJwtSettings } from "./auth.js";
import type { GatewaySettings } from "./gateway.js";
import { createHttpHost, listen, loadRouteHandlers } from "./http-host.js";
import { localPaymentEnv } from "./payments.js";
import { type LocalServices, startLocalServices } from "./services/index.js";
import { freePort } from "./services/processes.js";
import { localSqsClient } from "./services/sqs-server.js";
import { type SqsEventSource, type SqsLambda, startSqsEventSource } from "./sqs-event-source.js";

/**
 * The whole system on one machine: the real services, the handlers behind a
 * local API Gateway, and the consumer behind a local SQS event source, wired
 * by the same environment variables the CDK stack sets in AWS.
 */

export interface StackOptions {
  /** Folder for data and logs; default a fresh one under .local/runs. */
  dir?: string;
  port?: number;
  host?: string;
  durable?: boolean;
  /** The SQS event source; each default is the CDK stack's setting (cdk.json). */
  consumer?: {
    batchSize?: number;
    batchingWindowMs?: number;
    concurrency?: number;
    timeoutMs?: number;
  };
  /**
   * HTTP worker processes (node:cluster), each with its own handler modules,
   * as Lambda runs many containers; 0 serves from this process (tests).
   */
  workers?: number;
  /** Overrides of the stack's gateway settings (e.g. the bench lifts the stage throttle). */
  gateway?: Partial<GatewaySettings>;
  /** Receives before a message moves to the DLQ; default the stack's (cdk.json). */
  maxReceiveCount?: number;
  /** Default the stack's: 6 × consumer timeout + batching window (181 s). */
  /** How often the hold sweeper (expire-holds) runs; 0 turns it off. Default 2000 ms (EventBridge's 1 minute in AWS). */
  sweepIntervalMs?: number;
  visibilityTimeoutSeconds?: number;
}

export interface RunningStack {
  url: string;
  /** Process ids of the HTTP workers (empty when serving in-process). */
  workerPids: number[];
  services: LocalServices;
  env: Record<string, string>;
  consumer: SqsEventSource;
  stop(options?: { removeData?: boolean }): Promise<void>;
}

export async function startStack(options: StackOptions = {}): Promise<RunningStack> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
  const services = await startLocalServices({
    dir: options.dir,
    durable: options.durable,
    queues: {
      maxReceiveCount: options.maxReceiveCount,
      visibilityTimeoutSeconds: options.visibilityTimeoutSeconds,
    },
  });
  let server: Server | undefined;
  let workers: Worker[] = [];
  let consumer: SqsEventSource | undefined;
  let sweeper: { stop(): Promise<void> } | undefined;
  const stop = async (stopOptions: { removeData?: boolean } = {}) => {
    await sweeper?.stop();
    await consumer?.stop();
    if (server) await new Promise<void>((resolve) => server?.close(() => resolve()));
    server?.closeAllConnections();
    await Promise.all(workers.map(stopWorker));
    await services.stop(stopOptions);
  };
  try {
    // The payment webhook's signing secret: the local simulated provider's.
    const env = { ...services.env(), ...localPaymentEnv() };
    // The handlers read their configuration from the environment at cold start, as in Lambda.
    Object.assign(process.env, env, {
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "WARN",
    });

    const pool = new pg.Pool({
      connectionString: env.DATABASE_URL,
      max: 1,
      application_name: "migrate",
    });

    pool.on("error", () => {}); // a stop of Postgres may close idle clients
    await migrate(pool);
    await pool.end();

    const host = options.host ?? "127.0.0.1";
    let port: number;
    if ((options.workers ?? 0) > 0) {
      port = options.port || (await freePort());
      workers = await startWorkers(options.workers ?? 1, {
        ...env,
        LOCAL_HTTP_PORT: String(port),
        LOCAL_HTTP_HOST: host,
        LOCAL_HTTP_WORKERS: String(options.workers ?? 1),
        LOCAL_GATEWAY_OVERRIDES: JSON.stringify(options.gateway ?? {}),
      });
    } else {
      server = createHttpHost({
        handlers: await loadRouteHandlers(),
        jwt: localJwtSettings(),
        gateway: options.gateway,
      });
      port = await listen(server, options.port ?? 3000, host);
    }

    const consume = (await import("../lambdas/handlers/consume-orders.js"))
      .handler as unknown as SqsLambda;
    consumer = startSqsEventSource({
      sqs: localSqsClient(env.SQS_ENDPOINT ?? ""),
      queueUrl: env.ORDERS_QUEUE_URL ?? "",
      handler: consume,
      batchSize: options.consumer?.batchSize,
      batchingWindowMs: options.consumer?.batchingWindowMs,
      concurrency: options.consumer?.concurrency,
      timeoutMs: options.consumer?.timeoutMs,
      waitTimeSeconds: 1,
    });
    const running = consumer;
    sweeper = await startSweeper(options.sweepIntervalMs ?? 2_000);
    return {
      url: `http://${host}:${port}`,
      services,
      env,
      consumer: running,
      workerPids: workers.map((worker) => worker.process.pid ?? 0),
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/**
 * The hold sweeper on a timer, as EventBridge Scheduler runs it in AWS: the
 * same expire-holds handler module, one run at a time.
 */
async function startSweeper(intervalMs: number): Promise<{ stop(): Promise<void> }> {
  if (intervalMs <= 0) return { stop: async () => {} };
  const { handler } = await import("../lambdas/handlers/expire-holds.js");
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return; // the last sweep is still going: skip this tick
    running = handler()
      .catch(() => undefined) // the handler logs its own failures; the next tick retries
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}

async function startWorkers(count: number, env: Record<string, string>): Promise<Worker[]> {
  // Each worker accepts its own connections from the shared socket (SCHED_NONE),
  // rather than this process accepting every one and handing it over by IPC
  // (node:cluster's round-robin default on Linux): the process that also runs
  // the consumer stays out of every request's way.
  cluster.schedulingPolicy = cluster.SCHED_NONE;
  cluster.setupPrimary({ exec: join(import.meta.dirname, "http-worker.ts"), silent: false });
  const workers = Array.from({ length: count }, () => cluster.fork({ ...process.env, ...env }));
  await Promise.all(
    workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          worker.once("message", (message: { ready?: boolean }) =>
            message.ready ? resolve() : undefined,
          );
          worker.once("exit", (code) =>
            reject(new Error(`HTTP worker exited with code ${code} before it was ready`)),
          );
        }),
    ),
  );
  return workers;
}

async function stopWorker(worker: Worker): Promise<void> {
  if (worker.isDead()) return;
  const exited = new Promise<void>((resolve) => worker.once("exit", () => resolve()));
  worker.disconnect();
  const timer = setTimeout(() => worker.kill("SIGKILL"), 3_000);
  await exited;
  clearTimeout(timer);
}
