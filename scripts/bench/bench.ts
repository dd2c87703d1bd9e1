import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { Redis } from "ioredis";
import pg from "pg";
import { saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { defineScripts } from "../../lambdas/adapters/redis/scripts.js";
import { queueDepth } from "../../lambdas/adapters/sqs/queue-depths.js";
import { signLocalToken } from "../../local/auth.js";
import { jsonClient } from "../../local/http-client.js";
import { PROJECT_ROOT } from "../../local/services/index.js";
import { localSqsClient } from "../../local/services/sqs-server.js";
import type { SqsLambda } from "../../local/sqs-event-source.js";
import { forkTs } from "./children.js";
import { drainQueue, handlerOnly, insertReference, reservedOrders } from "./consumer-drain.js";
import { type CpuProfile, summarizeProfile } from "./cpuprofile.js";
import { machineBusySeconds, watchCpu } from "./procstat.js";
import {
  type BenchResults,
  evaluateTargets,
  formatMarkdown,
  formatTable,
  type RunResult,
} from "./report.js";
import { runWrk, type WrkResult, wrkAvailable } from "./wrk.js";

/**
 * npm run bench: a bounded benchmark (about 2 minutes) of the local stack,
 * measured in one run against a reference ceiling on the same machine.
 *
 *   npm run bench [-- --duration 8 --connections 100,1000 --warmup 2 --threads 1
 *                     --no-profile --profile-seconds 5 --drain-timeout 60]
 *
 * 1. the buy path accepting (large stock, 2,000 users, a unique Idempotency-Key
 *    per request) at each connection count;
 * 2. the reference: a bare node:http server doing one EVALSHA of reserve-8.lua
 *    per request against the same redis-server (scripts/bench/reference-server.ts);
 * 3. the buy path refusing (a sold-out sale: every request is a 409);
 * 4. the consumer draining the queue the buy path filled into Postgres.
 *
 * The stack and the reference each run in their own process, wrk in a third.
 * Writes bench/results.json and bench/summary.md (and CPU profiles in bench/profiles/).
 * Exits 1 only when a consistency check fails (oversold, a buyer above the
 * limit, sold ≠ answered 202s, rows missing after the drain); missed
 * performance targets are reported, not failed.
 */

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "8" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "100,1000" },
    threads: { type: "string", default: "1" },
    users: { type: "string", default: "2000" },
    profile: { type: "boolean", default: true },
    // As npm start runs the local host: one HTTP worker per core. 0 serves from
    // the stack process itself, which is what the CPU profiles can see.
    workers: { type: "string", default: String(availableParallelism()) },
    "profile-seconds": { type: "string", default: "5" },
    "drain-timeout": { type: "string", default: "60" },
  },
  allowNegative: true,
});
const durationSeconds = Number(args.duration);
const warmupSeconds = Number(args.warmup);
const connectionCounts = args.connections.split(",").map(Number);
const threads = Number(args.threads);
const users = Number(args.users);
const profileSeconds = Number(args["profile-seconds"]);
const PER_USER_LIMIT = 100;
const BIG_STOCK = 10_000_000;
const SOLD_OUT_STOCK = 10;

const BENCH_DIR = join(PROJECT_ROOT, "bench");
const WORK_DIR = join(BENCH_DIR, "work");
const PROFILE_DIR = join(BENCH_DIR, "profiles");
mkdirSync(WORK_DIR, { recursive: true });
mkdirSync(PROFILE_DIR, { recursive: true });

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
process.env.POWERTOOLS_LOG_LEVEL = "ERROR";

const startedAt = performance.now();
const tty = process.stdout.isTTY;
const clock = () => `[${String(Math.round((performance.now() - startedAt) / 1000)).padStart(3)} s]`;
const say = (line: string) => process.stdout.write(`${tty ? "\r\x1b[K" : ""}${clock()} ${line}\n`);
const tick = (label: string, total: number) => (elapsed: number) => {
  if (tty)
    process.stdout.write(`\r\x1b[K${clock()}   ${label}: ${Math.min(elapsed, total)}/${total} s`);
};

if (!wrkAvailable()) {
  process.stderr.write(
    "wrk is not installed: run `npm run setup -- --bench` (apt-get install wrk, as root or with sudo)\n",
  );
  process.exit(1);
}

interface StackReady {
  type: "ready";
  url: string;
  env: Record<string, string>;
  pids: { stack: number; redis?: number; postgres?: number; sqs?: number; workers?: number[] };
}
interface ReferenceReady {
  type: "ready";
  url: string;
  pid: number;
}

