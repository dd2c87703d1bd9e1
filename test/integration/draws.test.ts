import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PostgresDrawRows } from "../../lambdas/adapters/postgres/draw-rows.js";
import { RedisDrawStore } from "../../lambdas/adapters/redis/draw-store.js";
import { RedisHoldLedger } from "../../lambdas/adapters/redis/hold-ledger.js";
import { drawKeys, saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { verifyDraw } from "../../lambdas/domain/draw.js";
import { enterDraw, entryView } from "../../lambdas/domain/draw-entries.js";
import { EntryRefusedError } from "../../lambdas/domain/errors.js";
import type { Order } from "../../lambdas/domain/order.js";
import { encodeOrderMessage, entryMessageOf } from "../../lambdas/domain/order-message.js";
import { persistOrders } from "../../lambdas/domain/persist-orders.js";
import type { DrawEntryRecord, DrawStore } from "../../lambdas/domain/ports.js";
import { publishedDraw, publishedEntriesPage } from "../../lambdas/domain/published-draw.js";
import { advanceDraw, emptyDrawReport, type RunDrawsDeps } from "../../lambdas/domain/run-draws.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { upsertSale } from "../../lambdas/domain/upsert-sale.js";
import { testDb } from "../support/db.js";
import { testRedis, uniqueSaleId } from "../support/fixtures.js";

const silent = { debug() {}, info() {}, warn() {}, error() {} };
const T0 = Date.parse("2026-12-01T12:00:00Z");
const CLOSE = T0 + 60_000;

let redis: Redis;
let db: pg.Pool;
let sales: RedisSaleStore;
let draws: RedisDrawStore;
let rows: PostgresDrawRows;
let holds: RedisHoldLedger;

beforeAll(() => {
  redis = testRedis();
  db = testDb();
  sales = new RedisSaleStore(redis);
  draws = new RedisDrawStore(redis);
  rows = new PostgresDrawRows(db);
  holds = new RedisHoldLedger(redis);
});
afterAll(async () => {
  await redis.quit();
  await db.end();
});

async function drawSale(stock: number, perUserLimit = 2, holdSeconds = 60) {
  const id = uniqueSaleId("draw");
  await upsertSale(
    { reservations: sales, recentSales: { remember: async () => {} } as never, logger: silent },
    {
      id,
      name: "Fair drop",
      stock,
      perUserLimit,
      startsAtMs: 0,
      endsAtMs: 0,
      rateLimit: { burst: 0, perSecond: 1 },
      price: { amount: 1000, currency: "eur" },
      holdSeconds,
      draw: { entriesOpenAtMs: T0, entriesCloseAtMs: CLOSE },
    },
    T0,
  );
  return id;
}

/** The entry path with a queue that keeps what was sent; persist() writes those rows as the consumer would. */
function entryPath(nowMs: () => number) {
  const sent: DrawEntryRecord[] = [];
  const deps = {
    draws,
    queue: { sendEntry: async (entry: DrawEntryRecord) => void sent.push(entry) },
    now: nowMs,
    uuid: randomUUID,
    logger: silent,
  };
  return {
    sent,
    enter: (saleId: string, userId: string, quantity = 1) =>
      enterDraw(deps, { saleId, userId, quantity }),
    async persist() {
      const records = sent.splice(0).map((entry) => ({
        messageId: randomUUID(),
        body: encodeOrderMessage(entryMessageOf(entry)),
      }));
      return persistOrders(
        {
          reservations: sales,
          orderRows: { insert: async () => ({ inserted: [], refused: [] }) } as never,
          drawRows: rows,
          now: nowMs,
          logger: silent,
        },
        records,
      );
    },
  };
}

function runner(nowMs: () => number, store: DrawStore = draws) {
  const orders: Order[] = [];
  const deps: RunDrawsDeps = {
    draws: store,
    rows,
    orders: { send: async (order: Order) => void orders.push(order) },
    now: nowMs,
    uuid: randomUUID,
    logger: silent,
    settleMs: 0,
    lockTtlMs: 30_000,
    walkSteps: 20,
  };
  return { orders, deps, advance: (saleId: string) => advanceDraw(deps, saleId) };
}

async function published(saleId: string) {
  const draw = await publishedDraw(draws, rows, saleId);
  if (!("seed" in draw)) throw new Error("not drawn");
  const pages: Buffer[] = [];
  for (let page = 0; page < draw.pages; page++) {
    const { entries } = await publishedEntriesPage(draws, rows, saleId, page);
    pages.push(Buffer.from(entries, "base64"));
  }
  return { draw, packed: Buffer.concat(pages) };
}

async function counts(saleId: string) {
  const [stock = 0, remaining = 0, held = 0, paid = 0] = (
    await redis.hmget(saleKeys(saleId).sale, "stock", "remaining", "held", "paid")
  ).map(Number);
  return { stock, remaining, held, paid };
}

describe("draw entries (enter-4.lua, leave-2.lua)", () => {
  it("enters a buyer once, answers a second entry with the first, and refuses outside the rules", async () => {
    const saleId = await drawSale(5, 2);
    const path = entryPath(() => T0 + 1_000);
    const first = await path.enter(saleId, "alice", 2);
    expect(first.replayed).toBe(false);
    const again = await path.enter(saleId, "alice", 1);
    expect(again).toEqual({ entry: first.entry, replayed: true });
    expect(path.sent).toHaveLength(1);
    await expect(path.enter(saleId, "bob", 3)).rejects.toMatchObject({ code: "ENTRY_ABOVE_LIMIT" });
    await expect(entryPath(() => T0 - 1).enter(saleId, "carol")).rejects.toBeInstanceOf(
      EntryRefusedError,
    );
    await expect(entryPath(() => CLOSE).enter(saleId, "dave")).rejects.toMatchObject({
      code: "ENTRIES_CLOSED",
    });
    // A draw's units are never bought.
    const buy = await sales.reserve({
      saleId,
      userId: "erin",
      quantity: 1,
      nowMs: T0 + 1_000,
      orderId: newOrderId(saleId, randomUUID()),
      idempotencyKey: undefined,
    });
    expect(buy).toMatchObject({ kind: "refused", reason: "DRAW_SALE" });
    expect(await redis.hlen(drawKeys(saleId).entries)).toBe(1);
    expect(await counts(saleId)).toMatchObject({ stock: 5, remaining: 5 });
    const view = await entryView(draws, saleId, "alice");
    expect(view).toMatchObject({ quantity: 2, result: "pending" });
    expect(view.entryHash).toMatch(/^[0-9a-f]{64}$/);
  });

  it("takes an entry back when its message cannot be sent, and keeps it once the entries are frozen", async () => {
    const saleId = await drawSale(5);
    const failing = {
      draws,
      queue: {
        sendEntry: async () => {
          throw new Error("SQS down");
        },
      },
      now: () => T0 + 1_000,
      uuid: randomUUID,
      logger: silent,
    };
    await expect(
      enterDraw(failing, { saleId, userId: "alice", quantity: 1 }),
    ).rejects.toMatchObject({
      code: "SERVICE_UNAVAILABLE",
    });
    expect(await redis.hlen(drawKeys(saleId).entries)).toBe(0);

    // The freeze lands between the script and the failed send: the entry is in the draw, and 201.
    const freezing = {
      ...failing,
      queue: {
        sendEntry: async () => {
          await draws.freeze(saleId, T0 + 1_000, true);
          throw new Error("SQS down");
        },
      },
    };
    const kept = await enterDraw(freezing, { saleId, userId: "bob", quantity: 1 });
    expect(kept.replayed).toBe(false);
    expect(await redis.hget(drawKeys(saleId).entries, "bob")).toContain(kept.entry.entryId);
  });
});

describe("the draw (run-draws: freeze, draw once, install, award walk)", () => {
  it("entries racing the freeze are either in the frozen list or refused, never half in", async () => {
    const saleId = await drawSale(20, 1);
    let now = T0 + 1_000;
    const path = entryPath(() => now);
    const attempts = Array.from({ length: 400 }, (_, i) => `racer-${i}`);
    const freezeAt = 150 + Math.floor(Math.random() * 100);
    const outcomes = await Promise.allSettled(
      attempts.map(async (userId, i) => {
        if (i === freezeAt) await draws.freeze(saleId, now, true);
        return path.enter(saleId, userId);
      }),
    );
    const accepted = outcomes.filter((o) => o.status === "fulfilled").length;
    const refused = outcomes.filter(
      (o) => o.status === "rejected" && (o.reason as EntryRefusedError).code === "ENTRIES_CLOSED",
    ).length;
    expect(accepted + refused).toBe(attempts.length);
    expect(accepted).toBeGreaterThan(0);
    expect(refused).toBeGreaterThan(0);
    await path.persist();

    now += 5_000;
    const run = runner(() => now);
    await run.advance(saleId);
    const { draw, packed } = await published(saleId);
    expect(draw.entries).toBe(accepted);
    expect(verifyDraw(draw, packed)).toMatchObject({ ok: true });
    expect(run.orders).toHaveLength(20);
    // Every winner is an accepted entrant.
    const accepted_ = new Set(
      outcomes.flatMap((o, i) => (o.status === "fulfilled" ? [attempts[i]] : [])),
    );
    for (const order of run.orders) expect(accepted_.has(order.userId)).toBe(true);
  });

  it("draws from Redis and the rows together, writes the rows it drew from Redis, and refuses a row that arrives after the draw", async () => {
    const saleId = await drawSale(3, 2);
    let now = T0 + 1_000;
    const path = entryPath(() => now);
    for (const user of ["a", "b", "c", "d"]) await path.enter(saleId, user);
    await path.persist();
    // Redis lost d's entry (a failover before replication); its row remains.
    await redis.hdel(drawKeys(saleId).entries, "d");
    // c left after a send that timed out yet arrived, and entered again with 2: its
    // row holds the first entry, Redis the one that was answered.
    const cEntry = (await redis.hget(drawKeys(saleId).entries, "c")) ?? "";
    await redis.hset(drawKeys(saleId).entries, "c", cEntry.replace(/\t1\t/, "\t2\t"));
    // The consumer is behind: e's and f's messages are still in the queue at the draw.
    await path.enter(saleId, "e", 2);
    await path.enter(saleId, "f");
    now = CLOSE + 5_000;
    await runner(() => now).advance(saleId);
    const { draw, packed } = await published(saleId);
    expect(draw.entries).toBe(6);
    expect(verifyDraw(draw, packed)).toMatchObject({ ok: true });

    // The rows are now the drawn list, e's and f's included, with the values the draw used.
    const drawnRows = await db.query<{ user_id: string; quantity: number }>(
      "SELECT user_id, quantity FROM draw_entries WHERE sale_id = $1 ORDER BY user_id",
      [saleId],
    );
    expect(drawnRows.rows.map((r) => `${r.user_id}:${r.quantity}`)).toEqual([
      "a:1",
      "b:1",
      "c:2",
      "d:1",
      "e:2",
      "f:1",
    ]);
    // Their messages, delivered at last, find their rows: neither written twice nor late.
    const backlog = path.sent.splice(0);
    expect(backlog.map((e) => e.userId)).toEqual(["e", "f"]);
    expect(await rows.insertEntries(backlog)).toEqual({ inserted: 0, late: [] });

    const late: DrawEntryRecord = {
      saleId,
      userId: "late",
      entryId: randomUUID(),
      quantity: 1,
      enteredAtMs: CLOSE - 1,
    };
    expect(await rows.insertEntries([late, ...backlog])).toEqual({ inserted: 0, late: [late] });
    const after = await db.query("SELECT 1 FROM draw_entries WHERE sale_id = $1", [saleId]);
    expect(after.rowCount).toBe(6);
  });

  it("two runners at once draw once, and both see the same record", async () => {
    const saleId = await drawSale(5, 1);
    let now = T0 + 1_000;
    const path = entryPath(() => now);
    for (let i = 0; i < 30; i++) await path.enter(saleId, `u${i}`);
    await path.persist();
    now = CLOSE + 5_000;
    const [a, b] = [runner(() => now), runner(() => now)];
    await Promise.all([a.advance(saleId), b.advance(saleId)]);
    // A runner that found the other's lock draws on its next run.
    await Promise.all([a.advance(saleId), b.advance(saleId)]);
    const { rows: records } = await db.query(
      "SELECT count(*)::int AS n FROM draws WHERE sale_id = $1",
      [saleId],
    );
    expect(records[0].n).toBe(1);
    expect([...a.orders, ...b.orders].map((o) => o.quantity).reduce((x, y) => x + y, 0)).toBe(5);
    expect(await counts(saleId)).toMatchObject({ remaining: 0, held: 5 });
  });

  it("a runner that dies between the record and the install leaves a draw the next run installs unchanged", async () => {
    const saleId = await drawSale(4, 1);
    let now = T0 + 1_000;
    const path = entryPath(() => now);
    for (let i = 0; i < 12; i++) await path.enter(saleId, `u${i}`);
    await path.persist();
    now = CLOSE + 5_000;
    let crashes = 1;
    const crashing: DrawStore = Object.create(draws, {
      install: {
        value: (...args: Parameters<DrawStore["install"]>) => {
          if (crashes-- > 0) return Promise.reject(new Error("killed"));
          return draws.install(...args);
        },
      },
    });
    const run = runner(() => now, crashing);
    await expect(run.advance(saleId)).rejects.toThrow("killed");
    const recorded = await rows.record(saleId);
    expect(recorded).not.toBeNull();
    await run.advance(saleId);
    const { draw, packed } = await published(saleId);
    expect(draw.entriesDigest).toBe(recorded?.digest);
    expect(draw.seed).toBe(recorded?.seed.toString("hex"));
    expect(verifyDraw(draw, packed)).toMatchObject({ ok: true });
    expect(run.orders).toHaveLength(4);
  });

  it("verifies from the published routes, and fails on a changed entry, seed or winner", async () => {
    const saleId = await drawSale(3, 2);
    let now = T0 + 1_000;
    const path = entryPath(() => now);
    for (let i = 0; i < 25; i++) await path.enter(saleId, `v${i}`, 1 + (i % 2));
    await path.persist();
    now = CLOSE + 5_000;
    await runner(() => now).advance(saleId);
    const { draw, packed } = await published(saleId);
    expect(verifyDraw(draw, packed)).toMatchObject({ ok: true });
    const tampered = Buffer.from(packed);
    tampered[33] = (tampered[33] ?? 0) ^ 3; // the first entry's quantity
    expect(verifyDraw(draw, tampered).ok).toBe(false);
    expect(verifyDraw({ ...draw, seed: "00".repeat(32) }, packed).ok).toBe(false);
    const [first, ...rest] = draw.winners;
    if (!first) throw new Error("no winner");
    expect(
      verifyDraw(
        { ...draw, winners: [{ ...first, position: first.position + 1 }, ...rest] },
        packed,
      ).ok,
    ).toBe(false);
  });

  it("odd but valid buyer ids go through every stage: entry, row, draw, award, verification", async () => {
    const odd = [
      "😀🎟️👟",
      "𝄞".repeat(128),
      "\u200b\u200d\u2060zero-width",
      "\u202eRTL override\u202c",
      "'; DROP TABLE draw_entries; --",
      'quote " and back\\slash',
      "a literal \\t, \\n and \\\\N",
      "\ufffe\uffff noncharacters",
      " padded ",
      "中文用户",
    ];
    const saleId = await drawSale(odd.length, 1);
    let now = T0 + 1_000;
    const path = entryPath(() => now);
    for (const user of odd.slice(0, 5)) await path.enter(saleId, user);
    const results = await path.persist();
    expect(results.every((r) => r.status === "fulfilled")).toBe(true);
    const rowsOf = async () =>
      (
        await db.query<{ user_id: string }>("SELECT user_id FROM draw_entries WHERE sale_id = $1", [
          saleId,
        ])
      ).rows
        .map((r) => r.user_id)
        .sort();
    expect(await rowsOf()).toEqual(odd.slice(0, 5).sort());
    // The rest have no row at the draw: the draw writes theirs (COPY, its own escaping).
    for (const user of odd.slice(5)) await path.enter(saleId, user);
    now = CLOSE + 5_000;
    const run = runner(() => now);
    await run.advance(saleId);
    expect(await rowsOf()).toEqual([...odd].sort());
    expect(run.orders.map((o) => o.userId).sort()).toEqual([...odd].sort());
    const { draw, packed } = await published(saleId);
    expect(verifyDraw(draw, packed)).toMatchObject({ ok: true, winners: odd.length });
    for (const user of odd) {
      expect(await entryView(draws, saleId, user)).toMatchObject({ result: "won" });
    }
  });

  it("passes unpaid winners' units to the alternates in drawn order, with exact stock", async () => {
    const saleId = await drawSale(3, 1, 30);
    let now = T0 + 1_000;
    const path = entryPath(() => now);
    for (let i = 0; i < 10; i++) await path.enter(saleId, `w${i}`);
    await path.persist();
    now = CLOSE + 5_000;
    const run = runner(() => now);
    await run.advance(saleId);
    expect(run.orders).toHaveLength(3);
    expect(await counts(saleId)).toMatchObject({ stock: 3, remaining: 0, held: 3, paid: 0 });
    const [paidOrder] = run.orders;
    if (!paidOrder?.hold) throw new Error("no held award");
    expect(
      await holds.pay({
        orderId: paidOrder.orderId,
        saleId,
        amount: paidOrder.hold.amount,
        currency: "eur",
        reference: "pi_1",
        nowMs: now,
      }),
    ).toBe("paid");

    // The other two do not pay: their holds expire, and the next run calls two alternates.
    now += 31_000;
    await holds.expireDue(saleId, now, 100);
    expect(await counts(saleId)).toMatchObject({ remaining: 2, held: 0, paid: 1 });
    await run.advance(saleId);
    expect(run.orders).toHaveLength(5);
    expect(await counts(saleId)).toMatchObject({ stock: 3, remaining: 0, held: 2, paid: 1 });

    // The awards follow the drawn order exactly: positions 0.. with no gap (all quantities 1).
    const positions = await Promise.all(
      run.orders.map(async (o) => {
        const json = await redis.hget(saleKeys(saleId).orders, o.orderId);
        return (JSON.parse(json ?? "{}") as { drawPosition: number }).drawPosition;
      }),
    );
    expect(positions).toEqual([0, 1, 2, 3, 4]);
    const { draw } = await published(saleId);
    expect(draw.winners.map((w) => w.position)).toEqual([0, 1, 2]);
    const winner = await entryView(draws, saleId, paidOrder.userId);
    expect(winner).toMatchObject({ result: "won", order: { payment: "paid" } });
    const stats = await redis.hgetall(saleKeys(saleId).stats);
    expect(stats).toMatchObject({ "draw:awarded": "5", "draw:alternates": "2" });
    expect(emptyDrawReport().drawn).toBe(0);
  });
});
