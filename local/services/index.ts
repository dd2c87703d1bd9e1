import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { createPostgresService, type PostgresService } from "./postgres-server.js";
import { isSameProcess, startTicks } from "./processes.js";
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
 */

export const PROJECT_ROOT = resolve(import.meta.dirname, "../..");
export const RUNS_DIR = join(PROJECT_ROOT, ".local", "runs");

export interface ServicesOptions {
  /** Folder for data and logs; default a fresh folder under .local/runs. */
  dir?: string;
  ports?: { redis?: number; postgres?: number; sqs?: number };
  /** Which services to run; default all three. */
  only?: Array<"redis" | "postgres" | "sqs">;
  /** Durable settings (Redis AOF, Postgres fsync) as the local stack uses; tests run without. */
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
  reapOrphanedRuns();
  const dir = options.dir ?? join(RUNS_DIR, `${Date.now()}-${process.pid}`);
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
  try {
    await Promise.all(services.map((service) => service.start()));
  } catch (error) {
    await stopAll();
    throw error;
  }
  writeOwner(dir, services, dataDirs);

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

function writeOwner(dir: string, services: AnyService[], dataDirs: string[]): void {
  const pids = services.map((service) => service.pid).filter((pid) => pid !== undefined);
  const started = Object.fromEntries(pids.map((pid) => [pid, startTicks(pid)]));
  writeFileSync(
    join(dir, "owner.pid"),
    JSON.stringify({
      owner: process.pid,
      ownerStarted: startTicks(process.pid),
      pids,
      started,
      dataDirs,
    }),
  );
}

/** Kills services left behind by runs whose owner process no longer exists. */
export function reapOrphanedRuns(): void {
  let runs: string[];
  try {
    runs = readdirSync(RUNS_DIR);
  } catch {
    return;
  }
  for (const run of runs) {
    const runDir = join(RUNS_DIR, run);
    let record: {
      owner: number;
      ownerStarted?: number;
      pids: number[];
      started?: Record<string, number | undefined>;
      dataDirs?: string[];
    };
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
