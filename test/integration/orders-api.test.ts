import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { migrate } from "../../lambdas/adapters/postgres/migrate.js";
import type { HttpLambda } from "../../local/http-host.js";
import { lambdaContext } from "../../local/lambda-context.js";
import type { SqsLambda } from "../../local/sqs-event-source.js";
import { testDb } from "../support/db.js";
import { admin, buyEvent, buyer, invoke, uniqueSaleId } from "../support/fixtures.js";
import { testSqs } from "../support/sqs.js";
import { sqsEvent, sqsRecord } from "../support/sqs-records.js";

let buy: HttpLambda;
let getOrder: HttpLambda;
let upsertSale: HttpLambda;
let consume: SqsLambda;
let db: pg.Pool;

beforeAll(async () => {
  buy = (await import("../../lambdas/handlers/buy.js")).handler as unknown as HttpLambda;
  getOrder = (await import("../../lambdas/handlers/get-order.js")).handler as unknown as HttpLambda;
  upsertSale = (await import("../../lambdas/handlers/upsert-sale.js"))
    .handler as unknown as HttpLambda;
  consume = (await import("../../lambdas/handlers/consume-orders.js"))
    .handler as unknown as SqsLambda;
  db = testDb();
});
afterAll(() => db.end());

const orderEvent = (orderId: string, userId: string | undefined) => ({
  routeKey: "GET /orders/{orderId}",
  method: "GET",
  path: `/orders/${orderId}`,
  pathParameters: { orderId },
  claims: userId === undefined ? undefined : buyer(userId),
});

describe("GET /orders/{orderId}", () => {
  it("shows the owner a pending order, then a confirmed one once the consumer wrote its row", async () => {
    const saleId = uniqueSaleId("ord");
    await invoke(upsertSale, {
      routeKey: "POST /sales",
      method: "POST",
      path: "/sales",
      claims: admin(),
      body: JSON.stringify({ id: saleId, name: "o", stock: 5, perUserLimit: 2 }),
    });
    const bought = await invoke(buy, buyEvent(saleId, "alice", '{"quantity":2}'));
    const { orderId } = bought.body as { orderId: string };

    const pending = await invoke(getOrder, orderEvent(orderId, "alice"));
    expect(pending.status).toBe(200);
    expect(pending.body).toMatchObject({
      orderId,
      saleId,
      quantity: 2,
      status: "pending",
      confirmedAt: null,
    });

    const message = (await testSqs().receiveAll()).find(
      (m) => (m as { orderId?: string }).orderId === orderId,
    );
    expect(message).toBeDefined();
    await consume(sqsEvent([sqsRecord(message)]), lambdaContext("consume-orders"));

    const confirmed = await invoke(getOrder, orderEvent(orderId, "alice"));
    expect(confirmed.body).toMatchObject({
      orderId,
      status: "confirmed",
      confirmedAt: expect.any(String),
    });
  });

  it.each([
    ["someone else's order", "bob"],
    ["an unknown order", "alice"],
  ])("answers 404 for %s", async (label, caller) => {
    const saleId = uniqueSaleId("ord");
    await invoke(upsertSale, {
      routeKey: "POST /sales",
      method: "POST",
      path: "/sales",
      claims: admin(),
      body: JSON.stringify({ id: saleId, name: "o", stock: 5, perUserLimit: 2 }),
    });
    const { orderId } = (await invoke(buy, buyEvent(saleId, "alice"))).body as { orderId: string };
    const asked =
      label === "an unknown order" ? `${saleId}.00000000-0000-4000-8000-000000000000` : orderId;

    const reply = await invoke(getOrder, orderEvent(asked, caller));
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ error: { code: "ORDER_NOT_FOUND" } });
  });

  it("requires an identity", async () => {
    expect((await invoke(getOrder, orderEvent("x.y", undefined))).status).toBe(401);
  });
});

describe("migrations", () => {
  it("are recorded and not applied twice", async () => {
    expect(await migrate(db)).toEqual([]);
    const { rows } = await db.query("SELECT version FROM schema_migrations ORDER BY version");
    expect(rows.map((r) => r.version)).toContain("001_orders");
  });
});
