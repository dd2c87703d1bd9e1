import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, openSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { queueDepth } from "../../lambdas/adapters/sqs/queue-depths.js";
import type { ReconcileReport } from "../../lambdas/domain/reconcile.js";
import { jsonClient } from "../../local/http-client.js";
import { PROJECT_ROOT, RUNS_DIR } from "../../local/services/index.js";
import { isAlive } from "../../local/services/processes.js";
import { localSqsClient } from "../../local/services/sqs-server.js";
import {
  accepted,
  adminToken,
  type BuyOutcome,
  countBy,
  createSale,
  deadPids,
  makeBuyers,
  promiseViolations,
  quietPool,
  quietRedis,
  readBooks,
  recordFault,
  startLoad,
  statusCounts,
  Teardown,
  waitFor,
  whenAnswered,
} from "./support/harness.js";

/**
 * Fault 6: the whole local stack (Node with the API and the consumer, Redis,
 * Postgres, the SQS server) is SIGKILLed at once in the middle of a sale, as
 * a machine losing power would stop it, then started again on the same data.
 *
 * Redis (AOF, fsync before acknowledging), Postgres (durable) and the SQS
 * server (fauxqs 2, SQLite written through before it answers) keep what they
 * acknowledged: every accepted buy's message survives, in the queue or in
 * flight (it reappears after the visibility timeout), and the restarted
 * consumer writes its row, as SQS would keep it. What no service acknowledged
 * is a buy cut between its Redis reservation and its SQS send: its buyer got no
 * answer, and that is the case reconcile exists for: the order is still
 * reserved in Redis with all its data, and `reconcile --repair` persists it
 * once the grace period has passed and the queues are empty.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

interface StackInfo {
  url: string;
  env: Record<string, string>;
  pids: { node: number; redis: number; postgres: number; sqs: number };
}

interface StackProcess {
  child: ChildProcess;
  info: StackInfo;
  /** The stack's processes now, with Postgres' own children (they run in sessions of their own). */
  processes(): number[];
  /** Every process at once, as a power cut would. */
  kill(): void;
  stop(): Promise<void>;
}

const GRACE_SECONDS = 2;

async function startStackProcess(dir: string): Promise<StackProcess> {
  const log = openSync(join(dir, "stack.log"), "a");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join("test", "faults", "support", "stack-process.ts"), "--dir", dir],
    {
      cwd: PROJECT_ROOT,
      // A process group of its own: one signal reaches Node and every service it spawned.
      detached: true,
      stdio: ["ignore", "pipe", log],
      env: { ...process.env, POWERTOOLS_LOG_LEVEL: "ERROR" },
    },
  );
  const info = await new Promise<StackInfo>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the stack did not start in 60 s")), 60_000);
    child.once("exit", (code) => {
      // The folder goes with the teardown: keep the end of its log in the error.
      const log = readFileSync(join(dir, "stack.log"), "utf8").slice(-2_000);
      reject(new Error(`the stack exited with ${code}; ${dir}/stack.log ends with:\n${log}`));
    });
    createInterface({ input: child.stdout as NodeJS.ReadableStream }).once("line", (line) => {
      clearTimeout(timer);
      resolve(JSON.parse(line) as StackInfo);
    });
  });
  const processes = () => {
    const { node, redis, postgres, sqs } = info.pids;
    return [node, redis, postgres, sqs, ...childrenOf(postgres)];
  };
  const kill = () => {
    const victims = processes();
    process.kill(-(child.pid ?? 0), "SIGKILL");
    for (const pid of victims) if (isAlive(pid)) process.kill(pid, "SIGKILL");
  };
  return {
    child,
    info,
    processes,
    kill,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGTERM");
      await Promise.race([exited, sleep(20_000)]);
      if (child.exitCode === null && child.signalCode === null) kill();
    },
  };
}

function childrenOf(parent: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, "utf8");
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      if (ppid === parent) children.push(Number(entry));
    } catch {
      // the process ended meanwhile
    }
  }
  return children;
}

