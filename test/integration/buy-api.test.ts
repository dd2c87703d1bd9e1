import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import type { HttpLambda } from "../../local/http-host.js";
import {
  admin,
  buyEvent,
  createSaleVia,
  invoke,
  saleSnapshot,
  testRedis,
  uniqueSaleId,
} from "../support/fixtures.js";
import { testSqs } from "../support/sqs.js";

let redis: Redis;
let buy: HttpLambda;
let getSale: HttpLambda;
let upsertSale: HttpLambda;
const sqs = testSqs();

beforeAll(async () => {
  redis = testRedis();
  buy = (await import("../../lambdas/handlers/buy.js")).handler as unknown as HttpLambda;
  getSale = (await import("../../lambdas/handlers/get-sale.js")).handler as unknown as HttpLambda;
  upsertSale = (await import("../../lambdas/handlers/upsert-sale.js"))
    .handler as unknown as HttpLambda;
});
afterAll(() => redis.quit());

function createSaleEvent(body: unknown, claims: Record<string, string> | undefined = admin()) {
  return {
    routeKey: "POST /sales",
    method: "POST",
    path: "/sales",
    body: JSON.stringify(body),
    claims,
  };
}

const createSale = (overrides: Record<string, unknown> = {}) =>
  createSaleVia(upsertSale, { name: "Console launch", stock: 100, perUserLimit: 2, ...overrides });

function countBy<T>(items: T[], key: (item: T) => string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const item of items) counts[key(item)] = (counts[key(item)] ?? 0) + 1;
  return counts;
}

async function messagesFor(saleId: string) {
  return (await sqs.receiveAll()).filter(
    (m) => (m as { saleId?: string }).saleId === saleId,
  ) as Array<Record<string, unknown>>;
}

describe("POST /sales/{saleId}/buy", () => {
  it("accepts a buy with 202, reserves the unit and queues exactly one order message", async () => {
    const saleId = await createSale();
    const reply = await invoke(buy, buyEvent(saleId, "alice", JSON.stringify({ quantity: 2 })));

    expect(reply.status).toBe(202);
    const { orderId, status } = reply.body as { orderId: string; status: string };
    expect(status).toBe("pending");
    expect(orderId.startsWith(`${saleId}.`)).toBe(true);

    const messages = await messagesFor(saleId);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toMatchObject({ orderId, saleId, userId: "alice", quantity: 2 });
    expect(Date.parse(String(messages[0]?.reservedAt))).not.toBeNaN();

    const sale = await invoke(getSale, {
      routeKey: "GET /sales/{saleId}",
      method: "GET",
      path: `/sales/${saleId}`,
      pathParameters: { saleId },
    });
    expect(sale.status).toBe(200);
    expect(sale.body).toMatchObject({
      id: saleId,
      stock: 100,
      remaining: 98,
      sold: 2,
      perUserLimit: 2,
      status: "open",
      startsAt: null,
      endsAt: null,
    });
  });

  it("takes 10,000 concurrent buys from 1,000 users for stock 100: 100 accepted, 100 messages, no user above 2", async () => {
    // The rate limit is off here: this test is about stock and per-user limits under contention.
    const saleId = await createSale({
      stock: 100,
      perUserLimit: 2,
      rateLimit: { burst: 0, perSecond: 1 },
    });
    // Waves of 1,000 at once: still 1,000 contending for the first 100 units, but not 10,000
    // promises on one client, whose queue outlasted the Redis command timeout on a loaded CI
    // machine (a few 503s; a Lambda container serves one request at a time).
    const replies: Awaited<ReturnType<typeof invoke>>[] = [];
    for (let wave = 0; wave < 10; wave++) {
      replies.push(
        ...(await Promise.all(
          Array.from({ length: 1_000 }, (_, j) => {
            const i = wave * 1_000 + j;
            return invoke(buy, buyEvent(saleId, `user-${Math.floor(i / 10)}`));
          }),
        )),
      );
    }
    const statuses = countBy(replies, (r) => String(r.status));
    const codes = countBy(
      replies.filter((r) => r.status === 409),
      (r) => (r.body as { error: { code: string } }).error.code,
    );

    expect(statuses).toEqual({ "202": 100, "409": 9_900 });
    expect(Object.keys(codes).sort()).toEqual(["LIMIT_REACHED", "SOLD_OUT"]);

    const state = await saleSnapshot(redis, saleId);
    expect(Number(state.sale.remaining)).toBe(0);
    expect(Math.max(...Object.values(state.buyers).map(Number))).toBe(2);
    const messages = await messagesFor(saleId);
    expect(messages).toHaveLength(100);
    expect(new Set(messages.map((m) => m.orderId)).size).toBe(100);
  });

  it("replays a retried buy with the same Idempotency-Key: same order id, one unit, one message", async () => {
    const saleId = await createSale();
    const event = buyEvent(saleId, "alice", undefined, { "Idempotency-Key": "checkout-7f3a" });
    const first = await invoke(buy, event);
    const retry = await invoke(buy, event);
    expect(first.status).toBe(202);
    expect(retry.status).toBe(202);
    expect(retry.body).toEqual(first.body);
    expect(Number((await saleSnapshot(redis, saleId)).sale.remaining)).toBe(99);
    expect(await messagesFor(saleId)).toHaveLength(1);
  });

  it.each([
    ["not open yet", { startsAt: new Date(Date.now() + 3600_000).toISOString() }, "SALE_NOT_OPEN"],
    [
      "ended",
      {
        startsAt: new Date(Date.now() - 7200_000).toISOString(),
        endsAt: new Date(Date.now() - 3600_000).toISOString(),
      },
      "SALE_ENDED",
    ],
    ["sold out", { stock: 0 }, "SOLD_OUT"],
  ])("refuses a sale that is %s with 409 %s", async (_label, overrides, code) => {
    const saleId = await createSale(overrides);
    const reply = await invoke(buy, buyEvent(saleId, "alice"));
    expect(reply.status).toBe(409);
    expect(reply.body).toEqual({ error: { code, message: expect.any(String) } });
  });

  it("answers 404 SALE_NOT_FOUND for a sale that was never created", async () => {
    const reply = await invoke(buy, buyEvent(uniqueSaleId("ghost"), "alice"));
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ error: { code: "SALE_NOT_FOUND" } });
  });

  it("ignores a user id in the body: the buyer is the token's subject", async () => {
    const saleId = await createSale();
    await invoke(
      buy,
      buyEvent(saleId, "alice", JSON.stringify({ quantity: 1, userId: "mallory" })),
    );
    const state = await saleSnapshot(redis, saleId);
    expect(state.buyers).toEqual({ alice: "1" });
  });
});

