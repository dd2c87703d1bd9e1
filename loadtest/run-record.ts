import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/**
 * What a load run leaves behind for the verifier, in loadtest/.runs/<saleId>/
 * (git-ignored): run.json (target, sale, stock, limit, identity source) and
 * accepted.ndjson (one line per 202: order id, buyer, quantity), appended by
 * the artillery processor as answers arrive. loadtest/.runs/latest.json
 * points at the newest run.
 */

export interface RunInfo {
  scenario: string;
  target: string;
  saleId: string;
  stock: number;
  perUserLimit: number;
  identity: "local" | "tokens";
  createdSale: boolean;
  startedAt: string;
  runDir: string;
}

export interface AcceptedOrder {
  orderId: string;
  userId: string;
  quantity: number;
  tokenIndex?: number;
}

export function startRun(runsDir: string, info: Omit<RunInfo, "runDir">): RunInfo {
  const runDir = join(runsDir, info.saleId);
  mkdirSync(runDir, { recursive: true });
  const run = { ...info, runDir };
  writeFileSync(join(runDir, "run.json"), `${JSON.stringify(run, null, 2)}\n`);
  writeFileSync(join(runsDir, "latest.json"), `${JSON.stringify({ runDir }, null, 2)}\n`);
  return run;
}

export function appendAccepted(runDir: string, order: AcceptedOrder): void {
  // One synchronous O_APPEND write per line: lines from several workers never interleave.
  appendFileSync(join(runDir, "accepted.ndjson"), `${JSON.stringify(order)}\n`);
}

export function readRun(runDir: string): { info: RunInfo; accepted: AcceptedOrder[] } {
  const info = JSON.parse(readFileSync(join(runDir, "run.json"), "utf8")) as RunInfo;
  const file = join(runDir, "accepted.ndjson");
  const accepted = existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((line) => line.trim() !== "")
        .map((line) => JSON.parse(line) as AcceptedOrder)
    : [];
  return { info, accepted };
}

/** The newest run's folder, or undefined when no run has been recorded. */
export function latestRunDir(runsDir: string): string | undefined {
  const pointer = join(runsDir, "latest.json");
  if (!existsSync(pointer)) return undefined;
  return (JSON.parse(readFileSync(pointer, "utf8")) as { runDir: string }).runDir;
}
