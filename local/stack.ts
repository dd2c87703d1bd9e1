import { type ChildProcess, fork } from "node:child_process";
import cluster, { type Worker } from "node:cluster";
import type { Server } from "node:http";
import { join } from "node:path";
import type { Context, ScheduledEvent } from "aws-lambda";
import pg from "pg";
import { migrate } from "../lambdas/adapters/postgres/migrate.js";
import { localJwtSettings } from "./auth.js";
import { type GatewaySettings, stackGatewaySettings } from "./gateway.js";
import { createHttpHost, listen, loadRouteHandlers } from "./http-host.js";
import { invocationTraceHeader, withinInvocation } from "./invoke-store.js";
import { lambdaContext } from "./lambda-context.js";
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
  consumer?: ConsumerSettings & {
    /**
     * Run the event source and the consume-orders handler in this process rather
     * than in a consumer process of their own (local/consumer-worker.ts); default:
     * in-process exactly when the HTTP host is (workers: 0, as the tests run it).
     */
    inProcess?: boolean;
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
  /** How often the order repair (repair-orders) runs; 0 turns it off. Default 5000 ms (EventBridge's 1 minute in AWS). */
  repairIntervalMs?: number;
  /** How often the draw runner runs (ms; 0: never). */
  drawIntervalMs?: number;
  visibilityTimeoutSeconds?: number;
}

interface ConsumerSettings {
  batchSize?: number;
  batchingWindowMs?: number;
  /** 0: no consumer at all (the bench drains the queue itself). */
  concurrency?: number;
  timeoutMs?: number;
}

export interface StackConsumer extends SqsEventSource {
  /** The consumer process's id; undefined when it runs in-process (or is off). */
  readonly pid: number | undefined;
  /** Times the consumer process died and was started again. */
  readonly restarts: number;
}