describe("bad input is refused with a 4xx JSON error and changes nothing", () => {
  const cases: Array<[string, (saleId: string) => ReturnType<typeof buyEvent>, number, string]> = [
    ["malformed JSON", (s) => buyEvent(s, "alice", "{quantity: 1"), 400, "MALFORMED_JSON"],
    ["a JSON array", (s) => buyEvent(s, "alice", "[1]"), 400, "INVALID_REQUEST"],
    ["a JSON string", (s) => buyEvent(s, "alice", '"one"'), 400, "INVALID_REQUEST"],
    [
      "quantity as a string",
      (s) => buyEvent(s, "alice", '{"quantity":"1"}'),
      400,
      "INVALID_REQUEST",
    ],
    ["quantity null", (s) => buyEvent(s, "alice", '{"quantity":null}'), 400, "INVALID_REQUEST"],
    ["zero quantity", (s) => buyEvent(s, "alice", '{"quantity":0}'), 400, "INVALID_REQUEST"],
    ["negative quantity", (s) => buyEvent(s, "alice", '{"quantity":-3}'), 400, "INVALID_REQUEST"],
    [
      "fractional quantity",
      (s) => buyEvent(s, "alice", '{"quantity":1.5}'),
      400,
      "INVALID_REQUEST",
    ],
    ["huge quantity", (s) => buyEvent(s, "alice", '{"quantity":1e308}'), 400, "INVALID_REQUEST"],
    [
      "quantity over the per-request cap",
      (s) => buyEvent(s, "alice", '{"quantity":101}'),
      400,
      "INVALID_REQUEST",
    ],
    ["no identity", (s) => buyEvent(s, undefined, '{"quantity":1}'), 401, "UNAUTHORIZED"],
    [
      "a body over 4 KiB",
      (s) => buyEvent(s, "alice", JSON.stringify({ quantity: 1, pad: "x".repeat(5000) })),
      413,
      "PAYLOAD_TOO_LARGE",
    ],
    [
      "a bad Idempotency-Key",
      (s) => buyEvent(s, "alice", undefined, { "idempotency-key": "x".repeat(200) }),
      400,
      "INVALID_REQUEST",
    ],
    [
      "a sale id that is not one",
      () => ({ ...buyEvent("bad id!", "alice"), pathParameters: { saleId: "bad id!" } }),
      400,
      "INVALID_REQUEST",
    ],
  ];

  it.each(cases)("%s", async (_label, event, status, code) => {
    const saleId = await createSale();
    const before = await saleSnapshot(redis, saleId);
    const reply = await invoke(buy, event(saleId));
    expect(reply.status).toBe(status);
    expect(reply.headers["content-type"]).toMatch(/^application\/json/);
    expect(reply.body).toEqual({ error: { code, message: expect.any(String) } });
    expect(reply.raw).not.toMatch(/at .*\.ts:\d+/);
    expect(await saleSnapshot(redis, saleId)).toEqual(before);
  });
});

