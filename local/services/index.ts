import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createPostgresService, type PostgresService } from "./postgres-server.js";
import { commandLine, isSameProcess, startTicks, stopRecordedProcess } from "./processes.js";
import { createRedisService, type RedisService } from "./redis-server.js";
import {
  createSqsService,
  LOCAL_AWS_ENV,
  type QueueSettings,
  type SqsService,
} from "./sqs-server.js";

/**
 * The one place that starts and stops the real services (Redis, Postgres, the
 * SQS server) on free ports. Tests, `npm start`, benchmarks and the fault
 * suite all go through it.
 *
 * Each run gets a folder under `.local/runs/` (git-ignored) holding the
 * services' data, logs and an `owner.pid`; a run whose owner died without
 * cleaning up (SIGKILL) is reaped by the next start, so no service outlives
 * its owner for long.
 *
 * `owner.pid` records the owner and each service process (pid, start time from
 * /proc/<pid>/stat, command, graceful stop signal) as soon as it is spawned. A
 * start on a folder a dead run left (`npm start` on .local/stack after a crash)
 * first stops what that run recorded and is still the very same process
 * (takeOverDir), keeping the data. Services also get a parent-death signal
 * (spawnLogged), so most of them stop by themselves when their owner is killed.
 */

export const PROJECT_ROOT = resolve(import.meta.dirname, "../..");
export const RUNS_DIR = join(PROJECT_ROOT, ".local", "runs");

export interface ServicesOptions {
  /** Folder for data and logs; default a fresh folder under .local/runs. */
  dir?: string;
  ports?: { redis?: number; postgres?: number; sqs?: number };
  /** Which services to run; default all three. */
  only?: Array<"redis" | "postgres" | "sqs">;
  /** Durable settings (Redis AOF, Postgres fsync, SQS in SQLite) as the local stack uses; tests run without. */
  durable?: boolean;
  queues?: Partial<QueueSettings>;
}

export interface LocalServices {
  readonly dir: string;
  readonly redis: RedisService | undefined;
  readonly postgres: PostgresService | undefined;
  readonly sqs: SqsService | undefined;
  /** Environment for the handlers (the same variables the CDK stack sets in AWS). */
  env(): Record<string, string>;
  /** Stops every service; with removeData, deletes their folders too. */
  stop(options?: { removeData?: boolean }): Promise<void>;
}

type AnyService = RedisService | PostgresService | SqsService;

export async function startLocalServices(options: ServicesOptions = {}): Promise<LocalServices> {
  const dir = resolve(options.dir ?? join(RUNS_DIR, `${Date.now()}-${process.pid}`));
  // First the folder we start on (its data is kept), then other dead runs (their data goes).
  await takeOverDir(dir);
  reapOrphanedRuns({ except: dir });
  mkdirSync(dir, { recursive: true });
  const wanted = new Set(options.only ?? ["redis", "postgres", "sqs"]);

  const redis = wanted.has("redis")
    ? await createRedisService({
        dir: join(dir, "redis"),
        port: options.ports?.redis,
        persistent: options.durable,
      })
    : undefined;
  const postgres = wanted.has("postgres")
    ? await createPostgresService({
        dir: join(dir, "postgres"),
        port: options.ports?.postgres,
        durable: options.durable,
      })
    : undefined;
  const sqs = wanted.has("sqs")
    ? await createSqsService({
        dir: join(dir, "sqs"),
        port: options.ports?.sqs,
        queues: options.queues,
        persistent: options.durable,
      })
    : undefined;
  const services = [redis, postgres, sqs].filter(
    (s): s is NonNullable<typeof s> => s !== undefined,
  );

  const dataDirs = [dir, ...(postgres && !postgres.dir.startsWith(dir) ? [postgres.dir] : [])];
  const stopAll = async (stopOptions: { removeData?: boolean } = {}) => {
    await Promise.allSettled(services.map((service) => service.stop()));
    rmSync(join(dir, "owner.pid"), { force: true });
    if (stopOptions.removeData) {
      for (const data of dataDirs) rmSync(data, { recursive: true, force: true });
    }
  };
  // start() spawns its process before its first await: every pid is known once the
  // calls return, and recorded before anything can go wrong while they get ready.
  const starting = services.map((service) => service.start());
  writeOwner(dir, services, dataDirs);
  try {
    await Promise.all(starting);
  } catch (error) {
    await stopAll();
    throw error;
  }

  return {
    dir,
    redis,
    postgres,
    sqs,
    env() {
      return {
        ...LOCAL_AWS_ENV,
        ...(redis ? { REDIS_URL: redis.url } : {}),
        ...(postgres ? { DATABASE_URL: postgres.url } : {}),
        ...(sqs
          ? {
              SQS_ENDPOINT: sqs.endpoint,
              ORDERS_QUEUE_URL: sqs.ordersQueueUrl,
              ORDERS_DLQ_URL: sqs.deadLetterQueueUrl,
            }
          : {}),
      };
    },
    stop: stopAll,
  };
}

