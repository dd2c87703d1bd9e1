import type { ChildProcess } from "node:child_process";
import { execFileSync } from "node:child_process";
import { chownSync, existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { freePort, spawnLogged, stopProcess, waitUntil } from "./processes.js";
import { postgresBinDir } from "./system-packages.js";

export interface PostgresOptions {
  dir: string;
  port?: number;
  /** fsync off: for throwaway test clusters only. */
  durable?: boolean;
  database?: string;
}

export interface PostgresService {
  readonly name: "postgres";
  readonly port: number;
  readonly url: string;
  readonly pid: number | undefined;
  start(): Promise<void>;
  /** SIGINT is Postgres' fast shutdown; SIGKILL simulates a crash. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * PostgreSQL refuses to run as root, so when we are root the cluster is
 * created and run as the `postgres` system user (Debian's package creates it),
 * which then owns the data directory.
 */
function runAs(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  return { uid, gid };
}

export async function createPostgresService(options: PostgresOptions): Promise<PostgresService> {
  const bin = postgresBinDir();
  const port = options.port ?? (await freePort());
  const database = options.database ?? "flashsale";
  const dataDir = join(options.dir, "data");
  const user = runAs();
  mkdirSync(options.dir, { recursive: true });
  if (user) chownSync(options.dir, user.uid, user.gid);

  if (!existsSync(join(dataDir, "PG_VERSION"))) {
    execFileSync(
      join(bin, "initdb"),
      [
        "-D",
        dataDir,
        "-U",
        "postgres",
        "--auth=trust",
        "--encoding=UTF8",
        "--no-sync",
        "--no-instructions",
      ],
      { ...(user ?? {}), stdio: "pipe" },
    );
  }

  const settings = [
    "-p",
    String(port),
    "-k",
    options.dir,
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    "max_connections=200",
    ...(options.durable
      ? []
      : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
  ];
  let child: ChildProcess | undefined;
  const url = `postgres://postgres@127.0.0.1:${port}/${database}`;

  return {
    name: "postgres",
    port,
    url,
    get pid() {
      return child?.pid;
    },
    async start() {
      child = spawnLogged(
        join(bin, "postgres"),
        ["-D", dataDir, ...settings],
        join(options.dir, "postgres.log"),
        user ?? {},
      );
      const proc = child;
      await waitUntil(`postgres on port ${port}`, () => canConnect(port), 20_000, proc);
      await ensureDatabase(port, database);
    },
    async stop(signal = "SIGINT") {
      if (child) await stopProcess(child, signal, 10_000);
      child = undefined;
    },
  };
}

async function canConnect(port: number): Promise<boolean> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" });
  client.on("error", () => {});
  try {
    await client.connect();
    await client.query("select 1");
    return true;
  } finally {
    await client.end().catch(() => {});
  }
}

async function ensureDatabase(port: number, database: string): Promise<void> {
  const client = new pg.Client({ host: "127.0.0.1", port, user: "postgres", database: "postgres" });
  await client.connect();
  try {
    const exists = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (exists.rowCount === 0) await client.query(`create database "${database}"`);
  } finally {
    await client.end();
  }
}