describe("POST /sales", () => {
  it("requires the admin scope", async () => {
    const id = uniqueSaleId();
    const reply = await invoke(
      upsertSale,
      createSaleEvent({ id, name: "x", stock: 1, perUserLimit: 1 }, { sub: "bob" }),
    );
    expect(reply.status).toBe(403);
    expect(reply.body).toMatchObject({ error: { code: "FORBIDDEN" } });
    expect(await redis.exists(`{sale:${id}}`)).toBe(0);
  });

  it("restocks an existing sale with 200, keeping units sold, and refuses stock below sold with 409", async () => {
    const saleId = await createSale({ stock: 2, perUserLimit: 2 });
    expect((await invoke(buy, buyEvent(saleId, "alice", '{"quantity":2}'))).status).toBe(202);
    const restock = await invoke(
      upsertSale,
      createSaleEvent({ id: saleId, name: "Console launch", stock: 5, perUserLimit: 2 }),
    );
    expect(restock.status).toBe(200);
    expect(restock.body).toMatchObject({ stock: 5, remaining: 3, sold: 2, status: "open" });
    const tooLow = await invoke(
      upsertSale,
      createSaleEvent({ id: saleId, name: "Console launch", stock: 1, perUserLimit: 2 }),
    );
    expect(tooLow.status).toBe(409);
    expect(tooLow.body).toMatchObject({ error: { code: "STOCK_BELOW_SOLD" } });
  });

  it.each([
    [{ id: "x", name: "n", stock: -1, perUserLimit: 1 }],
    [{ id: "x", name: "n", stock: 1, perUserLimit: 0 }],
    [{ id: "has space", name: "n", stock: 1, perUserLimit: 1 }],
    [{ id: "x", name: "", stock: 1, perUserLimit: 1 }],
    [{ id: "x", name: "n", stock: 1, perUserLimit: 1, startsAt: "tomorrow" }],
    [
      {
        id: "x",
        name: "n",
        stock: 1,
        perUserLimit: 1,
        startsAt: "2026-12-02T00:00:00Z",
        endsAt: "2026-12-01T00:00:00Z",
      },
    ],
  ])("refuses an invalid definition %j with 400", async (body) => {
    const reply = await invoke(upsertSale, createSaleEvent(body));
    expect(reply.status).toBe(400);
    expect(reply.body).toMatchObject({ error: { code: "INVALID_REQUEST" } });
  });
});

describe("when Redis cannot be reached", () => {
  it("answers 503 with Retry-After, not 500", async () => {
    const saved = { ...process.env };
    Object.assign(process.env, {
      REDIS_URL: "redis://127.0.0.1:9",
      REDIS_CONNECT_TIMEOUT_MS: "200",
      REDIS_COMMAND_TIMEOUT_MS: "300",
    });
    vi.resetModules();
    const cutOff = (await import("../../lambdas/handlers/buy.js")).handler as unknown as HttpLambda;
    process.env = saved;

    const started = Date.now();
    const reply = await invoke(cutOff, buyEvent(uniqueSaleId(), "alice"));
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(reply.status).toBe(503);
    expect(reply.headers["retry-after"]).toBe("1");
    expect(reply.body).toMatchObject({ error: { code: "SERVICE_UNAVAILABLE" } });
  });
});