/** How each service is stopped gracefully: Redis writes its AOF on SIGTERM; SIGINT is Postgres' fast shutdown. */
const SERVICE_PROCESS: Record<AnyService["name"], { command: string; signal: NodeJS.Signals }> = {
  redis: { command: "redis-server", signal: "SIGTERM" },
  postgres: { command: "postgres", signal: "SIGINT" },
  sqs: { command: "node local/services/fauxqs-launcher.mjs", signal: "SIGTERM" },
};

interface RecordedProcess {
  name: string;
  pid: number;
  /** Start time (clock ticks since boot): with the pid, names this one process for good. */
  started: number | undefined;
  command: string;
  signal: NodeJS.Signals;
}

interface OwnerRecord {
  owner: number;
  ownerStarted?: number;
  ownerCommand?: string;
  pids: number[];
  started?: Record<string, number | undefined>;
  processes?: RecordedProcess[];
  dataDirs?: string[];
}

function writeOwner(dir: string, services: AnyService[], dataDirs: string[]): void {
  const processes: RecordedProcess[] = services.flatMap((service) =>
    service.pid === undefined
      ? []
      : [
          {
            name: service.name,
            pid: service.pid,
            started: startTicks(service.pid),
            ...SERVICE_PROCESS[service.name],
          },
        ],
  );
  const record: OwnerRecord = {
    owner: process.pid,
    ownerStarted: startTicks(process.pid),
    ownerCommand: commandLine(process.pid),
    pids: processes.map((p) => p.pid),
    started: Object.fromEntries(processes.map((p) => [p.pid, p.started])),
    processes,
    dataDirs,
  };
  writeFileSync(join(dir, "owner.pid"), JSON.stringify(record));
}

function readOwner(dir: string): OwnerRecord | undefined {
  try {
    return JSON.parse(readFileSync(join(dir, "owner.pid"), "utf8")) as OwnerRecord;
  } catch {
    return undefined;
  }
}

/**
 * Makes `dir` ours before a start: when the run recorded in it is dead (its owner was
 * killed, e.g. `npm start` SIGKILLed), stops every service process it recorded that is
 * still the same process (pid and start time), gracefully first, then SIGKILL after a
 * grace period. The data stays. A live owner means another stack uses the folder: that
 * one is not ours to stop, and the error says what to do.
 */
export async function takeOverDir(dir: string, graceMs = 10_000): Promise<void> {
  const record = readOwner(dir);
  if (!record) return;
  if (isSameProcess(record.owner, record.ownerStarted)) {
    const command = commandLine(record.owner) || record.ownerCommand || "?";
    throw new Error(
      `${dir} is in use by a running stack: pid ${record.owner} (${command}). ` +
        `Stop that one first (Ctrl-C in its terminal, or \`kill ${record.owner}\`), ` +
        "or start this one with another --data-dir.",
    );
  }
  const processes: RecordedProcess[] =
    record.processes ??
    record.pids.map((pid) => ({
      name: "service",
      pid,
      started: record.started?.[pid],
      command: "?",
      signal: "SIGTERM" as const,
    }));
  const results = await Promise.allSettled(
    processes.map(async (recorded) => {
      // Without a recorded start time we cannot tell it from a process that reuses the pid.
      if (recorded.started === undefined) return;
      await stopRecordedProcess(recorded.pid, recorded.started, recorded.signal, graceMs);
    }),
  );
  const failed = results.flatMap((result, i) =>
    result.status === "rejected" ? [{ recorded: processes[i], error: result.reason }] : [],
  );
  if (failed.length > 0) {
    const list = failed
      .map(
        ({ recorded, error }) =>
          `${recorded?.name} pid ${recorded?.pid} (${recorded?.command}): ${String(error)}`,
      )
      .join("; ");
    throw new Error(
      `could not stop what the previous run in ${dir} left running: ${list}. ` +
        `Stop them yourself (\`sudo kill -9 ${failed.map(({ recorded }) => recorded?.pid).join(" ")}\`), then start again.`,
    );
  }
  rmSync(join(dir, "owner.pid"), { force: true });
}

/** Kills services left behind by runs whose owner process no longer exists, and deletes their data. */
export function reapOrphanedRuns(options: { except?: string } = {}): void {
  let runs: string[];
  try {
    runs = readdirSync(RUNS_DIR);
  } catch {
    return;
  }
  for (const run of runs) {
    const runDir = join(RUNS_DIR, run);
    if (options.except && resolve(runDir) === resolve(options.except)) continue;
    let record: OwnerRecord;
    try {
      record = JSON.parse(readFileSync(join(runDir, "owner.pid"), "utf8"));
    } catch {
      // No owner file: a finished run. Its data is only worth keeping briefly.
      const started = Number(run.split("-")[0]);
      if (Number.isFinite(started) && Date.now() - started > 3600_000)
        rmSync(runDir, { recursive: true, force: true });
      continue;
    }
    if (isSameProcess(record.owner, record.ownerStarted)) continue;
    for (const pid of record.pids) {
      // Only the very process that was started: a reused pid belongs to someone else.
      if (isSameProcess(pid, record.started?.[pid])) process.kill(pid, "SIGKILL");
    }
    for (const data of record.dataDirs ?? []) rmSync(data, { recursive: true, force: true });
    rmSync(runDir, { recursive: true, force: true });
  }
}

export { type ProxyMode, type ProxyStats, startTcpProxy, type TcpProxy } from "./tcp-proxy.js";
