import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { jsonClient } from "../../local/http-client.js";
import { PROJECT_ROOT } from "../../local/services/index.js";
import { isAlive } from "../../local/services/processes.js";
import {
  buyOnce,
  createSale,
  makeBuyers,
  quietPool,
  recordFault,
  Teardown,
  waitFor,
} from "./support/harness.js";

/**
 * Fault 10: the process that owns the local stack dies without stopping its
 * services (SIGKILL of `npm start`'s Node process only, not of its children),
 * and the stack is started again on the same data folder, as `npm start`
 * after a crash does. The next start must come up by itself: the services
 * the dead run left behind are stopped (or stopped themselves with their
 * parent), Postgres' lock file and Redis' files are taken over, and a buy
 * ends as a row again.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

interface StackInfo {
  url: string;
  env: Record<string, string>;
  pids: { node: number; redis: number; postgres: number; sqs: number };
}

async function startStackProcess(
  dir: string,
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; info: StackInfo; readyMs: number }> {
  const started = Date.now();
  const log = openSync(join(dir, "stack.log"), "a");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join("test", "faults", "support", "stack-process.ts"), "--dir", dir],
    {
      cwd: PROJECT_ROOT,
      detached: true,
      stdio: ["ignore", "pipe", log],
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: "ERROR", ...env },
    },
  );
  const exited = new Promise((resolve) => child.once("exit", resolve));
  teardown.add(async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill("SIGTERM");
    await Promise.race([exited, sleep(20_000)]);
  });
  const info = await new Promise<StackInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the stack did not start in 60 s")), 60_000);
    child.once("exit", (code) => {
      clearTimeout(timer);
      const tail = readFileSync(join(dir, "stack.log"), "utf8")
        .split("\n")
        .filter((line) => line.trim() && !/^\s+at /.test(line))
        .slice(-3);
      reject(new Error(`the stack exited with ${code}:\n${tail.join("\n")}`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as StackInfo);
    });
  });
  // Whatever happens, none of the services this test started outlives it.
  teardown.add(async () => {
    for (const pid of Object.values(info.pids)) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  });
  return { child, info, readyMs: Date.now() - started };
}

/** Kills the stack's Node process only: its services are left as a crash would leave them. */
async function killOwnerOnly(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(child.pid ?? 0, "SIGKILL");
  await exited;
}

/** A buy on the restarted stack answers 202 and its order becomes a row in Postgres. */
async function expectBuyBecomesRow(info: StackInfo): Promise<void> {
  const saleId = await createSale(info.url, { stock: 5 });
  const client = jsonClient(info.url, 1);
  teardown.add(async () => client.close());
  const [buyer] = await makeBuyers(1, "after-restart");
  if (!buyer) throw new Error("no buyer");
  const outcome = await buyOnce(client, saleId, buyer);
  expect(outcome.status).toBe(202);
  const db = quietPool(info.env.DATABASE_URL ?? "", 1);
  teardown.add(() => db.end());
  await waitFor(
    "the order became a row",
    async () =>
      (await db.query("SELECT 1 FROM orders WHERE order_id = $1", [outcome.orderId])).rowCount ===
      1,
    20_000,
  );
}

const services = (info: StackInfo) => [info.pids.redis, info.pids.postgres, info.pids.sqs];

describe("fault 10: npm start's process dies, its services do not; the next start recovers", () => {
  it.each([
    ["services that stop with their parent", {}],
    // As without setpriv: the services outlive their parent, so the next start must stop them.
    ["services that outlive their parent", { LOCAL_SERVICES_PARENT_DEATH_SIGNAL: "off" }],
  ])("%s", async (kind, env: Record<string, string>) => {
    const dir = join(PROJECT_ROOT, ".local", "unclean-stop", `${Date.now()}-${process.pid}`);
    mkdirSync(dir, { recursive: true });
    teardown.add(async () => rmSync(dir, { recursive: true, force: true }));

    const first = await startStackProcess(dir, env);
    await expectBuyBecomesRow(first.info);
    await killOwnerOnly(first.child);
    const orphans = services(first.info).filter(isAlive);
    if (env.LOCAL_SERVICES_PARENT_DEATH_SIGNAL === "off") {
      // The case this test is about: the dead run's services still run.
      expect(orphans).toEqual(services(first.info));
    }

    const restartedAt = Date.now();
    const second = await startStackProcess(dir);
    const recoveryMs = Date.now() - restartedAt;
    // The dead run's services are gone, the new run has its own.
    expect(services(first.info).filter(isAlive)).toEqual([]);
    for (const pid of services(second.info)) expect(services(first.info)).not.toContain(pid);
    await expectBuyBecomesRow(second.info);
    recordFault({
      fault: `10 owner SIGKILLed, ${kind}, restarted`,
      requests: 2,
      accepted: 2,
      statuses: { 202: 2 },
      rows: 2,
      released: 0,
      dlq: 0,
      repaired: 0,
      durationMs: recoveryMs,
      orphansAtRestart: orphans.length,
      firstStartMs: first.readyMs,
      restartMs: second.readyMs,
    });
  });
});
