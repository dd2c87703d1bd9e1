import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { drawKeys, saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { verifyDraw } from "../../lambdas/domain/draw.js";
import { HTTP_ROUTES } from "../../lambdas/registry.js";
import { localJwtSettings } from "../../local/auth.js";
import { createHttpHost, type HttpLambda, listen } from "../../local/http-host.js";
import { lambdaContext } from "../../local/lambda-context.js";
import { PROJECT_ROOT } from "../../local/services/index.js";
import {
  admin,
  buyEvent,
  buyer,
  createSaleVia,
  invoke,
  saleSnapshot,
  testRedis,
} from "../support/fixtures.js";
import { testSqs } from "../support/sqs.js";

/**
 * The draw over HTTP, through the real handlers against the real Redis,
 * Postgres and SQS: create, enter, refuse, freeze, draw (the run-draws
 * function), publish, verify. Every reply is checked against the OpenAPI document.
 */
let redis: Redis;
let upsertSale: HttpLambda;
let getSale: HttpLambda;
let buy: HttpLambda;
let enter: HttpLambda;
let myEntry: HttpLambda;
let getDraw: HttpLambda;
let adminDraw: HttpLambda;
let stats: HttpLambda;
let runDraws: (event: unknown, context: unknown) => Promise<{ drawn: number; awarded: number }>;

beforeAll(async () => {
  redis = testRedis();
  // The runner draws as soon as the entries are frozen.
  process.env.DRAW_SETTLE_MS = "0";
  const load = (module: { handler: unknown }) => module.handler as unknown as HttpLambda;
  upsertSale = load(await import("../../lambdas/handlers/upsert-sale.js"));
  getSale = load(await import("../../lambdas/handlers/get-sale.js"));
  buy = load(await import("../../lambdas/handlers/buy.js"));
  enter = load(await import("../../lambdas/handlers/enter-draw.js"));
  myEntry = load(await import("../../lambdas/handlers/my-entry.js"));
  getDraw = load(await import("../../lambdas/handlers/get-draw.js"));
  adminDraw = load(await import("../../lambdas/handlers/admin-draw.js"));
  stats = load(await import("../../lambdas/handlers/admin-sale-stats.js"));
  runDraws = (await import("../../lambdas/handlers/run-draws.js")).handler as never;
});
afterAll(async () => {
  // The awards' messages: no other file should meet them.
  await testSqs().purge();
  await redis.quit();
});

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();
const DRAW = {
  stock: 3,
  perUserLimit: 2,
  price: { amount: 1500, currency: "EUR" },
  holdSeconds: 60,
  mode: "draw",
};
const createDraw = (fields: Record<string, unknown> = {}) =>
  createSaleVia(upsertSale, { ...DRAW, entriesCloseAt: inAnHour(), ...fields }, "dapi");

const entryEvent = (saleId: string, userId: string | undefined, body?: string) => ({
  ...buyEvent(saleId, userId, body),
  routeKey: "POST /sales/{saleId}/entries",
  path: `/sales/${saleId}/entries`,
});
const meEvent = (saleId: string, userId: string) => ({
  routeKey: "GET /sales/{saleId}/entries/me",
  method: "GET",
  path: `/sales/${saleId}/entries/me`,
  pathParameters: { saleId },
  claims: buyer(userId),
});
const drawEvent = (saleId: string) => ({
  routeKey: "GET /sales/{saleId}/draw",
  method: "GET",
  path: `/sales/${saleId}/draw`,
  pathParameters: { saleId },
});
const pageEvent = (saleId: string, page: string) => ({
  routeKey: "GET /sales/{saleId}/draw/entries",
  method: "GET",
  path: `/sales/${saleId}/draw/entries`,
  pathParameters: { saleId },
  rawQueryString: `page=${page}`,
});
const statsEvent = (saleId: string, rawQueryString = "") => ({
  routeKey: "GET /admin/sales/{saleId}/stats",
  method: "GET",
  path: `/admin/sales/${saleId}/stats`,
  rawQueryString,
  pathParameters: { saleId },
  claims: admin(),
});
const adminDrawEvent = (saleId: string, claims = admin()) => ({
  routeKey: "POST /admin/sales/{saleId}/draw",
  method: "POST",
  path: `/admin/sales/${saleId}/draw`,
  pathParameters: { saleId },
  claims,
});

describe("draw API", () => {
  it("creates a draw with its commitment and no secret in sight, and refuses bad definitions", async () => {
    const saleId = await createDraw();
    const sale = await invoke(getSale, {
      routeKey: "GET /sales/{saleId}",
      method: "GET",
      path: `/sales/${saleId}`,
      pathParameters: { saleId },
    });
    expect(sale.status).toBe(200);
    expect(sale.body).toMatchObject({
      mode: "draw",
      draw: { state: "open", entries: 0, commitment: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    const hash = await redis.hgetall(saleKeys(saleId).sale);
    expect(sale.raw).not.toContain(hash.drawSeed);
    expect(sale.raw).not.toContain(hash.drawSalt);
    expect(
      createHash("sha256")
        .update(Buffer.from(hash.drawSeed ?? "", "hex"))
        .digest("hex"),
    ).toBe((sale.body as { draw: { commitment: string } }).draw.commitment);

    const define = (body: Record<string, unknown>) =>
      invoke(upsertSale, {
        routeKey: "POST /sales",
        method: "POST",
        path: "/sales",
        body: JSON.stringify({ id: "bad-draw", name: "x", stock: 1, perUserLimit: 1, ...body }),
        claims: admin(),
      });
    expect((await define({ mode: "draw", holdSeconds: 60, price: DRAW.price })).status).toBe(400);
    expect((await define({ mode: "draw", entriesCloseAt: inAnHour() })).status).toBe(400);
    expect((await define({ entriesCloseAt: inAnHour() })).status).toBe(400);
    expect((await define({ mode: "lottery", entriesCloseAt: inAnHour() })).status).toBe(400);
    // A first-come sale cannot become a draw, nor the reverse.
    const changed = await invoke(upsertSale, {
      routeKey: "POST /sales",
      method: "POST",
      path: "/sales",
      body: JSON.stringify({ id: saleId, name: "x", stock: 3, perUserLimit: 2 }),
      claims: admin(),
    });
    expect(changed.status).toBe(409);
    expect(changed.body).toMatchObject({ error: { code: "MODE_IMMUTABLE" } });
  });

  it("enters once, answers a repeat with the first entry, and refuses bad input without changing state", async () => {
    const saleId = await createDraw();
    const first = await invoke(enter, entryEvent(saleId, "alice", JSON.stringify({ quantity: 2 })));
    expect(first.status).toBe(201);
    const again = await invoke(enter, entryEvent(saleId, "alice", JSON.stringify({ quantity: 1 })));
    expect(again.status).toBe(200);
    expect(again.body).toEqual(first.body);

    const before = await saleSnapshot(redis, saleId);
    const entriesBefore = await redis.hgetall(drawKeys(saleId).entries);
    for (const [body, status] of [
      ["{", 400],
      [JSON.stringify({ quantity: "2" }), 400],
      [JSON.stringify({ quantity: 0 }), 400],
      [JSON.stringify({ quantity: 3 }), 409],
      [JSON.stringify([1]), 400],
    ] as const) {
      const reply = await invoke(enter, entryEvent(saleId, "bob", body));
      expect(reply.status, body).toBe(status);
      expect(reply.raw).not.toMatch(/at .*\.ts/);
    }
    expect((await invoke(enter, entryEvent(saleId, undefined))).status).toBe(401);
    expect((await invoke(enter, entryEvent("no-such-draw", "bob"))).status).toBe(404);
    expect(await saleSnapshot(redis, saleId)).toEqual({
      ...before,
      sale: { ...before.sale },
    });
    expect(await redis.hgetall(drawKeys(saleId).entries)).toEqual(entriesBefore);

    const buyReply = await invoke(buy, buyEvent(saleId, "carol"));
    expect(buyReply.status).toBe(409);
    expect(buyReply.body).toMatchObject({ error: { code: "DRAW_SALE" } });
    const firstCome = await createSaleVia(upsertSale, {}, "dapi");
    const notADraw = await invoke(enter, entryEvent(firstCome, "bob"));
    expect(notADraw.body).toMatchObject({ error: { code: "NOT_A_DRAW" } });

    const me = await invoke(myEntry, meEvent(saleId, "alice"));
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ quantity: 2, result: "pending" });
    expect((await invoke(myEntry, meEvent(saleId, "nobody"))).body).toMatchObject({
      error: { code: "ENTRY_NOT_FOUND" },
    });
  });

  it("refuses entries before the window opens", async () => {
    const saleId = await createDraw({
      entriesOpenAt: inAnHour(),
      entriesCloseAt: new Date(Date.now() + 7_200_000).toISOString(),
    });
    const reply = await invoke(enter, entryEvent(saleId, "early"));
    expect(reply.status).toBe(409);
    expect(reply.body).toMatchObject({ error: { code: "ENTRIES_NOT_OPEN" } });
  });

  it("freezes on the admin's call, draws, publishes, and the publication verifies", async () => {
    const saleId = await createDraw();
    for (let i = 0; i < 12; i++) {
      const reply = await invoke(
        enter,
        entryEvent(saleId, `e${i}`, JSON.stringify({ quantity: 1 + (i % 2) })),
      );
      expect(reply.status).toBe(201);
    }
    expect((await invoke(stats, statsEvent(saleId))).body).toMatchObject({
      draw: { state: "open", entries: 12, winners: 0, awarded: 0, alternates: 0 },
    });
    const open = await invoke(getDraw, drawEvent(saleId));
    expect(open.body).toMatchObject({ state: "open", entries: 12 });
    expect(open.body).not.toHaveProperty("seed");
    expect((await invoke(getDraw, pageEvent(saleId, "0"))).body).toMatchObject({
      error: { code: "DRAW_NOT_DRAWN" },
    });

    expect((await invoke(adminDraw, adminDrawEvent(saleId, buyer("e1")))).status).toBe(403);
    const frozen = await invoke(adminDraw, adminDrawEvent(saleId));
    expect(frozen.status).toBe(202);
    expect(frozen.body).toMatchObject({ state: "frozen", entries: 12 });
    expect((await invoke(enter, entryEvent(saleId, "too-late"))).body).toMatchObject({
      error: { code: "ENTRIES_CLOSED" },
    });

    const report = await runDraws({}, lambdaContext("run-draws"));
    expect(report.drawn).toBeGreaterThanOrEqual(1);
    const drawn = await invoke(getDraw, drawEvent(saleId));
    const draw = drawn.body as Parameters<typeof verifyDraw>[0] & { pages: number; state: string };
    expect(draw.state).toBe("drawn");
    expect(createHash("sha256").update(Buffer.from(draw.seed, "hex")).digest("hex")).toBe(
      draw.commitment,
    );
    const page = await invoke(getDraw, pageEvent(saleId, "0"));
    const packed = Buffer.from((page.body as { entries: string }).entries, "base64");
    expect(packed.length).toBe(12 * 34);
    expect(verifyDraw(draw, packed)).toMatchObject({ ok: true });
    expect((await invoke(getDraw, pageEvent(saleId, "x"))).status).toBe(400);

    const units = draw.winners.reduce((sum, w) => sum + w.quantity, 0);
    expect(units).toBeLessThanOrEqual(3);
    const views = await Promise.all(
      Array.from(
        { length: 12 },
        async (_, i) => (await invoke(myEntry, meEvent(saleId, `e${i}`))).body,
      ),
    );
    const won = views.filter((v) => (v as { result: string }).result === "won");
    expect(won).toHaveLength(draw.winners.length);
    for (const view of won)
      expect(view).toMatchObject({ order: { payment: "held", currency: "eur" } });
    // The dashboard's view: the draw's state, its winners and their held orders.
    expect((await invoke(stats, statsEvent(saleId))).body).toMatchObject({
      draw: { state: "drawn", entries: 12, winners: draw.winners.length, alternates: 0 },
      holds: { held: units, paid: 0 },
    });
    // A buyer finds their own entry in the list by the hash they are shown.
    const mine = views[0] as { entryHash: string };
    expect(packed.toString("hex")).toContain(mine.entryHash);
  });

  it("answers 404 for the draw of a sale that is not a draw", async () => {
    const saleId = await createSaleVia(upsertSale, {}, "dapi");
    expect((await invoke(getDraw, drawEvent(saleId))).body).toMatchObject({
      error: { code: "DRAW_NOT_FOUND" },
    });
    expect((await invoke(adminDraw, adminDrawEvent(saleId))).status).toBe(404);
  });

  it("npm run verify-draw passes a genuine draw over HTTP and exits 1 on a changed entry, seed or winner", async () => {
    const saleId = await createDraw({ stock: 4 });
    for (let i = 0; i < 20; i++)
      await invoke(enter, entryEvent(saleId, `cli${i}`, JSON.stringify({ quantity: 1 + (i % 2) })));
    expect((await invoke(adminDraw, adminDrawEvent(saleId))).status).toBe(202);
    await runDraws({}, lambdaContext("run-draws"));
    const mine = (await invoke(myEntry, meEvent(saleId, "cli0"))).body as {
      entryHash: string;
      result: string;
    };

    // The public routes through the local gateway, as a stranger reads them: no token.
    const server = createHttpHost({
      routes: HTTP_ROUTES.filter((route) => route.handler === "get-draw"),
      handlers: new Map([["get-draw", getDraw]]),
      jwt: localJwtSettings({}),
    });
    await listen(server, 0);
    const api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const run = (args: string[]) =>
      promisify(execFile)("npx", ["tsx", "scripts/verify-draw.ts", ...args], {
        cwd: PROJECT_ROOT,
        timeout: 60_000,
      }).then(
        (done) => ({ code: 0, stdout: done.stdout }),
        (failed: { code: number; stdout: string }) => ({
          code: failed.code,
          stdout: failed.stdout,
        }),
      );
    try {
      const genuine = await run(["--sale", saleId, "--api", api, "--hash", mine.entryHash]);
      expect(genuine.stdout).toContain("verified: 20 entries");
      expect(genuine.stdout).toContain(mine.entryHash);
      expect(genuine.code).toBe(0);

      const fetched = (await fetch(`${api}/sales/${saleId}/draw`).then((r) => r.json())) as {
        seed: string;
        winners: unknown[];
      };
      const page = (await fetch(`${api}/sales/${saleId}/draw/entries?page=0`).then((r) =>
        r.json(),
      )) as { entries: string };
      const saved = { ...fetched, entriesPacked: page.entries };
      const dir = mkdtempSync(join(tmpdir(), "verify-draw-"));
      const check = async (name: string, publication: Record<string, unknown>) => {
        const file = join(dir, `${name}.json`);
        writeFileSync(file, JSON.stringify(publication));
        return run(["--file", file]);
      };
      expect((await check("same", saved)).code).toBe(0);

      const entries = Buffer.from(saved.entriesPacked, "base64");
      entries[40] = (entries[40] ?? 0) ^ 1; // a byte of the second entry's hash
      const changedEntry = await check("entry", {
        ...saved,
        entriesPacked: entries.toString("base64"),
      });
      expect(changedEntry.code).toBe(1);
      expect(changedEntry.stdout).toContain("DRAW VERIFICATION FAILED");

      const seed = `${saved.seed.slice(0, -1)}${saved.seed.endsWith("0") ? "1" : "0"}`;
      expect((await check("seed", { ...saved, seed })).code).toBe(1);

      const [first, ...rest] = saved.winners as { hash: string; quantity: number }[];
      const changedWinner = await check("winner", {
        ...saved,
        winners: [{ ...first, quantity: (first?.quantity ?? 1) === 1 ? 2 : 1 }, ...rest],
      });
      expect(changedWinner.code).toBe(1);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  }, 120_000);
});