describe("fault 6: the whole local stack is SIGKILLed mid-sale and started again", () => {
  it("keeps every accepted order: after restart, reconcile names exactly what it must repair, and repairs it", async () => {
    const started = Date.now();
    const dir = join(RUNS_DIR, `${Date.now()}-fault6`);
    mkdirSync(dir, { recursive: true });
    teardown.add(async () => rmSync(dir, { recursive: true, force: true }));
    const allPids: number[] = [];

    const first = await startStackProcess(dir);
    teardown.add(() => first.stop());
    const stock = 250;
    const saleId = await createSale(first.info.url, { stock });
    const load = startLoad({
      url: first.info.url,
      saleId,
      buyers: await makeBuyers(500),
      concurrency: 24,
      workerIntervalMs: 40,
    });
    await whenAnswered(load, 150);
    load.stop();
    allPids.push(...first.processes());
    first.kill();
    const killedAt = Date.now();
    const beforeKill = await load.done;
    await waitFor("every process of the stack gone", async () => deadPids(allPids), 15_000, 50);

    // Start again on the same data; the reaper must not take the folder for an orphaned run.
    rmSync(join(dir, "owner.pid"), { force: true });
    const second = await startStackProcess(dir);
    teardown.add(() => second.stop());
    allPids.push(...second.processes());
    const { env } = second.info;
    const redis = quietRedis(env.REDIS_URL ?? "");
    teardown.add(async () => redis.disconnect());
    const db = quietPool(env.DATABASE_URL ?? "");
    teardown.add(() => db.end());
    const sqs = localSqsClient(env.SQS_ENDPOINT ?? "");
    teardown.add(async () => sqs.destroy());

    const acceptedBefore = accepted(beforeKill);
    const unanswered = new Set(beforeKill.filter((o) => o.status === 0).map((o) => o.user));
    // The messages kept through the kill (queued, or in flight until their visibility
    // timeout ends) reach the restarted consumer: wait until the orders queue is empty.
    const queued = await queueDepth(sqs, env.ORDERS_QUEUE_URL ?? "");
    await waitFor(
      "the restarted consumer drained the messages kept through the kill",
      async () => (await queueDepth(sqs, env.ORDERS_QUEUE_URL ?? "")) === 0,
      30_000,
    );
    const afterRestart = await readBooks(redis, db, saleId);
    const inRedis = new Set(afterRestart.orders.map((o) => o.orderId));
    const rowIds = new Set(afterRestart.rows.map((r) => r.orderId));
    // What reconcile has to find: orders Redis holds (not released) that have no row.
    const expected = afterRestart.orders
      .filter((o) => o.state !== "released" && !rowIds.has(o.orderId))
      .map((o) => o.orderId)
      .sort();

    // Reservations younger than the grace period could still be in flight; wait it out.
    await sleep(Math.max(0, killedAt + GRACE_SECONDS * 1000 + 200 - Date.now()));
    const client = jsonClient(second.info.url, 4);
    teardown.add(async () => client.close());
    const admin = { authorization: `Bearer ${await adminToken()}` };
    const reconcile = async (repair: boolean) => {
      const reply = await client.call("POST", `/admin/sales/${saleId}/reconcile`, {
        headers: admin,
        body: { repair, graceSeconds: GRACE_SECONDS },
      });
      expect(reply.status).toBe(200);
      return reply.body as ReconcileReport;
    };
    const found = await reconcile(false);
    const repaired = await reconcile(true);
    const clean = await reconcile(false);

    // Sales continue on the restarted stack.
    const later = await startLoad({
      url: second.info.url,
      saleId,
      buyers: await makeBuyers(60, "after"),
      concurrency: 8,
    }).done;
    const all: BuyOutcome[] = [...beforeKill, ...later];
    const acceptedCount = accepted(all).length;
    const expectedRows = afterRestart.rows.length + expected.length + accepted(later).length;
    await waitFor(
      "the restarted stack persisted the new orders",
      async () =>
        (await queueDepth(sqs, env.ORDERS_QUEUE_URL ?? "")) === 0 &&
        (await db.query("SELECT count(*)::int AS n FROM orders WHERE sale_id = $1", [saleId]))
          .rows[0].n >= expectedRows,
      30_000,
    );
    const books = await readBooks(redis, db, saleId);
    const final = await reconcile(false);

    recordFault({
      fault: "6 whole stack SIGKILLed mid-sale, restarted",
      requests: all.length,
      accepted: acceptedCount,
      statuses: statusCounts(all),
      rows: books.rows.length,
      released: books.byState.released,
      dlq: final.queues.dlq,
      repaired: repaired.issues.filter((i) => i.repaired).length,
      durationMs: Date.now() - started,
      acceptedBeforeKill: acceptedBefore.length,
      unansweredAtKill: unanswered.size,
      queuedAtRestart: queued,
      rowsAfterDrain: afterRestart.rows.length,
      reconcileFound: countBy(found.issues, (i) => i.kind),
      repairedForUnansweredBuys: repaired.issues.filter((i) =>
        unanswered.has(afterRestart.orders.find((o) => o.orderId === i.orderId)?.userId ?? ""),
      ).length,
      acceptedAfterRestart: accepted(later).length,
      processesKilled: allPids.length,
    });

    // Redis kept every accepted order through the kill...
    expect(acceptedBefore.filter((o) => !inRedis.has(o.orderId ?? ""))).toEqual([]);
    // ...and the SQS server its message: each is a row before any repair.
    expect(acceptedBefore.filter((o) => !rowIds.has(o.orderId ?? ""))).toEqual([]);
    // So what reconcile repairs are only buys that got no answer at the kill.
    for (const orderId of expected) {
      const order = afterRestart.orders.find((o) => o.orderId === orderId);
      expect(unanswered.has(order?.userId ?? ""), orderId).toBe(true);
    }
    // Reconcile names exactly the orders without a row, only with the kinds it can repair...
    expect(found.issues.map((i) => i.orderId).sort()).toEqual(expected);
    for (const issue of found.issues)
      expect(["STALE_RESERVATION", "CONFIRMED_WITHOUT_ROW"]).toContain(issue.kind);
    // ...repairs exactly those...
    expect(repaired.issues.map((i) => [i.orderId, i.repaired]).sort()).toEqual(
      expected.map((id) => [id, true]),
    );
    expect(repaired.clean).toBe(true);
    // ...and afterwards the books are clean, also after the sale went on.
    expect(clean.issues).toEqual([]);
    expect(final.issues).toEqual([]);
    expect(accepted(later).length).toBeGreaterThan(0);
    // Every accepted buy is exactly one row; other rows only for buys that got no answer.
    expect(promiseViolations(books, all, { unanswered })).toEqual([]);
    expect(books.sold).toBe(books.rowUnits);
    expect(books.sold).toBeLessThanOrEqual(stock);

    await teardown.run();
    expect(deadPids(allPids)).toBe(true);
  });
});