export interface RunningStack {
  url: string;
  /** Process ids of the HTTP workers (empty when serving in-process). */
  workerPids: number[];
  services: LocalServices;
  env: Record<string, string>;
  consumer: StackConsumer;
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
  let consumer: StackConsumer | undefined;
  let sweeper: { stop(): Promise<void> } | undefined;
  let repairer: { stop(): Promise<void> } | undefined;
  let drawRunner: { stop(): Promise<void> } | undefined;
  const stop = async (stopOptions: { removeData?: boolean } = {}) => {
    await sweeper?.stop();
    await repairer?.stop();
    await drawRunner?.stop();
    // The consumer first: its batches in the handler finish while Postgres and SQS still run.
    await consumer?.stop();
    if (server) await new Promise<void>((resolve) => server?.close(() => resolve()));
    server?.closeAllConnections();
    await Promise.all(workers.map(stopWorker));
    await services.stop(stopOptions);
  };
  try {
    // The payment webhook's signing secret: the local simulated provider's.
    // ADMIN_SCOPE: the handlers check the scope the local gateway requires (cdk.json's adminScope).
    const env: Record<string, string> = {
      ...services.env(),
      ...localPaymentEnv(),
      ...LOCAL_REPAIR_ENV,
      // The integration events (docs/events.md): the consumer and the repair append them here.
      LOCAL_EVENTS_FILE: process.env.LOCAL_EVENTS_FILE ?? join(services.dir, "events.jsonl"),
      ADMIN_SCOPE: { ...stackGatewaySettings(), ...options.gateway }.adminScope,
    };
    // The handlers read their configuration from the environment at cold start, as in Lambda.
    Object.assign(process.env, env, {
      POWERTOOLS_LOG_LEVEL: process.env.POWERTOOLS_LOG_LEVEL ?? "WARN",
      // CloudWatch reads the EMF metric lines in AWS; nothing does here.
      POWERTOOLS_METRICS_DISABLED: process.env.POWERTOOLS_METRICS_DISABLED ?? "true",
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

    const settings: ConsumerSettings & { waitTimeSeconds: number } = {
      batchSize: options.consumer?.batchSize,
      batchingWindowMs: options.consumer?.batchingWindowMs,
      concurrency: options.consumer?.concurrency,
      timeoutMs: options.consumer?.timeoutMs,
      waitTimeSeconds: 1,
    };
    const inProcess = options.consumer?.inProcess ?? (options.workers ?? 0) === 0;
    if (settings.concurrency === 0) consumer = noConsumer();
    else if (inProcess) {
      const consume = (await import("../lambdas/handlers/consume-orders.js"))
        .handler as unknown as SqsLambda;
      const source = startSqsEventSource({
        sqs: localSqsClient(env.SQS_ENDPOINT ?? ""),
        queueUrl: env.ORDERS_QUEUE_URL ?? "",
        handler: consume,
        ...settings,
      });
      consumer = Object.assign(source, { pid: undefined, restarts: 0 });
    } else consumer = await startConsumerProcess(env, settings);
    const running = consumer;
    sweeper = await startSchedule(
      "expire-holds",
      async () => (await import("../lambdas/handlers/expire-holds.js")).handler,
      options.sweepIntervalMs ?? 2_000,
    );
    repairer = await startSchedule(
      "repair-orders",
      async () => (await import("../lambdas/handlers/repair-orders.js")).handler,
      options.repairIntervalMs ?? 5_000,
    );
    drawRunner = await startSchedule(
      "run-draws",
      async () => (await import("../lambdas/handlers/run-draws.js")).handler,
      options.drawIntervalMs ?? 2_000,
    );
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
 * The order repair's settings in the local stack (the environment wins): a
 * grace period of 30 s (the local host's buy timeout is 10 s, as in AWS), and
 * a lock that outlives a killed stack for 30 s only, not the 5 min of AWS's
 * function timeout.
 */
const LOCAL_REPAIR_ENV: Record<string, string> = {
  REPAIR_GRACE_SECONDS: process.env.REPAIR_GRACE_SECONDS ?? "30",
  REPAIR_LOCK_TTL_SECONDS: process.env.REPAIR_LOCK_TTL_SECONDS ?? "30",
  // A draw runs 2 s after its entries freeze here (10 s in AWS), its lock outlives a killed stack 30 s.
  DRAW_SETTLE_MS: process.env.DRAW_SETTLE_MS ?? "2000",
  DRAW_LOCK_TTL_SECONDS: process.env.DRAW_LOCK_TTL_SECONDS ?? "30",
};

/**
 * A scheduled function on a timer, as EventBridge runs it in AWS: the same
 * handler module (loaded once, as one warm container), one run at a time; a
 * tick while the last run is still going is skipped. The hold sweeper and the
 * order repair run this way.
 */
export async function startSchedule(
  functionName: string,
  load: () => Promise<ScheduledLambda>,
  intervalMs: number,
): Promise<{ stop(): Promise<void> }> {
  if (intervalMs <= 0) return { stop: async () => {} };
  const handler = await load();
  let running: Promise<unknown> | undefined;
  const timer = setInterval(() => {
    if (running) return; // the last run is still going: skip this tick
    running = invokeScheduled(functionName, handler)
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

/** A function EventBridge Scheduler invokes: its event is the schedule's (the handlers ignore it). */
export type ScheduledLambda = (event: ScheduledEvent, context: Context) => Promise<unknown>;

/** One scheduled invocation, as EventBridge Scheduler makes it: its own request id and trace. */
export function invokeScheduled(functionName: string, handler: ScheduledLambda): Promise<unknown> {
  const context = lambdaContext(functionName, 5 * 60_000);
  const event: ScheduledEvent = {
    version: "0",
    id: context.awsRequestId,
    "detail-type": "Scheduled Event",
    source: "aws.scheduler",
    account: "000000000000",
    time: new Date().toISOString(),
    region: "us-east-1",
    resources: [`arn:aws:scheduler:us-east-1:000000000000:schedule/default/${functionName}`],
    detail: {},
  };
  return withinInvocation(context, invocationTraceHeader(), () => handler(event, context));
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

function noConsumer(): StackConsumer {
  return { pid: undefined, restarts: 0, processed: 0, failed: 0, stop: async () => {} };
}

/** Restarts of a dead consumer process allowed within RESTART_WINDOW_MS before giving up. */
const MAX_RESTARTS = 5;
const RESTART_WINDOW_MS = 60_000;

function logConsumer(level: "INFO" | "ERROR", message: string, details: object = {}): void {
  process.stderr.write(
    `${JSON.stringify({ level, message, function: "consume-orders", ...details })}\n`,
  );
}

/**
 * The consumer in a process of its own (local/consumer-worker.ts), supervised:
 * started again when it dies (after a second; at most MAX_RESTARTS times a
 * minute, then left stopped, each logged), stopped with a "stop" message on
 * stop(). It exits by itself when this process dies (its IPC channel closes).
 */
async function startConsumerProcess(
  env: Record<string, string>,
  settings: ConsumerSettings & { waitTimeSeconds: number },
): Promise<StackConsumer> {
  let child: ChildProcess | undefined;
  let stopping = false;
  let restartTimer: NodeJS.Timeout | undefined;
  const restartTimes: number[] = [];
  let restarts = 0;
  // Totals of the processes that ended, plus the running one's.
  let processedBefore = 0;
  let failedBefore = 0;
  let processed = 0;
  let failed = 0;

  const spawnConsumer = (): ChildProcess => {
    const started = fork(join(import.meta.dirname, "consumer-worker.ts"), [], {
      env: { ...process.env, ...env, LOCAL_CONSUMER_SETTINGS: JSON.stringify(settings) },
      execArgv: typeScriptExecArgv(),
    });
    processedBefore += processed;
    failedBefore += failed;
    processed = 0;
    failed = 0;
    started.on("message", (message: { type?: string; processed?: number; failed?: number }) => {
      if (message.type !== "batch") return;
      processed = message.processed ?? processed;
      failed = message.failed ?? failed;
    });
    started.once("exit", (code, signal) => {
      if (stopping || child !== started) return;
      const now = Date.now();
      while (restartTimes.length > 0 && now - (restartTimes[0] ?? 0) > RESTART_WINDOW_MS)
        restartTimes.shift();
      if (restartTimes.length >= MAX_RESTARTS) {
        logConsumer("ERROR", "consumer process exited; not restarting it", {
          pid: started.pid,
          code,
          signal,
          restartsInLastMinute: restartTimes.length,
        });
        child = undefined;
        return;
      }
      restartTimes.push(now);
      restarts++;
      logConsumer("ERROR", "consumer process exited; restarting it in 1 s", {
        pid: started.pid,
        code,
        signal,
        restart: restartTimes.length,
        of: MAX_RESTARTS,
      });
      restartTimer = setTimeout(() => {
        if (stopping) return;
        child = spawnConsumer();
        logConsumer("INFO", "consumer process restarted", { pid: child.pid });
      }, 1_000);
    });
    return started;
  };

  child = spawnConsumer();
  const first = child;
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) =>
      reject(new Error(`the consumer process exited with code ${code} before it was ready`));
    first.once("exit", onExit);
    first.on("message", function ready(message: { type?: string }) {
      if (message.type !== "ready") return;
      first.off("message", ready);
      first.off("exit", onExit);
      resolve();
    });
  }).catch(async (error: unknown) => {
    stopping = true;
    first.kill("SIGKILL");
    throw error;
  });

  return {
    get pid() {
      return child?.pid;
    },
    get restarts() {
      return restarts;
    },
    get processed() {
      return processedBefore + processed;
    },
    get failed() {
      return failedBefore + failed;
    },
    async stop() {
      stopping = true;
      clearTimeout(restartTimer);
      const running = child;
      if (!running || running.exitCode !== null || running.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => running.once("exit", () => resolve()));
      if (running.connected) running.send({ type: "stop" });
      else running.kill("SIGTERM");
      // It finishes the batches in its handler (each bounded by the function's timeout).
      const timer = setTimeout(
        () => running.kill("SIGKILL"),
        (settings.timeoutMs ?? 30_000) + 3_000,
      );
      await exited;
      clearTimeout(timer);
    },
  };
}

/**
 * This process's Node options, with tsx's loader added when it runs without
 * one (under vitest, which transforms TypeScript itself), so the child can load .ts.
 */
function typeScriptExecArgv(): string[] {
  const argv = process.execArgv;
  return argv.some((arg) => arg.includes("tsx"))
    ? argv
    : [...argv, "--import", import.meta.resolve("tsx")];
}