const busyBefore = machineBusySeconds();
await new Promise((resolve) => setTimeout(resolve, 1000));
const othersBusyPercent = Math.round((machineBusySeconds() - busyBefore) * 100);
if (othersBusyPercent > 20)
  say(
    `WARNING: the machine is already ${othersBusyPercent}% busy (of ${cpus().length * 100}%) before the bench starts; figures will be low and noisy`,
  );
say("starting the local stack (redis-server, Postgres, fauxqs, API host) in its own process ...");
const workers = Number(args.workers);
const stack = await forkTs<StackReady>(join(import.meta.dirname, "stack-process.ts"), {
  BENCH_WORKERS: String(workers),
});
let reference: Awaited<ReturnType<typeof forkTs<ReferenceReady>>> | undefined;
const { url, env, pids } = stack.ready;
say(
  `stack serving ${url} (pid ${pids.stack}${pids.workers?.length ? `, HTTP workers ${pids.workers.join(", ")}` : ", in-process"}); consumer paused during the load runs`,
);

const api = jsonClient(url, 64);
const redis = defineScripts(new Redis(env.REDIS_URL ?? "", { enableAutoPipelining: true }));
const db = new pg.Pool({ connectionString: env.DATABASE_URL, max: 2, application_name: "bench" });
db.on("error", () => {}); // a stop of Postgres may close idle clients
const sqs = localSqsClient(env.SQS_ENDPOINT ?? "");
const runId = randomUUID().slice(0, 6);
const benchSales: string[] = [];

async function shutdown(): Promise<void> {
  api.close();
  redis.disconnect();
  sqs.destroy();
  await db.end().catch(() => {});
  await reference?.stop();
  await stack.stop();
}
process.on("SIGINT", () => void shutdown().finally(() => process.exit(130)));

