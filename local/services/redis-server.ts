import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { Redis } from "ioredis";
import { freePort, processesWorkingIn, spawnLogged, stopProcess, waitUntil } from "./processes.js";
import { requireBinary } from "./system-packages.js";

export interface RedisOptions {
  dir: string;
  port?: number;
  /**
   * Append-only file, fsynced before each write is acknowledged (`appendfsync always`):
   * what the local stack runs with. Tests run without. `everysec` would lose up to a
   * second of acknowledged reservations on a machine crash (a process crash loses
   * nothing either way: the written AOF survives in the page cache); at the buy path's
   * rate the group-committed fsync costs little (see the commit that chose it).
   */
  persistent?: boolean;
  /** A node of a Redis Cluster (see redis-cluster.ts). */
  cluster?: boolean;
}

export interface RedisService {
  readonly name: "redis";
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  start(): Promise<void>;
  /** Graceful (SIGTERM: Redis writes its AOF and exits) or abrupt (SIGKILL). */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

export async function createRedisService(options: RedisOptions): Promise<RedisService> {
  const binary = requireBinary("redis-server");
  const port = options.port ?? (await freePort());
  mkdirSync(options.dir, { recursive: true });
  const persistence = options.persistent
    ? ["--appendonly", "yes", "--appendfsync", "always", "--save", ""]
    : ["--appendonly", "no", "--save", ""];
  const args = [
    "--port",
    String(port),
    "--bind",
    "127.0.0.1",
    "--dir",
    options.dir,
    "--daemonize",
    "no",
    "--protected-mode",
    "yes",
    "--loglevel",
    "warning",
    ...persistence,
    ...(options.cluster
      ? ["--cluster-enabled", "yes", "--cluster-config-file", join(options.dir, "nodes.conf")]
      : []),
  ];
  let child: ChildProcess | undefined;

  const service: RedisService = {
    name: "redis",
    port,
    url: `redis://127.0.0.1:${port}`,
    get pid() {
      return child?.pid;
    },
    async start() {
      // Two servers appending to one AOF would corrupt it. Redis keeps no lock file when
      // not daemonized; a killed one leaves at most a truncated AOF tail, which it loads
      // (aof-load-truncated, the default). A server still running here must be stopped.
      const other = processesWorkingIn(options.dir).find((p) => p.command.includes("redis-server"));
      if (other) {
        throw new Error(
          `redis-server (pid ${other.pid}: ${other.command}) is still running on ${options.dir}, ` +
            "and no run recorded in this data folder started it, so it is not stopped automatically. " +
            `Stop it with \`kill ${other.pid}\` (it writes its append-only file and exits), ` +
            "or start with another --data-dir.",
        );
      }
      child = spawnLogged(binary, args, join(options.dir, "redis.log"), {
        parentDeathSignal: "SIGTERM",
      });
      const proc = child;
      await waitUntil(`redis-server on port ${port}`, () => pingRedis(port), 30_000, proc);
    },
    async stop(signal = "SIGTERM") {
      if (child) await stopProcess(child, signal);
      child = undefined;
    },
  };
  return service;
}

async function pingRedis(port: number): Promise<boolean> {
  const client = new Redis({
    port,
    host: "127.0.0.1",
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
  });
  client.on("error", () => {});
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } finally {
    client.disconnect();
  }
}