describe("the sold-out short-circuit", () => {
  const evalshaCalls = async () =>
    Number(/cmdstat_evalsha:calls=(\d+)/.exec(await redis.info("commandstats"))?.[1] ?? 0);

  it("answers a sold-out storm from memory, without calling Redis", async () => {
    const saleId = await createSale({
      stock: 1,
      perUserLimit: 1,
      rateLimit: { burst: 0, perSecond: 1 },
    });
    expect((await invoke(buy, buyEvent(saleId, "first"))).status).toBe(202);
    expect((await invoke(buy, buyEvent(saleId, "second"))).body).toMatchObject({
      error: { code: "SOLD_OUT" },
    });

    const before = await evalshaCalls();
    const storm = await Promise.all(
      Array.from({ length: 200 }, (_, i) => invoke(buy, buyEvent(saleId, `late-${i}`))),
    );
    expect(new Set(storm.map((r) => r.status))).toEqual(new Set([409]));
    expect(storm[0]?.body).toEqual({
      error: { code: "SOLD_OUT", message: "The sale is sold out" },
    });
    expect((await evalshaCalls()) - before).toBe(0);
  });

  it("sells restocked units again once the flag's bound (SOLD_OUT_CACHE_MS) has passed", async () => {
    const saleId = await createSale({
      stock: 1,
      perUserLimit: 1,
      rateLimit: { burst: 0, perSecond: 1 },
    });
    await invoke(buy, buyEvent(saleId, "first"));
    expect((await invoke(buy, buyEvent(saleId, "second"))).status).toBe(409);
    await invoke(
      upsertSale,
      createSaleEvent({ id: saleId, name: "Console launch", stock: 2, perUserLimit: 1 }),
    );

    await new Promise((resolve) => setTimeout(resolve, 550));
    expect((await invoke(buy, buyEvent(saleId, "second"))).status).toBe(202);
  });
});

describe("when the order cannot be queued", () => {
  // A server that accepts connections and never answers: a black-holed endpoint.
  let blackhole: Server;
  let blackholePort = 0;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    blackhole = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => blackhole.listen(0, "127.0.0.1", resolve));
    blackholePort = (blackhole.address() as AddressInfo).port;
  });
  afterAll(() => {
    for (const socket of sockets) socket.destroy();
    blackhole.close();
  });

  async function buyHandlerWith(env: Record<string, string>): Promise<HttpLambda> {
    const saved = { ...process.env };
    Object.assign(process.env, env);
    vi.resetModules();
    try {
      return (await import("../../lambdas/handlers/buy.js")).handler as unknown as HttpLambda;
    } finally {
      process.env = saved;
    }
  }

  it.each([
    [
      "the queue does not exist",
      () => ({ ORDERS_QUEUE_URL: `${process.env.ORDERS_QUEUE_URL}-missing` }),
    ],
    ["the SQS endpoint refuses connections", () => ({ SQS_ENDPOINT: "http://127.0.0.1:9" })],
    [
      "the SQS endpoint accepts but never answers",
      () => ({
        SQS_ENDPOINT: `http://127.0.0.1:${blackholePort}`,
        SQS_REQUEST_TIMEOUT_MS: "300",
        SQS_MAX_ATTEMPTS: "2",
      }),
    ],
  ])("answers 503 with Retry-After and puts the unit back when %s", async (_label, env) => {
    const failingBuy = await buyHandlerWith(env());
    const saleId = await createSale({ stock: 1, perUserLimit: 1 });

    const started = Date.now();
    const reply = await invoke(
      failingBuy,
      buyEvent(saleId, "alice", undefined, { "idempotency-key": "k1" }),
    );
    // Bounded by the SDK deadlines (2 attempts x 300 ms for the black hole), never by the Lambda timeout.
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(reply.status).toBe(503);
    expect(reply.headers["retry-after"]).toBe("1");
    expect(reply.body).toMatchObject({ error: { code: "SERVICE_UNAVAILABLE" } });

    const state = await saleSnapshot(redis, saleId);
    expect(Number(state.sale.remaining)).toBe(1);
    expect(state.buyers).toEqual({});
    expect(state.idempotency).toEqual({});
    // The unit is really back: the same buyer can buy it once SQS works.
    expect(
      (await invoke(buy, buyEvent(saleId, "alice", undefined, { "idempotency-key": "k1" }))).status,
    ).toBe(202);
  });
});
