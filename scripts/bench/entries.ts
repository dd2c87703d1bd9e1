import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { Redis } from "ioredis";
import pg from "pg";
import { drawKeys, saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { signLocalToken } from "../../local/auth.js";
import { jsonClient } from "../../local/http-client.js";
import { PROJECT_ROOT } from "../../local/services/index.js";
import { forkTs } from "./children.js";
import { signTokens } from "./tokens.js";
import { runWrk, type WrkResult, wrkAvailable } from "./wrk.js";

/**
 * npm run bench:entries: the draw's entry path against the buy path, and the
 * draw over a million entries.
 *
 *   npm run bench:entries [-- --seconds 8 --rounds 3 --connections 200
 *                           --fill 1000000 --direct --no-rows --workers 2]
 *
 * 1. Rounds (buy, then entry, alternately), each wrk run of --seconds with
 *    --connections, every request a buyer of its own (pre-signed tokens, never
 *    reused across runs), the per-buyer rate limit on: POST /sales/A/buy on a
 *    first-come sale with a large stock, POST /sales/D/entries on a draw. The
 *    consumer is off (it runs in its own Lambdas in AWS). Reported as ratios
 *    entries/s ÷ buys/s, round by round, as the machine is shared and noisy.
 * 2. Fill: --fill entries in a new draw, through the API (wrk, as above) or,
 *    with --direct, written as the entry path and the consumer would write them
 *    (Redis hash + rows), which takes seconds instead of minutes: nine in ten
 *    in both, one in ten in Redis only (its row still queued), one in ten a row
 *    only (Redis lost it). --no-rows: every entry in Redis only, as if the
 *    consumer had not written one row yet (the draw then writes them all).
 * 3. The draw: the run-draws function in a process of its own
 *    (draw-function.ts: cold start, one invocation), its wall time and peak RSS
 *    against the 2048 MB it is given in AWS, and the published draw verified.
 *
 * Writes bench/entries.json. Bounded: every wrk run stops by itself.
 */
const { values: args } = parseArgs({
  options: {
    seconds: { type: "string", default: "8" },
    rounds: { type: "string", default: "3" },
    connections: { type: "string", default: "200" },
    fill: { type: "string", default: "0" },
    direct: { type: "boolean", default: false },
    "no-rows": { type: "boolean", default: false },
    workers: { type: "string", default: "2" },
    threads: { type: "string", default: "1" },
  },
});
const seconds = Number(args.seconds);
const rounds = Number(args.rounds);
const connections = Number(args.connections);
const fill = Number(args.fill);
const log = (line: string) => process.stdout.write(`${line}\n`);

if (!wrkAvailable()) {
  log("wrk is not installed: run `npm run bench:entries` (its pre-script installs it)");
  process.exit(1);
}
const workDir = join(PROJECT_ROOT, "bench");
mkdirSync(workDir, { recursive: true });

type StackReady = { type: "ready"; url: string; env: Record<string, string> };
const stack = await forkTs<StackReady>(join(import.meta.dirname, "stack-process.ts"), {
  BENCH_WORKERS: args.workers,
});
const { url, env } = stack.ready;
const client = jsonClient(url, 16);
const redis = new Redis(env.REDIS_URL ?? "");
const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 4 });
db.on("error", () => {});
const adminToken = await signLocalToken({ sub: "bench-admin", scopes: ["admin"] });

async function createSale(body: Record<string, unknown>): Promise<string> {
  const id = `${body.mode === "draw" ? "draw" : "buy"}-bench-${randomUUID().slice(0, 8)}`;
  const reply = await client.call("POST", "/sales", {
    headers: { authorization: `Bearer ${adminToken}` },
    body: { id, name: "bench", perUserLimit: 1, ...body },
  });
  if (reply.status !== 201)
    throw new Error(`POST /sales: ${reply.status} ${JSON.stringify(reply.body)}`);
  return id;
}
const inADay = () => new Date(Date.now() + 86_400_000).toISOString();
const drawDefinition = (stock: number) => ({
  stock,
  mode: "draw",
  entriesCloseAt: inADay(),
  holdSeconds: 600,
  price: { amount: 1000, currency: "eur" },
});

let runNo = 0;
/** A wrk run where every request is a buyer never seen before. */
async function wrkRun(path: string, expected: number): Promise<WrkResult> {
  runNo++;
  const file = join(workDir, `entries-tokens-${runNo}.txt`);
  const subjects = Array.from({ length: expected }, (_, i) => `r${runNo}-${i}`);
  writeFileSync(file, `${signTokens(subjects).join("\n")}\n`);
  return runWrk({
    baseUrl: url,
    path,
    tokensFile: file,
    connections,
    durationSeconds: seconds,
    threads: Number(args.threads),
    workDir,
  });
}

