import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";
import { createServer, Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

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

export function spawnLogged(
  command: string,
  args: string[],
  logFile: string,
  options: SpawnOptions = {},
): ChildProcess {
  const log = openSync(logFile, "a");
  try {
    return spawn(command, args, { ...options, stdio: ["ignore", log, log] });
  } finally {
    closeSync(log);
  }
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

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