try {
  say(`signing ${users} buyer tokens (HS256, the local API Gateway's secret) ...`);
  const tokens = await Promise.all(
    Array.from({ length: users }, (_, i) => signLocalToken({ sub: `bench-${runId}-${i}` })),
  );
  const tokensFile = join(WORK_DIR, "tokens.txt");
  writeFileSync(tokensFile, `${tokens.join("\n")}\n`);
  const admin = await signLocalToken({ sub: "bench-admin", scopes: ["admin"] });

  async function createSale(kind: string, stock: number): Promise<string> {
    const id = `bench-${kind}-${runId}`;
    const reply = await api.call("POST", "/sales", {
      headers: { authorization: `Bearer ${admin}` },
      // wrk rotates 2,000 buyers far faster than people click: the per-buyer rate
      // limit (a few clicks, then 1/s) is off, so the runs measure the buy path.
      body: {
        id,
        name: `bench ${kind}`,
        stock,
        perUserLimit: PER_USER_LIMIT,
        rateLimit: { burst: 0, perSecond: 1 },
      },
    });
    if (reply.status !== 201) throw new Error(`POST /sales ${id}: ${reply.status}`);
    benchSales.push(id);
    return id;
  }

  const trackedPids = (server: "stack" | "reference") => ({
    ...(server === "stack"
      ? {
          "stack (API host)": { pid: pids.stack },
          ...Object.fromEntries(
            (pids.workers ?? []).map((pid, i) => [`stack HTTP worker ${i + 1}`, { pid }]),
          ),
        }
      : { "reference server": { pid: reference?.ready.pid ?? 0 } }),
    "redis-server": { pid: pids.redis ?? 0 },
    "fauxqs (SQS)": { pid: pids.sqs ?? 0 },
    postgres: { pid: pids.postgres ?? 0, tree: true },
    "bench (this process)": { pid: process.pid },
  });

  async function load(
    server: "stack" | "reference",
    saleId: string,
    connections: number,
    seconds: number,
    label: string,
  ): Promise<{ wrk: WrkResult; cpu: Record<string, number> }> {
    const target = server === "stack" ? url : (reference?.ready.url ?? "");
    const cpu = watchCpu(trackedPids(server));
    const wrk = await runWrk({
      onStart: (pid) => cpu.add("wrk", pid),
      baseUrl: target,
      path: `/sales/${saleId}/buy`,
      tokensFile,
      connections,
      durationSeconds: seconds,
      threads,
      workDir: WORK_DIR,
      onTick: tick(label, seconds),
    });
    return { wrk, cpu: cpu.stop() };
  }

  async function soldAndMaxPerUser(saleId: string) {
    const keys = saleKeys(saleId);
    const [sale, held] = await Promise.all([redis.hgetall(keys.sale), redis.hvals(keys.buyers)]);
    return {
      stock: Number(sale.stock),
      sold: Number(sale.stock) - Number(sale.remaining),
      maxPerUser: held.reduce((max, units) => Math.max(max, Number(units)), 0),
    };
  }

  const runs: RunResult[] = [];
  const record = (run: RunResult) => {
    runs.push(run);
    const w = run.wrk;
    say(
      `  ${run.label}: ${w.requestsPerSecond.toLocaleString("en-US")} req/s, p50 ${w.latencyMs.p50} ms, p99 ${w.latencyMs.p99} ms, statuses ${JSON.stringify(w.statusCounts)}${w.errors.timeout ? `, ${w.errors.timeout} timeouts` : ""}`,
    );
  };

  // 1. The reference ceiling.
  const referenceSale = await createSale("reference", 100_000_000);
  reference = await forkTs<ReferenceReady>(join(import.meta.dirname, "reference-server.ts"), {
    REDIS_URL: env.REDIS_URL ?? "",
    SALE_ID: referenceSale,
  });
  say(`reference server (node:http + one EVALSHA of reserve-8.lua) on ${reference.ready.url}`);
  await load("reference", referenceSale, 100, warmupSeconds, "warm-up");
  for (const connections of connectionCounts) {
    const label = `reference, ${connections} connections`;
    say(`${label} for ${durationSeconds} s ...`);
    const { wrk, cpu } = await load(
      "reference",
      referenceSale,
      connections,
      durationSeconds,
      label,
    );
    record({ label, scenario: "reference", connections, saleId: referenceSale, wrk, cpu });
  }
  await reference.stop();
  reference = undefined;

  // 1b. Reference (b): the same, plus the one SQS SendMessage the buy path must make.
  const referenceSendSale = await createSale("reference-send", 100_000_000);
  reference = await forkTs<ReferenceReady>(join(import.meta.dirname, "reference-server.ts"), {
    ...env,
    REDIS_URL: env.REDIS_URL ?? "",
    SALE_ID: referenceSendSale,
    REFERENCE_SEND: "1",
  });
  say(`reference (b) (node:http + EVALSHA + SendMessage) on ${reference.ready.url}`);
  await load("reference", referenceSendSale, 100, warmupSeconds, "warm-up");
  for (const connections of connectionCounts) {
    const label = `reference (b), ${connections} connections`;
    say(`${label} for ${durationSeconds} s ...`);
    const { wrk, cpu } = await load(
      "reference",
      referenceSendSale,
      connections,
      durationSeconds,
      label,
    );
    record({ label, scenario: "reference-send", connections, saleId: referenceSendSale, wrk, cpu });
  }
  await reference.stop();
  reference = undefined;

  // 2. The buy path accepting: every request a new buy that succeeds.
  const warmSale = await createSale("warmup", BIG_STOCK);
  say(`warming the stack up for ${warmupSeconds} s ...`);
  await load("stack", warmSale, 100, warmupSeconds, "warm-up");
  for (const connections of connectionCounts) {
    const saleId = await createSale(`accepting-${connections}`, BIG_STOCK);
    const label = `buy path accepting, ${connections} connections`;
    say(`${label} for ${durationSeconds} s ...`);
    const { wrk, cpu } = await load("stack", saleId, connections, durationSeconds, label);
    const state = await soldAndMaxPerUser(saleId);
    const accepted = wrk.statusCounts["202"] ?? 0;
    // wrk stops with up to one request per connection in flight: the server may
    // have sold those units without wrk counting the 202. Any other gap is a bug.
    const unanswered = connections + wrk.errors.timeout + wrk.errors.read + wrk.errors.write;
    const check = {
      ...state,
      accepted,
      perUserLimit: PER_USER_LIMIT,
      oversold: Math.max(0, state.sold - state.stock),
      inFlightAtStop: state.sold - accepted,
      ok:
        state.sold <= state.stock &&
        state.sold >= accepted &&
        state.sold - accepted <= unanswered &&
        state.maxPerUser <= PER_USER_LIMIT,
    };
    record({ label, scenario: "accepting", connections, saleId, wrk, cpu, check });
    say(
      `  consistency: sold ${check.sold} of ${check.stock}, ${accepted} answered 202 (+${check.inFlightAtStop} in flight when wrk stopped), most units per user ${check.maxPerUser} (limit ${PER_USER_LIMIT}): ${check.ok ? "ok" : "FAILED"}`,
    );
  }

  // 3. The buy path refusing: a sale that has sold out.
  const soldOutSale = await createSale("sold-out", SOLD_OUT_STOCK);
  for (let i = 0; i < SOLD_OUT_STOCK; i++) {
    await api.call("POST", `/sales/${soldOutSale}/buy`, {
      headers: { authorization: `Bearer ${tokens[i]}`, "idempotency-key": `sell-out-${i}` },
      body: { quantity: 1 },
    });
  }
  for (const connections of connectionCounts) {
    const label = `buy path sold out, ${connections} connections`;
    say(`${label} for ${durationSeconds} s ...`);
    const { wrk, cpu } = await load("stack", soldOutSale, connections, durationSeconds, label);
    const state = await soldAndMaxPerUser(soldOutSale);
    const refused = wrk.statusCounts["409"] ?? 0;
    const check = {
      ...state,
      accepted: wrk.statusCounts["202"] ?? 0,
      perUserLimit: PER_USER_LIMIT,
      oversold: Math.max(0, state.sold - state.stock),
      inFlightAtStop: 0,
      ok: state.sold === state.stock && refused === wrk.requests,
    };
    record({ label, scenario: "sold-out", connections, saleId: soldOutSale, wrk, cpu, check });
  }

  // 4. Where the time goes: CPU profiles of the stack process, apart from the measured runs.
  const profiles: BenchResults["profiles"] = [];
  if (args.profile && workers > 0) {
    say(
      "CPU profiles skipped: the handlers run in HTTP workers; run with --workers 0 to profile them",
    );
  }
  if (args.profile && workers === 0) {
    for (const scenario of ["accepting", "sold-out"] as const) {
      const saleId =
        scenario === "accepting" ? await createSale("profile", BIG_STOCK) : soldOutSale;
      const file = join(PROFILE_DIR, `stack-${scenario}-100.cpuprofile`);
      const label = `CPU profile of the stack, ${scenario}, 100 connections`;
      say(`${label} for ${profileSeconds} s ...`);
      await stack.request({ type: "profile-start" }, "profile-started");
      const { wrk, cpu } = await load("stack", saleId, 100, profileSeconds, label);
      await stack.request({ type: "profile-stop", file }, "profile-written", 60_000);
      const summary = summarizeProfile(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, 15);
      profiles.push({
        scenario,
        connections: 100,
        file: file.slice(PROJECT_ROOT.length + 1),
        requestsPerSecond: wrk.requestsPerSecond,
        cpu,
        summary,
      });
      say(
        `  profiled at ${wrk.requestsPerSecond} req/s; top packages: ${summary.byPackage
          .slice(0, 5)
          .map((p) => `${p.name} ${p.percent}%`)
          .join(", ")}`,
      );
    }
  }

  // 5. The consumer: drain what the buy path queued into Postgres.
  const queuedSales = benchSales.filter(
    (id) => !id.includes("sold-out") && !id.includes("reference"),
  );
  const expectedRows = (
    await Promise.all(queuedSales.map(async (id) => (await soldAndMaxPerUser(id)).sold))
  ).reduce((a, b) => a + b, 0);
  const soldOutSold = SOLD_OUT_STOCK;
  const queued = await queueDepth(sqs, env.ORDERS_QUEUE_URL ?? "");
  say(
    `draining ${queued.toLocaleString("en-US")} queued orders into Postgres (batch 100, window 200 ms, 2 concurrent, as npm start) ...`,
  );
  Object.assign(process.env, env);
  const consume = (await import("../../lambdas/handlers/consume-orders.js"))
    .handler as unknown as SqsLambda;
  const countRows = async () =>
    (
      await db.query("SELECT count(*)::int AS n FROM orders WHERE sale_id = ANY($1)", [
        [...queuedSales, soldOutSale],
      ])
    ).rows[0].n as number;
  const drainCpu = watchCpu({
    "bench (consumer)": { pid: process.pid },
    "redis-server": { pid: pids.redis ?? 0 },
    "fauxqs (SQS)": { pid: pids.sqs ?? 0 },
    postgres: { pid: pids.postgres ?? 0, tree: true },
  });
  // The consumer runs in this process: profile it here, as the stack's profile above.
  const drainProfile = args.profile ? new Session() : undefined;
  if (drainProfile) {
    drainProfile.connect();
    await drainProfile.post("Profiler.enable");
    await drainProfile.post("Profiler.setSamplingInterval", { interval: 500 });
    await drainProfile.post("Profiler.start");
  }
  const drained = await drainQueue({
    sqs,
    queueUrl: env.ORDERS_QUEUE_URL ?? "",
    handler: consume,
    batchSize: 100,
    batchingWindowMs: 200,
    concurrency: 2,
    countRows,
    expectedRows: expectedRows + soldOutSold,
    timeoutMs: Number(args["drain-timeout"]) * 1000,
    onProgress: (rows, expected) => {
      if (tty) process.stdout.write(`\r\x1b[K${clock()}   ${rows}/${expected} rows`);
    },
  });
  const drainCpuUse = drainCpu.stop();
  if (drainProfile) {
    const { profile } = await drainProfile.post("Profiler.stop");
    drainProfile.disconnect();
    const file = join(PROFILE_DIR, "consumer-drain.cpuprofile");
    writeFileSync(file, JSON.stringify(profile));
    const summary = summarizeProfile(profile as unknown as CpuProfile, 15);
    profiles.push({
      scenario: "consumer drain",
      connections: 0,
      file: file.slice(PROJECT_ROOT.length + 1),
      requestsPerSecond: drained.ordersPerSecond,
      cpu: {},
      summary,
    });
    say(
      `  consumer profile; top packages: ${summary.byPackage
        .slice(0, 5)
        .map((p) => `${p.name} ${p.percent}%`)
        .join(", ")}`,
    );
  }
  say(
    `  ${drained.rows.toLocaleString("en-US")} rows in ${drained.seconds.toFixed(1)} s: ${drained.ordersPerSecond.toLocaleString("en-US")} orders/s${drained.complete ? "" : " (INCOMPLETE: timed out)"}`,
  );
  say("direct-INSERT reference and the handler alone (10,000 orders each, batch 100) ...");
  const reservations = new RedisSaleStore(redis);
  const insertsPerSecond = await insertReference(
    db,
    (await reservedOrders(reservations, 10_000)).messages,
    100,
  );
  const handlerPerSecond = await handlerOnly(
    consume,
    (await reservedOrders(reservations, 10_000)).messages,
    100,
  );
  say(
    `  INSERT alone ${insertsPerSecond.toLocaleString("en-US")}/s; handler alone (no queue) ${handlerPerSecond.toLocaleString("en-US")} orders/s`,
  );

  const results: BenchResults = {
    measuredAt: new Date().toISOString(),
    machine: {
      cpus: cpus().length,
      busyBeforeStartPercent: othersBusyPercent,
      node: process.version,
      loadGenerator: `wrk, ${threads} thread(s)`,
    },
    settings: {
      durationSeconds,
      warmupSeconds,
      connections: connectionCounts,
      users,
      perUserLimit: PER_USER_LIMIT,
    },
    runs,
    profiles,
    consumer: {
      orders: expectedRows + soldOutSold,
      queuedAtStart: queued,
      rows: drained.rows,
      seconds: Number(drained.seconds.toFixed(2)),
      ordersPerSecond: drained.ordersPerSecond,
      complete: drained.complete,
      batchSize: 100,
      concurrency: 2,
      referenceInsertsPerSecond: insertsPerSecond,
      handlerOnlyPerSecond: handlerPerSecond,
      ratio: Number((drained.ordersPerSecond / insertsPerSecond).toFixed(3)),
      cpu: drainCpuUse,
    },
    targets: [],
    wallSeconds: 0,
  };
  results.targets = evaluateTargets(results);
  results.wallSeconds = Math.round((performance.now() - startedAt) / 1000);
  writeFileSync(join(BENCH_DIR, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(BENCH_DIR, "summary.md"), formatMarkdown(results));
  process.stdout.write(`\n${formatTable(results)}\n`);
  say("wrote bench/results.json and bench/summary.md");
  // Missed performance targets are reported; a consistency failure fails the run.
  const exact = runs.every((run) => run.check?.ok ?? true) && drained.complete;
  if (!exact) say("CONSISTENCY CHECK FAILED (see above)");
  process.exitCode = exact ? 0 : 1;
} finally {
  await shutdown();
}
process.exit(process.exitCode ?? 0);