const results: Record<string, unknown> = { seconds, rounds, connections };
try {
  const buySale = await createSale({ stock: 50_000_000, perUserLimit: 1 });
  const drawSale = await createSale(drawDefinition(1000));
  // Token pools larger than any run can use: every request a new buyer.
  const pool = Math.max(20_000, seconds * 15_000);
  const table: Array<{
    round: number;
    buysPerSecond: number;
    entriesPerSecond: number;
    ratio: number;
  }> = [];
  for (let round = 1; round <= rounds; round++) {
    const buys = await wrkRun(`/sales/${buySale}/buy`, pool);
    const entries = await wrkRun(`/sales/${drawSale}/entries`, pool);
    const ok = (r: WrkResult, code: string) => Math.round((r.statusCounts[code] ?? 0) / r.seconds);
    const row = {
      round,
      buysPerSecond: ok(buys, "202"),
      entriesPerSecond: ok(entries, "201"),
      ratio: 0,
      buyStatuses: buys.statusCounts,
      entryStatuses: entries.statusCounts,
      buyP99Ms: buys.latencyMs.p99,
      entryP99Ms: entries.latencyMs.p99,
    };
    row.ratio = Math.round((row.entriesPerSecond / Math.max(1, row.buysPerSecond)) * 100) / 100;
    table.push(row);
    log(
      `round ${round}: buys ${row.buysPerSecond}/s (p99 ${row.buyP99Ms} ms), entries ${row.entriesPerSecond}/s (p99 ${row.entryP99Ms} ms): ${row.ratio}x`,
    );
  }
  results.rounds = table;

  if (fill > 0) {
    const saleId = await createSale(drawDefinition(Math.max(1, Math.round(fill / 1000))));
    const started = performance.now();
    if (args.direct) await directFill(saleId, fill);
    else await apiFill(saleId, fill);
    const fillSeconds = (performance.now() - started) / 1000;
    const entered = Number(await redis.hget(saleKeys(saleId).sale, "entries"));
    log(
      `fill: ${entered} entries in ${fillSeconds.toFixed(1)} s (${args.direct ? "direct" : "through the API"})`,
    );
    await client.call("POST", `/admin/sales/${saleId}/draw`, {
      headers: { authorization: `Bearer ${adminToken}` },
    });
    const { stdout } = await promisify(execFile)(
      "npx",
      ["tsx", join(import.meta.dirname, "draw-function.ts")],
      {
        cwd: PROJECT_ROOT,
        env: { ...process.env, ...env, DRAW_SETTLE_MS: "0", POWERTOOLS_LOG_LEVEL: "INFO" },
        maxBuffer: 16 * 1024 * 1024,
        timeout: 600_000,
      },
    );
    const lines = stdout.trim().split("\n");
    const line = lines.at(-1) ?? "{}";
    // The runner's own log line of the draw: its phases (scan, rows, hash and pack, shuffle, record, install).
    const drawLog = lines
      .map((l) => {
        try {
          return JSON.parse(l) as { message?: string; phases?: Record<string, number> };
        } catch {
          return {};
        }
      })
      .find((l) => l.message === "draw");
    const drawRun = JSON.parse(line) as {
      ms: number;
      peakRssMb: number;
      report: { drawMs: Record<string, number> };
    };
    const { verifyDraw } = await import("../../lambdas/domain/draw.js");
    const { fetchDraw } = await import("../../local/draw-api.js");
    const published = await fetchDraw(url, saleId);
    const check = published ? verifyDraw(published.draw, published.packed) : { ok: false };
    results.draw = {
      entries: entered,
      fillSeconds,
      fillPerSecond: Math.round(entered / fillSeconds),
      direct: args.direct,
      rows: args.direct ? (args["no-rows"] ? "none" : "nine in ten") : "as the consumer wrote them",
      functionMs: drawRun.ms,
      drawMs: drawRun.report.drawMs[saleId],
      peakRssMb: drawRun.peakRssMb,
      phases: drawLog?.phases,
      memoryMb: 2048,
      winners: published?.draw.winners.length,
      verified: check.ok,
    };
    log(
      `phases: ${JSON.stringify(drawLog?.phases ?? {})}\ndraw over ${entered} entries: ${drawRun.report.drawMs[saleId]} ms in the function (${drawRun.ms} ms the invocation), peak RSS ${drawRun.peakRssMb} MB of 2048 MB; ${published?.draw.winners.length} winners; verified: ${check.ok}`,
    );
  }
  writeFileSync(join(workDir, "entries.json"), `${JSON.stringify(results, null, 2)}\n`);
  log(`wrote ${join(workDir, "entries.json")}`);
} finally {
  client.close();
  redis.disconnect();
  await db.end();
  await stack.stop();
}

/** Entries through the API, wrk with new buyers until `count` are in. */
async function apiFill(saleId: string, count: number) {
  while (Number(await redis.hget(saleKeys(saleId).sale, "entries")) < count) {
    await wrkRun(`/sales/${saleId}/entries`, Math.min(count, seconds * 15_000));
  }
}

/**
 * Entries as the entry path (the hash in Redis) and the consumer (the rows)
 * would write them; one in ten in Postgres only, one in ten in Redis only
 * (a failover lost it; its message is still queued), so the draw unites both.
 */
async function directFill(saleId: string, count: number) {
  const key = drawKeys(saleId).entries;
  const now = Date.now();
  const chunk = 10_000;
  for (let from = 0; from < count; from += chunk) {
    const users: string[] = [];
    for (let i = from; i < Math.min(count, from + chunk); i++) users.push(`fill-${i}`);
    const quantity = (i: number) => 1 + (i % 2);
    const redisOnes = args["no-rows"] ? users : users.filter((_, j) => (from + j) % 10 !== 0);
    const rowOnes = args["no-rows"] ? [] : users.filter((_, j) => (from + j) % 10 !== 1);
    const fields: string[] = [];
    for (const user of redisOnes) {
      const i = Number(user.slice(5));
      fields.push(user, `${randomUUID()}\t${quantity(i)}\t${now}`);
    }
    await redis.hset(key, ...fields);
    await db.query(
      `INSERT INTO draw_entries (sale_id, user_id, entry_id, quantity, entered_at)
       SELECT $1, u, gen_random_uuid(), q, now() FROM unnest($2::text[], $3::int[]) AS t(u, q)`,
      [saleId, rowOnes, rowOnes.map((u) => quantity(Number(u.slice(5))))],
    );
  }
  await redis.hset(saleKeys(saleId).sale, "entries", count);
}
