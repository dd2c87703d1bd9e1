import type { ChildProcess } from "node:child_process";
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chownSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import pg from "pg";
import { freePort, processesWorkingIn, spawnLogged, stopProcess, waitUntil } from "./processes.js";
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
  /** Where the cluster lives; differs from the requested dir when the postgres user cannot reach that one. */
  readonly dir: string;
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

/**
 * The postgres user must be able to reach its directory, but a checkout may
 * sit under a folder only root can enter (mktemp -d makes 0700 folders). Then
 * the cluster goes to a folder of its own under the system temp dir, named
 * after the requested one so a restart finds the same data.
 */
function reachableDir(requested: string, user: { uid: number; gid: number } | undefined): string {
  mkdirSync(requested, { recursive: true });
  if (!user) return requested;
  chownSync(requested, user.uid, user.gid);
  const probe = spawnSync("test", ["-w", requested, "-a", "-x", requested], {
    uid: user.uid,
    gid: user.gid,
  });
  if (probe.status === 0) return requested;
  const digest = createHash("sha256").update(resolve(requested)).digest("hex").slice(0, 16);
  const fallback = join(tmpdir(), "flash-sale-postgres", digest);
  mkdirSync(fallback, { recursive: true, mode: 0o755 });
  chownSync(fallback, user.uid, user.gid);
  return fallback;
}

export async function createPostgresService(options: PostgresOptions): Promise<PostgresService> {
  const bin = postgresBinDir();
  const port = options.port ?? (await freePort());
  const database = options.database ?? "flashsale";
  const user = runAs();
  const dir = reachableDir(options.dir, user);
  const dataDir = join(dir, "data");

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
      { ...user, cwd: dir, stdio: "pipe" },
    );
  }

  const settings = [
    "-p",
    String(port),
    "-k",
    dir,
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
    dir,
    port,
    url,
    get pid() {
      return child?.pid;
    },
    async start() {
      clearStaleLocks(dir, dataDir);
      // SIGINT when we die: Postgres' fast shutdown, as stop() does.
      child = spawnLogged(
        join(bin, "postgres"),
        ["-D", dataDir, ...settings],
        join(dir, "postgres.log"),
        { ...user, cwd: dir, parentDeathSignal: "SIGINT" },
      );
      const proc = child;
      try {
        await waitUntil(`postgres on port ${port}`, () => canConnect(port), 20_000, proc);
      } catch (error) {
        // Postgres says why in its log (a port taken, a stale lock, ...): keep it in the error.
        const log = readLogTail(join(dir, "postgres.log"));
        throw new Error(`${(error as Error).message}; postgres.log ends with:\n${log}`, {
          cause: error,
        });
      }
      await ensureDatabase(port, database);
    },
    async stop(signal = "SIGINT") {
      if (child) await stopProcess(child, signal, 10_000);
      child = undefined;
    },
  };
}

/**
 * Takes over the lock files of a Postgres that is gone: postmaster.pid and the socket's
 * .s.PGSQL.<port>.lock. Postgres handles a lock whose pid is dead itself, but refuses to
 * start while the pid names any live process it may signal, also one that merely reuses
 * the pid (after a crash, pids come round again). Such a lock is removed, and only when
 * no Postgres process at all works in the data directory: backends a killed postmaster
 * left still attached to its shared memory keep the lock, which is what stops a second
 * postmaster from running over them. A postmaster still running on the data directory is
 * not ours to stop here (takeOverDir in index.ts stops the ones a recorded run started):
 * the error says what to do.
 */
function clearStaleLocks(dir: string, dataDir: string): void {
  const inDataDir = processesWorkingIn(dataDir).filter((p) => /(^|\/)postgres\b/.test(p.command));
  const postmaster = inDataDir.find((p) => /(^|\/)postgres( |$)/.test(p.command));
  if (postmaster) {
    throw new Error(
      `Postgres (pid ${postmaster.pid}: ${postmaster.command}) is still running on ${dataDir}, ` +
        "and no run recorded in this data folder started it, so it is not stopped automatically. " +
        `Stop it with \`kill -INT ${postmaster.pid}\` (fast shutdown; as root or the postgres user), ` +
        "or start with another --data-dir.",
    );
  }
  if (inDataDir.length > 0) return;
  const socketLocks = readdirSync(dir)
    .filter((name) => /^\.s\.PGSQL\.\d+\.lock$/.test(name))
    .map((name) => join(dir, name));
  for (const lock of [join(dataDir, "postmaster.pid"), ...socketLocks]) {
    let pid: number;
    try {
      pid = Number(readFileSync(lock, "utf8").split("\n")[0]);
    } catch {
      continue;
    }
    // No Postgres works in this data folder, so the lock is stale whatever its pid is now:
    // reused by another process, or a killed postmaster not yet reaped (a zombie answers
    // kill(pid, 0), so Postgres would refuse to start: "lock file already exists").
    if (Number.isInteger(pid) && pid > 0) rmSync(lock, { force: true });
  }
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
  client.on("error", () => {});
  await client.connect();
  try {
    const exists = await client.query("select 1 from pg_database where datname = $1", [database]);
    if (exists.rowCount === 0) await client.query(`create database "${database}"`);
  } finally {
    await client.end();
  }
}

function readLogTail(file: string, lines = 8): string {
  try {
    return readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}
