import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Logger } from "@aws-lambda-powertools/logger";
import type { Redis } from "ioredis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresOrderRows } from "../../lambdas/adapters/postgres/order-rows.js";
import { saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { persistOrders } from "../../lambdas/domain/persist-orders.js";
import { type StoreAccess, verifySale } from "../../loadtest/consistency.js";
import { identitySource } from "../../loadtest/identity.js";
import { type AcceptedOrder, appendAccepted, startRun } from "../../loadtest/run-record.js";
import { localJwtSettings } from "../../local/auth.js";
import { createHttpHost, listen, loadRouteHandlers } from "../../local/http-host.js";
import {
  type LocalServices,
  PROJECT_ROOT,
  startLocalServices,
} from "../../local/services/index.js";
import { localSqsClient } from "../../local/services/sqs-server.js";
import { testDb } from "../support/db.js";
import { testRedis, uniqueSaleId } from "../support/fixtures.js";
import { sqsRecord } from "../support/sqs-records.js";

// The API on a free port, and an SQS server of this file's own, so the
// verifier sees empty queues (the buy handler still sends to the shared one).
let server: Server;
let base: string;
let sqsOnly: LocalServices;
let redis: Redis;
let db: pg.Pool;
let stores: StoreAccess;
const identities = identitySource({});
const silent = new Logger({ logLevel: "SILENT" });

beforeAll(async () => {
  server = createHttpHost({ handlers: await loadRouteHandlers(), jwt: localJwtSettings({}) });
  base = `http://127.0.0.1:${await listen(server, 0)}`;
  sqsOnly = await startLocalServices({ only: ["sqs"] });
  redis = testRedis();
  db = testDb();
  stores = {
    redis,
    db,
    sqs: localSqsClient(sqsOnly.sqs?.endpoint ?? ""),
    ordersQueueUrl: sqsOnly.sqs?.ordersQueueUrl ?? "",
    deadLetterQueueUrl: sqsOnly.sqs?.deadLetterQueueUrl ?? "",
  };
});
afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  stores.sqs.destroy();
  await redis.quit();
  await db.end();
  await sqsOnly.stop({ removeData: true });
});

