import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import {
  closeSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  realpathSync,
} from "node:fs";
import { createServer, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { findOnPath } from "./system-packages.js";

/** Helpers to run a service as a child process with its output in a log file. */

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => {
        if (address && typeof address === "object") resolve(address.port);
        else reject(new Error("could not obtain a free port"));
      });
    });
  });
}

/**
 * Spawns a service with its output appended to `logFile`. With `parentDeathSignal`,
 * the kernel sends it that signal when this process dies, however it dies (SIGKILL
 * included): util-linux's `setpriv --pdeathsig` sets it and then execs the command,
 * so the pid, start time and process are the service's own. Without setpriv (or with
 * LOCAL_SERVICES_PARENT_DEATH_SIGNAL=off) services outlive a killed parent until the
 * next start stops them (see takeOverDir in index.ts).
 *
 * Linux sends the signal when the *thread* that spawned the child ends: spawn
 * services from a process's main thread (as `npm start` and the vitest forks do).
 */
export function spawnLogged(
  command: string,
  args: string[],
  logFile: string,
  options: SpawnOptions & { parentDeathSignal?: NodeJS.Signals } = {},
): ChildProcess {
  const { parentDeathSignal, ...spawnOptions } = options;
  const setpriv = parentDeathSignal ? parentDeathWrapper() : undefined;
  const [file, argv] =
    setpriv && parentDeathSignal
      ? [setpriv, ["--pdeathsig", parentDeathSignal, "--", command, ...args]]
      : [command, args];
  const log = openSync(logFile, "a");
  try {
    return spawn(file, argv, { ...spawnOptions, stdio: ["ignore", log, log] });
  } finally {
    closeSync(log);
  }
}

let setprivPath: string | null | undefined;
function parentDeathWrapper(): string | undefined {
  if (process.env.LOCAL_SERVICES_PARENT_DEATH_SIGNAL === "off") return undefined;
  if (process.platform !== "linux") return undefined;
  setprivPath ??= findOnPath("setpriv") ?? null;
  return setprivPath ?? undefined;
}

export async function waitUntil(
  description: string,
  probe: () => Promise<boolean>,
  timeoutMs: number,
  child?: ChildProcess,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child && child.exitCode !== null) {
      throw new Error(`${description}: process exited with code ${child.exitCode}`);
    }
    if (await probe().catch(() => false)) return;
    await sleep(25);
  }
  throw new Error(`${description}: not ready after ${timeoutMs} ms`);
}

export function tcpAccepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = new Socket();
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.connect(port, "127.0.0.1");
  });
}

/** Sends `signal`, then SIGKILL if the process is still alive after `graceMs`. */
export async function stopProcess(
  child: ChildProcess,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 5_000,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * When a process started (clock ticks since boot, field 22 of /proc/<pid>/stat),
 * or undefined off Linux. With the pid it names one process for good: pids are
 * reused (they wrap at 32768 here), start times with them are not.
 */
export function startTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces; fields after it are plain.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[19]);
  } catch {
    return undefined;
  }
}

/** Alive and, when its start time was recorded, still the same process. */
export function isSameProcess(pid: number, started: number | undefined): boolean {
  if (!isAlive(pid)) return false;
  return started === undefined || startTicks(pid) === started;
}

/** The process exists and has not ended: a zombie (ended, not yet reaped by its parent) counts as gone. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: it exists, but belongs to someone we may not signal.
    if ((error as NodeJS.ErrnoException).code !== "EPERM") return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    return process.platform !== "linux";
  }
}

/** The command line of a process ("" when it is gone or hidden). */
export function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/**
 * Stops the very process (pid, start time) that was recorded: `signal`, then SIGKILL
 * after `graceMs`; resolves once it is gone. Nothing happens when the pid is gone or
 * now names another process, so a reused pid is never signalled.
 */
export async function stopRecordedProcess(
  pid: number,
  started: number,
  signal: NodeJS.Signals = "SIGTERM",
  graceMs = 10_000,
): Promise<"gone" | "stopped" | "killed"> {
  if (!isSameProcess(pid, started)) return "gone";
  process.kill(pid, signal);
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!isSameProcess(pid, started)) return "stopped";
    await sleep(25);
  }
  if (isSameProcess(pid, started)) process.kill(pid, "SIGKILL");
  const killDeadline = Date.now() + 5_000;
  while (isSameProcess(pid, started) && Date.now() < killDeadline) await sleep(25);
  if (isSameProcess(pid, started)) throw new Error(`pid ${pid} survived SIGKILL`);
  return "killed";
}

/**
 * Live processes whose working directory is `dir`, other than this one. Redis and
 * Postgres chdir to their data directory, so this finds a server still using a folder
 * even when no record says who started it.
 */
export function processesWorkingIn(dir: string): Array<{ pid: number; command: string }> {
  let target: string;
  try {
    target = realpathSync(dir);
  } catch {
    return [];
  }
  const found: Array<{ pid: number; command: string }> = [];
  let entries: string[];
  try {
    entries = readdirSync("/proc");
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      if (readlinkSync(`/proc/${entry}/cwd`) !== target) continue;
    } catch {
      continue;
    }
    const pid = Number(entry);
    if (isAlive(pid)) found.push({ pid, command: commandLine(pid) });
  }
  return found;
}
