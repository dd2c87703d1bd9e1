import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { AutoRepairReport } from "../../lambdas/domain/auto-repair.js";
import { jsonClient } from "../../local/http-client.js";
import { PROJECT_ROOT, startTcpProxy, type TcpProxy } from "../../local/services/index.js";
import { startSchedule } from "../../local/stack.js";
import {
  accepted,
  buyOnce,
  createSale,
  drained,
  makeBuyers,
  readBooks,
  recordFault,
  startRig,
  Teardown,
  waitFor,
} from "./support/harness.js";

/**
 * Fault 14: a buy function dies between its Redis reservation and its SQS
 * send (a timeout, an out-of-memory kill), and nobody runs reconcile.
 *
 * A process with the real buy handler (test/faults/support/buy-then-die.ts)
 * reserves for 12 buyers while its SQS endpoint never answers, and is
 * SIGKILLed once Redis holds all 12 reservations: no message, no release, no
 * answer. Meanwhile ordinary buys go through the API and the consumer. The
 * scheduled repair (the real repair-orders handler on the local stack's timer,
 * as EventBridge runs it every minute in AWS) finishes the 12 once their grace
 * period has passed: each becomes exactly one row, stock stays exact.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

const KILLED = 12;
const GRACE_SECONDS = 2;

describe("fault 14: the buy path is killed between the reservation and the send", () => {
  it("the order becomes a row without anyone running reconcile", async () => {
    const started = Date.now();
    let blackhole: TcpProxy | undefined;
    const rig = await startRig(teardown, {
      env: () => ({
        REPAIR_GRACE_SECONDS: String(GRACE_SECONDS),
        REPAIR_LOCK_TTL_SECONDS: "30",
      }),
      beforeApp: async (services) => {
        // An SQS endpoint that accepts connections and never answers, for the doomed container only.
        blackhole = await startTcpProxy({ targetPort: services.sqs?.port ?? 0 });
        blackhole.setMode("blackhole");
        const proxy = blackhole;
        teardown.add(() => proxy.stop());
      },
    });
    const { app, redis, db, sqs, services } = rig;
    rig.startConsumer(app.consume);
    const saleId = await createSale(app.url, { stock: 100 });

    // The doomed container: reserves, hangs in its send, is killed.
    const child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        join("test", "faults", "support", "buy-then-die.ts"),
        "--sale",
        saleId,
        "--count",
        String(KILLED),
      ],
      {
        cwd: PROJECT_ROOT,
        stdio: ["ignore", "ignore", "inherit"],
        env: {
          ...process.env,
          ...rig.env,
          SQS_ENDPOINT: blackhole?.url ?? "",
          SQS_CONNECT_TIMEOUT_MS: "30000",
          SQS_REQUEST_TIMEOUT_MS: "30000",
          POWERTOOLS_LOG_LEVEL: "ERROR",
        },
      },
    );
    teardown.add(async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    });
    await waitFor(
      "the doomed container holds its reservations",
      async () => (await readBooks(redis, db, saleId)).byState.reserved >= KILLED,
      30_000,
    );
    child.kill("SIGKILL");
    const killedAt = Date.now();
    await new Promise((resolve) => child.once("exit", resolve));
    const atKill = await readBooks(redis, db, saleId);
    expect(atKill.byState.reserved).toBe(KILLED);
    expect(atKill.rows).toHaveLength(0);

    // Ordinary buyers keep buying through the API while the orders wait.
    const buyers = await makeBuyers(30, "live");
    const client = jsonClient(app.url, 8);
    teardown.add(async () => client.close());
    const live = await Promise.all(buyers.map((buyer) => buyOnce(client, saleId, buyer)));
    expect(accepted(live)).toHaveLength(30);

    // The scheduled repair, as `npm start` runs it: nobody calls reconcile.
    const reports: AutoRepairReport[] = [];
    const repair = await startSchedule(
      "repair-orders",
      async () => {
        const { handler } = await import("../../lambdas/handlers/repair-orders.js");
        return async (event, context) => void reports.push(await handler(event, context));
      },
      500,
    );
    teardown.add(() => repair.stop());

    await waitFor(
      "the doomed container holds its reservations",
      async () => (await readBooks(redis, db, saleId)).rows.length === 30 + KILLED,
      30_000,
    );
    const rowAt = Date.now();
    await repair.stop();
    await drained(sqs, services.sqs?.ordersQueueUrl ?? "");

    const books = await readBooks(redis, db, saleId);
    const killedIds = atKill.orders.map((o) => o.orderId).sort();
    const rowIds = new Set(books.rows.map((r) => r.orderId));
    expect(killedIds.every((id) => rowIds.has(id))).toBe(true);
    expect(books.duplicateRows).toBe(0);
    expect(books.rows).toHaveLength(30 + KILLED);
    expect(books.remaining).toBe(100 - 30 - KILLED);
    expect(books.byState).toEqual({ reserved: 0, confirmed: 30 + KILLED, released: 0 });
    // Nothing was repaired before the grace period ended...
    expect(rowAt - killedAt).toBeGreaterThanOrEqual(GRACE_SECONDS * 1000 - 1000);
    // ...then exactly the killed buys, once (the live ones were the consumer's).
    const repaired = reports.reduce((sum, r) => sum + r.repaired, 0);
    expect(repaired).toBe(KILLED);
    const busy = reports.filter((r) => r.repaired > 0);
    const report = await rig.reconcile(saleId, { repair: false, graceMs: 0 });
    expect(report.clean).toBe(true);

    recordFault({
      fault: "14 buy killed between reservation and send",
      requests: KILLED + 30,
      accepted: 30,
      statuses: { "202": 30, unanswered: KILLED },
      rows: books.rows.length,
      released: books.byState.released,
      dlq: report.queues.dlq,
      repaired,
      durationMs: Date.now() - started,
      runs: reports.length,
      repairRun: busy.map((r) => ({
        staleFound: r.staleFound,
        repaired: r.repaired,
        backlog: r.backlog,
        durationMs: r.durationMs,
      })),
      rowsAfterKillMs: rowAt - killedAt,
    });
  });
});
