import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { runDemo } from "../../local/demo.js";
import { runHoldDemo } from "../../local/hold-demo.js";
import { PROJECT_ROOT, RUNS_DIR } from "../../local/services/index.js";
import { isAlive } from "../../local/services/processes.js";
import { startStack } from "../../local/stack.js";

describe("the embedded local stack", () => {
  it("boots on free ports, sells a small sale over HTTP, and every accepted order becomes a row", async () => {
    const stack = await startStack({ port: 0, consumer: { batchSize: 10, batchingWindowMs: 20 } });
    try {
      const summary = await runDemo({ url: stack.url, env: stack.env, stock: 20, buyers: 200 });
      expect(summary).toMatchObject({
        accepted: 20,
        refused: { SOLD_OUT: 180 },
        otherStatuses: {},
        sold: 20,
        oversold: 0,
        rows: 20,
        ok: true,
      });
      // The system's own latency, from the sale's live counters: every buy measured.
      expect(summary.handlerLatency?.count).toBe(200);

      const db = new pg.Pool({
        connectionString: stack.env.DATABASE_URL,
        application_name: "e2e-test",
      });

      db.on("error", () => {}); // a stop of Postgres may close idle clients
      const { rows } = await db.query(
        "SELECT count(*)::int AS n, count(DISTINCT user_id)::int AS users, sum(quantity)::int AS units FROM orders WHERE sale_id = $1",
        [summary.saleId],
      );
      await db.end();
      expect(rows[0]).toEqual({ n: 20, users: 20, units: 20 });

      // The hold sale: part paid, the rest expired and sold again, one late payment.
      const hold = await runHoldDemo({ url: stack.url, env: stack.env });
      expect(hold.checks.filter((c) => !c.ok)).toEqual([]);
      expect(hold).toMatchObject({ held: 20, paid: 20, expired: 8, refundDue: 1, resold: 8 });
      expect(hold.backOnSaleMs?.max).toBeLessThan(3_000);
    } finally {
      await stack.stop({ removeData: true });
    }
  });

  it("npm start -- --demo-only (2 HTTP workers) exits 0 after a passing demo and leaves no process running", async () => {
    const dir = join(RUNS_DIR, `cli-${Date.now()}`);
    const { stdout } = await promisify(execFile)(
      "npx",
      [
        "tsx",
        "local/main.ts",
        "--demo-only",
        "--port",
        "0",
        "--workers",
        "2",
        "--buyers",
        "100",
        "--stock",
        "10",
        "--data-dir",
        dir,
        "--clean",
      ],
      { cwd: PROJECT_ROOT, timeout: 100_000 },
    );
    expect(stdout).toContain("All checks passed.");
    expect(stdout).toContain("All hold checks passed.");
    // The draw: entries, the draw, its verification from the public routes, payments, alternates.
    expect(stdout).toContain("All draw checks passed.");
    // The dashboard link carries an admin token in the fragment, never in the query string.
    expect(stdout).toMatch(
      /live dashboard \(admin token inside\)\s+http:\/\/127\.0\.0\.1:\d+\/dashboard#token=[\w.-]+\n/,
    );
    expect(stdout).toMatch(/order rows in Postgres\s+10/);
    // Redis, Postgres, the SQS server and the consumer process.
    const servicePids = [...stdout.matchAll(/\(pid (\d+)\)/g)].map((m) => Number(m[1]));
    const workerPids = (/\(pids ([\d, ]+)\)/.exec(stdout)?.[1] ?? "").split(", ").map(Number);
    expect(stdout).toMatch(/consumer process\s+\(pid \d+\)/);
    expect(servicePids).toHaveLength(4);
    expect(workerPids).toHaveLength(2);
    for (const pid of [...servicePids, ...workerPids]) expect(isAlive(pid)).toBe(false);
    expect(stdout).toContain("stopped.");
    rmSync(dir, { recursive: true, force: true });
  }, 120_000);
});
