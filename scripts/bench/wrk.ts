import { spawn, spawnSync } from "node:child_process";
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";

/**
 * Runs wrk (a C load generator, its own process) with scripts/bench/buy.lua
 * and reads the JSON summary the script writes.
 */

export interface WrkOptions {
  baseUrl: string;
  path: string;
  tokensFile: string;
  connections: number;
  durationSeconds: number;
  threads: number;
  /** Folder for the run's JSON summary. */
  workDir: string;
  /** Called once a second with the seconds elapsed. */
  onTick?: (elapsedSeconds: number) => void;
  /** Called with wrk's pid once it has started. */
  onStart?: (pid: number) => void;
}

export interface WrkResult {
  connections: number;
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  statusCounts: Record<string, number>;
  errors: { connect: number; read: number; write: number; timeout: number };
  latencyMs: { p50: number; p90: number; p99: number; p999: number; max: number; mean: number };
}

interface RawSummary {
  requests: number;
  durationUs: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  statusCounts: Record<string, number>;
  latencyUs: Record<"min" | "mean" | "max" | "p50" | "p90" | "p99" | "p999", number>;
}

const SCRIPT = join(import.meta.dirname, "buy.lua");

export function wrkAvailable(): boolean {
  return spawnSync("wrk", ["--version"], { stdio: "ignore" }).error === undefined;
}

export async function runWrk(options: WrkOptions): Promise<WrkResult> {
  const out = join(options.workDir, `wrk-${process.pid}-${Date.now()}.json`);
  const child = spawn(
    "wrk",
    [
      `-t${options.threads}`,
      `-c${options.connections}`,
      `-d${options.durationSeconds}s`,
      "--timeout",
      "5s",
      "-s",
      SCRIPT,
      options.baseUrl,
    ],
    {
      env: {
        ...process.env,
        BENCH_PATH: options.path,
        BENCH_TOKENS: options.tokensFile,
        BENCH_OUT: out,
      },
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  if (child.pid !== undefined) options.onStart?.(child.pid);
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  const started = Date.now();
  const ticker = setInterval(
    () => options.onTick?.(Math.round((Date.now() - started) / 1000)),
    1000,
  );
  // wrk stops itself after the duration; the kill is only a bound on a hung run.
  const guard = setTimeout(() => child.kill("SIGKILL"), (options.durationSeconds + 30) * 1000);
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on("error", reject);
    child.on("exit", resolve);
  }).finally(() => {
    clearInterval(ticker);
    clearTimeout(guard);
  });
  if (code !== 0) throw new Error(`wrk exited with ${code}: ${stderr.trim()}`);
  const raw = JSON.parse(readFileSync(out, "utf8")) as RawSummary;
  rmSync(out, { force: true });
  const seconds = raw.durationUs / 1e6;
  const ms = (us: number) => Math.round(us / 10) / 100;
  return {
    connections: options.connections,
    requests: raw.requests,
    seconds,
    requestsPerSecond: Math.round(raw.requests / seconds),
    statusCounts: raw.statusCounts,
    errors: {
      connect: raw.errors.connect,
      read: raw.errors.read,
      write: raw.errors.write,
      timeout: raw.errors.timeout,
    },
    latencyMs: {
      p50: ms(raw.latencyUs.p50),
      p90: ms(raw.latencyUs.p90),
      p99: ms(raw.latencyUs.p99),
      p999: ms(raw.latencyUs.p999),
      max: ms(raw.latencyUs.max),
      mean: ms(raw.latencyUs.mean),
    },
  };
}