async function post(path: string, token: string, body: unknown, key?: string) {
  const reply = await fetch(`${base}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${token}`,
      ...(key ? { "idempotency-key": key } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: reply.status, body: (await reply.json()) as { orderId?: string } };
}

/**
 * A sale sold over HTTP as a load run would (alice buys twice, bob once, limit
 * 2), the 202s recorded, and every order persisted as the consumer would.
 */
async function consistentSale(): Promise<{ saleId: string; accepted: AcceptedOrder[] }> {
  const saleId = uniqueSaleId("verify");
  const admin = identities.admin() ?? "";
  const created = await post("/sales", admin, { id: saleId, name: "v", stock: 5, perUserLimit: 2 });
  expect(created.status).toBe(201);
  const accepted: AcceptedOrder[] = [];
  for (const userId of ["alice", "alice", "bob"]) {
    const reply = await post(
      `/sales/${saleId}/buy`,
      identities.tokenFor(userId),
      { quantity: 1 },
      randomUUID(),
    );
    expect(reply.status).toBe(202);
    accepted.push({ orderId: reply.body.orderId ?? "", userId, quantity: 1 });
  }
  const reservations = new RedisSaleStore(redis);
  const orders = await reservations.listOrders(saleId);
  await persistOrders(
    { reservations, orderRows: new PostgresOrderRows(db), now: Date.now, logger: silent },
    orders.map((order) =>
      sqsRecord({
        orderId: order.orderId,
        saleId,
        userId: order.userId,
        quantity: order.quantity,
        reservedAt: new Date(order.reservedAtMs).toISOString(),
      }),
    ),
  );
  return { saleId, accepted };
}

const verify = (saleId: string, accepted: AcceptedOrder[]) =>
  verifySale({
    saleId,
    api: { baseUrl: base, tokenFor: (order) => identities.tokenFor(order.userId) },
    stores,
    accepted,
    drainTimeoutMs: 2_000,
  });

const failed = (report: Awaited<ReturnType<typeof verify>>) =>
  report.checks.filter((check) => !check.ok).map((check) => check.name);

describe("the load-test verifier (loadtest/consistency.ts)", () => {
  it("passes a consistent sale through the API, the run record and the stores", async () => {
    const { saleId, accepted } = await consistentSale();

    const report = await verify(saleId, accepted);

    expect(failed(report)).toEqual([]);
    expect(report.ok).toBe(true);
    expect(report.checks.length).toBeGreaterThanOrEqual(12);
  });

  it("fails on a buyer above the per-user limit, naming the buyer", async () => {
    const { saleId, accepted } = await consistentSale();
    await redis.hincrby(saleKeys(saleId).buyers, "alice", 1);

    const report = await verify(saleId, accepted);

    expect(report.ok).toBe(false);
    expect(failed(report)).toContain("redis: no buyer above the per-user limit");
    expect(report.checks.find((c) => c.name.startsWith("redis: no buyer"))?.detail).toContain(
      "alice (3)",
    );
  });

  it("fails on a missing order row, naming the order", async () => {
    const { saleId, accepted } = await consistentSale();
    const lost = accepted[2]?.orderId ?? "";
    await db.query("DELETE FROM orders WHERE order_id = $1", [lost]);

    const report = await verify(saleId, accepted);

    expect(failed(report)).toContain(
      "postgres: order rows = accepted orders (after the queue drained)",
    );
    expect(report.checks.find((c) => c.name.startsWith("postgres: order rows"))?.detail).toContain(
      lost,
    );
  });

  it("fails when the run saw one order id answered to two buys, and an oversold sale", async () => {
    const { saleId, accepted } = await consistentSale();
    const first = accepted[0] as AcceptedOrder;
    await redis.hset(saleKeys(saleId).sale, "remaining", "-1");

    const report = await verify(saleId, [...accepted, { ...first, userId: "mallory" }]);

    expect(failed(report)).toEqual(
      expect.arrayContaining([
        "run: no order id accepted twice",
        "api: sold ≤ stock",
        "redis: sold ≤ stock",
      ]),
    );
  });

  it("the CLI exits 0 on a consistent run and 1, saying what is wrong, on an inconsistent one", async () => {
    const { saleId, accepted } = await consistentSale();
    const runsDir = mkdtempSync(join(tmpdir(), "verify-runs-"));
    try {
      const run = startRun(runsDir, {
        scenario: "test",
        target: base,
        saleId,
        stock: 5,
        perUserLimit: 2,
        identity: "local",
        createdSale: true,
        startedAt: new Date().toISOString(),
      });
      for (const order of accepted) appendAccepted(run.runDir, order);
      const cli = () =>
        promisify(execFile)(
          process.execPath,
          ["--import", "tsx", "loadtest/verify.ts", "--run", run.runDir, "--drain-timeout", "2"],
          {
            cwd: PROJECT_ROOT,
            timeout: 30_000,
            env: {
              ...process.env,
              ORDERS_QUEUE_URL: stores.ordersQueueUrl,
              ORDERS_DLQ_URL: stores.deadLetterQueueUrl,
              SQS_ENDPOINT: sqsOnly.sqs?.endpoint ?? "",
            },
          },
        );

      const good = await cli();
      expect(good.stdout).toContain("Consistent.");

      await db.query("DELETE FROM orders WHERE order_id = $1", [accepted[0]?.orderId]);
      const bad = await cli().then(
        () => ({ code: 0, stdout: "" }),
        (error: { code: number; stdout: string }) => error,
      );
      expect(bad.code).toBe(1);
      expect(bad.stdout).toContain("[FAIL] postgres: order rows = accepted orders");
      expect(bad.stdout).toContain("INCONSISTENT");
    } finally {
      rmSync(runsDir, { recursive: true, force: true });
    }
  });
});
