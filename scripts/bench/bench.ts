import { randomUUID } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { Session } from "node:inspector/promises";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CreateQueueCommand } from "@aws-sdk/client-sqs";
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
import { LOCAL_STACK_SETTINGS } from "../../local/stack-settings.js";
import { forkTs } from "./children.js";
import { drainQueue, handlerOnly, insertReference, reservedOrders } from "./consumer-drain.js";
import { type CpuProfile, summarizeProfile } from "./cpuprofile.js";
import { type OneShotRequest, type OneShotResult, oneShot } from "./one-shot.js";
import { machineBusySeconds, watchCpu } from "./procstat.js";
import {
  type BenchResults,
  evaluateTargets,
  formatMarkdown,
  formatTable,
  type Measured,
  type RunResult,
  SERVER_LABELS,
  type ServerName,
} from "./report.js";
import { signTokens } from "./tokens.js";
import { runWrk, type WrkResult, wrkAvailable } from "./wrk.js";

/**
 * npm run bench: a bounded benchmark (about 3 to 4 minutes) of the local
 * stack beside the ORIGINAL system's design and the floor of the machine,
 * all measured in one run with the same client, Redis and SQS server:
 *
 *   npm run bench [-- --duration 6 --connections 100,1000 --warmup 2 --threads 1
 *                     --tokens 60000 --burst-rounds 3 --jmeter-seconds 10
 *                     --workers 2 --no-profile --profile-seconds 5 --drain-timeout 60]
 *
 * Servers, each in its own process:
 * - ours: the local stack (startStack, as `npm start -- --no-demo`, with the
 *   stage throttle lifted), consumer paused during the load runs;
 * - original: the original system's design (scripts/bench/original-server.mjs:
 *   Express, node-redis EVAL on one key, one SendMessage per success);
 * - floor: a bare node:http server answering a constant (floor-server.ts);
 * - reference (a): node:http + one EVALSHA of our reserve script, no token
 *   check, no send (reference-server.ts).
 *
 * Scenarios:
 * 1. burst race: 1,000 buyers at once, each one request on its own new
 *    connection, 100 units (median of --burst-rounds rounds, the servers
 *    taking turns); client-side latency;
 * 2. the original's JMeter plan: 1,000 buyers spread over 10 s, 100 units;
 * 3. steady load (wrk) at each connection count, every request a different
 *    buyer (--tokens pre-signed tokens, rotated; a userId of its own in the
 *    body for the original), the per-buyer rate limit on: accepting (a large
 *    stock), then sold out;
 * 4. the consumer draining what our buy path queued into Postgres.
 *
 * Writes bench/results.json and bench/summary.md (and CPU profiles in
 * bench/profiles/ with --workers 0). Exits 1 only when a consistency check
 * fails (oversold, statuses that do not match the stock, rows missing after
 * the drain); missed performance targets are reported, not failed.
 */

const { values: args } = parseArgs({
  options: {
    duration: { type: "string", default: "6" },
    warmup: { type: "string", default: "2" },
    connections: { type: "string", default: "100,1000" },
    threads: { type: "string", default: "1" },
    tokens: { type: "string", default: "60000" },
    "burst-rounds": { type: "string", default: "3" },
    "jmeter-seconds": { type: "string", default: "10" },
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
const tokenCount = Math.max(1_000, Number(args.tokens));
const burstRounds = Math.max(1, Number(args["burst-rounds"]));
const jmeterSeconds = Number(args["jmeter-seconds"]);
const profileSeconds = Number(args["profile-seconds"]);
const BUYERS = 1_000;
const RACE_STOCK = 100;
const PER_USER_LIMIT = 5;
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
interface ServerReady {
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
const others: Partial<Record<ServerName, Awaited<ReturnType<typeof forkTs<ServerReady>>>>> = {};
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
const ourSales: string[] = [];

async function shutdown(): Promise<void> {
  api.close();
  redis.disconnect();
  sqs.destroy();
  await db.end().catch(() => {});
  await Promise.all(Object.values(others).map((server) => server?.stop()));
  await stack.stop();
}
process.on("SIGINT", () => void shutdown().finally(() => process.exit(130)));

/** A plain request to one of the reference servers (the original's reset route). */
function post(base: string, path: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${base}${path}`, { method: "POST" }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode ?? 0));
    });
    req.on("error", reject);
    req.end();
  });
}

const fromWrk = (w: WrkResult): Measured => ({
  requests: w.requests,
  seconds: w.seconds,
  requestsPerSecond: w.requestsPerSecond,
  statusCounts: w.statusCounts,
  errors: w.errors.connect + w.errors.read + w.errors.write + w.errors.timeout,
  latencyMs: {
    p50: w.latencyMs.p50,
    p90: w.latencyMs.p90,
    p99: w.latencyMs.p99,
    max: w.latencyMs.max,
    mean: w.latencyMs.mean,
  },
});
const fromOneShot = (r: OneShotResult): Measured => ({
  requests: r.requests,
  seconds: r.wallMs / 1000,
  requestsPerSecond: Math.round(r.requests / (r.wallMs / 1000)),
  statusCounts: r.statusCounts,
  errors: r.errors,
  latencyMs: r.latencyMs,
});
/** The rounds of a burst as one: the median of each figure. */
function medianOf(rounds: Measured[]): Measured {
  const median = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return sorted[Math.floor((sorted.length - 1) / 2)] ?? 0;
  };
  const pick = (f: (m: Measured) => number) => median(rounds.map(f));
  const statusCounts: Record<string, number> = {};
  for (const round of rounds)
    for (const [status, n] of Object.entries(round.statusCounts))
      statusCounts[status] = (statusCounts[status] ?? 0) + n;
  return {
    requests: rounds.reduce((a, r) => a + r.requests, 0),
    seconds: pick((m) => m.seconds),
    requestsPerSecond: pick((m) => m.requestsPerSecond),
    statusCounts,
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    latencyMs: {
      p50: pick((m) => m.latencyMs.p50),
      p90: pick((m) => m.latencyMs.p90),
      p99: pick((m) => m.latencyMs.p99),
      max: pick((m) => m.latencyMs.max),
      mean: pick((m) => m.latencyMs.mean),
    },
  };
}

try {
  say(`signing ${tokenCount.toLocaleString("en-US")} distinct buyer tokens (HS256) ...`);
  const tokens = signTokens(Array.from({ length: tokenCount }, (_, i) => `bench-${runId}-${i}`));
  const tokensFile = join(WORK_DIR, "tokens.txt");
  writeFileSync(tokensFile, `${tokens.join("\n")}\n`);
  const adminJwt = await signLocalToken({ sub: "bench-admin", scopes: ["admin"] });

  async function createSale(
    kind: string,
    stock: number,
    options: { perUserLimit?: number; rateLimit?: "off" } = {},
  ): Promise<string> {
    const id = `bench-${kind}-${runId}`;
    const reply = await api.call("POST", "/sales", {
      headers: { authorization: `Bearer ${adminJwt}` },
      body: {
        id,
        name: `bench ${kind}`,
        stock,
        perUserLimit: options.perUserLimit ?? PER_USER_LIMIT,
        // The per-buyer rate limit stays at the sale's default (on) unless a run turns it off.
        ...(options.rateLimit === "off" ? { rateLimit: { burst: 0, perSecond: 1 } } : {}),
      },
    });
    if (reply.status !== 201) throw new Error(`POST /sales ${id}: ${reply.status}`);
    return id;
  }

  // The other servers, each in its own process, sharing the stack's redis-server and fauxqs.
  const originalQueue = await sqs.send(new CreateQueueCommand({ QueueName: `original-${runId}` }));
  const originalKey = `iphone_stock`;
  others.original = await forkTs<ServerReady>(join(import.meta.dirname, "original-server.mjs"), {
    REDIS_URL: env.REDIS_URL ?? "",
    SQS_ENDPOINT: env.SQS_ENDPOINT ?? "",
    ORIGINAL_QUEUE_URL: originalQueue.QueueUrl ?? "",
    ORIGINAL_STOCK_KEY: originalKey,
  });
  others.floor = await forkTs<ServerReady>(join(import.meta.dirname, "floor-server.ts"));
  const referenceSale = await createSale("reference", 100_000_000, {
    perUserLimit: 100,
    rateLimit: "off",
  });
  others["reference-a"] = await forkTs<ServerReady>(
    join(import.meta.dirname, "reference-server.ts"),
    { REDIS_URL: env.REDIS_URL ?? "", SALE_ID: referenceSale },
  );
  const urlOf = (server: ServerName) =>
    server === "ours" ? url : (others[server]?.ready.url ?? "");
  say(
    `original design (Express + node-redis EVAL + SendMessage) on ${urlOf("original")}; floor (node:http constant) on ${urlOf("floor")}; reference (a) (node:http + EVALSHA) on ${urlOf("reference-a")}`,
  );
  const originalStock = async () => Number(await redis.get(originalKey));

  const trackedPids = (server: ServerName) => ({
    ...(server === "ours"
      ? {
          "server: stack (API host)": { pid: pids.stack },
          ...Object.fromEntries(
            (pids.workers ?? []).map((pid, i) => [`server: stack HTTP worker ${i + 1}`, { pid }]),
          ),
        }
      : { [`server: ${server}`]: { pid: others[server]?.ready.pid ?? 0 } }),
    "redis-server": { pid: pids.redis ?? 0 },
    "fauxqs (SQS)": { pid: pids.sqs ?? 0 },
    postgres: { pid: pids.postgres ?? 0, tree: true },
    "bench (this process)": { pid: process.pid },
  });

  const pathOf = (server: ServerName, saleId: string) =>
    server === "original" ? "/buy" : server === "floor" ? "/buy" : `/sales/${saleId}/buy`;

  async function load(
    server: ServerName,
    saleId: string,
    connections: number,
    seconds: number,
    label: string,
  ): Promise<{ wrk: WrkResult; cpu: Record<string, number> }> {
    const cpu = watchCpu(trackedPids(server));
    const wrk = await runWrk({
      onStart: (pid) => cpu.add("wrk", pid),
      baseUrl: urlOf(server),
      path: pathOf(server, saleId),
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
    const m = run.measured;
    say(
      `  ${run.label}: ${m.requestsPerSecond.toLocaleString("en-US")} req/s, mean ${m.latencyMs.mean} ms, p50 ${m.latencyMs.p50} ms, p99 ${m.latencyMs.p99} ms, statuses ${JSON.stringify(m.statusCounts)}${m.errors ? `, ${m.errors} socket errors/timeouts` : ""}${run.check ? `; check ${run.check.ok ? "ok" : "FAILED"}: ${run.check.detail}` : ""}`,
    );
  };

  // Warm-up: JIT, connection pools, scripts loaded, on every server.
  const warmSale = await createSale("warmup", BIG_STOCK, { rateLimit: "off" });
  ourSales.push(warmSale);
  await post(urlOf("original"), `/reset-stock/${BIG_STOCK}`);
  for (const server of ["ours", "original", "floor", "reference-a"] as const) {
    say(`warming ${SERVER_LABELS[server]} up for ${warmupSeconds} s ...`);
    await load(
      server,
      server === "reference-a" ? referenceSale : warmSale,
      100,
      warmupSeconds,
      "warm-up",
    );
  }

  // One-shot requests (burst, JMeter plan): the same shape as wrk's.
  const oneShotRequest =
    (server: ServerName, saleId: string, round: string) =>
    (i: number): OneShotRequest => ({
      method: "POST",
      path: pathOf(server, saleId),
      headers: {
        authorization: `Bearer ${tokens[i % tokens.length]}`,
        "idempotency-key": `${round}-${i}`,
        "content-type": "application/json",
      },
      body: JSON.stringify({ quantity: 1, userId: `${round}-${i}` }),
    });

  /** Sets up a 100-unit race on a server; returns the check to run after it. */
  async function prepareRace(server: ServerName, kind: string) {
    if (server === "ours") {
      const saleId = await createSale(kind, RACE_STOCK, { perUserLimit: 1 });
      ourSales.push(saleId);
      return {
        saleId,
        check: async (m: Measured) => {
          const state = await soldAndMaxPerUser(saleId);
          const accepted = m.statusCounts["202"] ?? 0;
          const refused = m.statusCounts["409"] ?? 0;
          return {
            oversold: Math.max(0, state.sold - state.stock),
            ok:
              state.sold === RACE_STOCK &&
              accepted === RACE_STOCK &&
              refused === BUYERS - RACE_STOCK,
            detail: `sold ${state.sold} of ${state.stock}, ${accepted} answered 202, ${refused} answered 409`,
          };
        },
      };
    }
    if (server === "original") {
      await post(urlOf("original"), `/reset-stock/${RACE_STOCK}`);
      return {
        saleId: "",
        check: async (m: Measured) => {
          const left = await originalStock();
          const accepted = m.statusCounts["200"] ?? 0;
          const refused = m.statusCounts["400"] ?? 0;
          return {
            oversold: Math.max(0, -left),
            ok: left === 0 && accepted === RACE_STOCK && refused === BUYERS - RACE_STOCK,
            detail: `stock left ${left}, ${accepted} answered 200, ${refused} answered 400`,
          };
        },
      };
    }
    return {
      saleId: "",
      check: async (m: Measured) => ({
        oversold: 0,
        ok: (m.statusCounts["200"] ?? 0) === BUYERS,
        detail: `${m.statusCounts["200"] ?? 0} answered 200`,
      }),
    };
  }

  // 1. The burst race, the servers taking turns round by round.
  const raceServers = ["original", "ours", "floor"] as const;
  const burstResults = new Map<ServerName, Measured[]>(raceServers.map((s) => [s, []]));
  const burstChecks = new Map<ServerName, NonNullable<RunResult["check"]>[]>(
    raceServers.map((s) => [s, []]),
  );
  for (let round = 1; round <= burstRounds; round++) {
    for (const server of raceServers) {
      const race = await prepareRace(server, `burst-${round}`);
      say(
        `burst race round ${round}/${burstRounds}: ${BUYERS} buyers at once on ${SERVER_LABELS[server]} ...`,
      );
      const result = fromOneShot(
        await oneShot({
          baseUrl: urlOf(server),
          count: BUYERS,
          build: oneShotRequest(server, race.saleId, `burst-${runId}-${round}`),
        }),
      );
      burstResults.get(server)?.push(result);
      burstChecks.get(server)?.push(await race.check(result));
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
  for (const server of raceServers) {
    const rounds = burstResults.get(server) ?? [];
    const checks = burstChecks.get(server) ?? [];
    record({
      scenario: "burst",
      server,
      connections: BUYERS,
      label: `burst race, ${SERVER_LABELS[server]}`,
      measured: medianOf(rounds),
      rounds,
      check: {
        ok: checks.every((c) => c.ok),
        oversold: checks.reduce((a, c) => a + c.oversold, 0),
        detail: checks.map((c) => c.detail).join("; "),
      },
    });
  }

  // 2. The original's JMeter plan: 1,000 buyers over 10 s.
  for (const server of raceServers) {
    const race = await prepareRace(server, "jmeter");
    say(`JMeter plan: ${BUYERS} buyers over ${jmeterSeconds} s on ${SERVER_LABELS[server]} ...`);
    const measured = fromOneShot(
      await oneShot({
        baseUrl: urlOf(server),
        count: BUYERS,
        spreadMs: jmeterSeconds * 1000,
        build: oneShotRequest(server, race.saleId, `jmeter-${runId}`),
      }),
    );
    record({
      scenario: "jmeter",
      server,
      connections: BUYERS,
      label: `JMeter plan, ${SERVER_LABELS[server]}`,
      measured,
      check: await race.check(measured),
    });
  }

  // 3. Steady load, every request a different buyer: accepting, then sold out.
  for (const connections of connectionCounts) {
    const saleId = await createSale(`accepting-${connections}`, BIG_STOCK);
    ourSales.push(saleId);
    await post(urlOf("original"), `/reset-stock/${BIG_STOCK}`);
    for (const server of ["original", "ours", "floor", "reference-a"] as const) {
      const label = `accepting, ${connections} connections, ${SERVER_LABELS[server]}`;
      say(`${label} for ${durationSeconds} s ...`);
      const before = server === "original" ? await originalStock() : 0;
      const { wrk, cpu } = await load(
        server,
        server === "reference-a" ? referenceSale : saleId,
        connections,
        durationSeconds,
        label,
      );
      const measured = fromWrk(wrk);
      // wrk stops with up to one request per connection in flight: the server may
      // have sold those units without wrk counting the answer. Any other gap is a bug.
      const unanswered = connections + measured.errors;
      let check: RunResult["check"];
      if (server === "ours") {
        const state = await soldAndMaxPerUser(saleId);
        const accepted = measured.statusCounts["202"] ?? 0;
        check = {
          oversold: Math.max(0, state.sold - state.stock),
          ok:
            state.sold <= state.stock &&
            state.sold >= accepted &&
            state.sold - accepted <= unanswered &&
            state.maxPerUser <= PER_USER_LIMIT,
          detail: `sold ${state.sold} of ${state.stock}, ${accepted} answered 202 (+${state.sold - accepted} in flight when wrk stopped), most units per buyer ${state.maxPerUser} (limit ${PER_USER_LIMIT})`,
        };
      } else if (server === "original") {
        const sold = before - (await originalStock());
        const accepted = measured.statusCounts["200"] ?? 0;
        check = {
          oversold: 0,
          ok: sold >= accepted && sold - accepted <= unanswered,
          detail: `sold ${sold}, ${accepted} answered 200`,
        };
      }
      record({ scenario: "accepting", server, connections, label, measured, cpu, check });
    }
  }
  const soldOutSale = await createSale("sold-out", SOLD_OUT_STOCK);
  ourSales.push(soldOutSale);
  for (let i = 0; i < SOLD_OUT_STOCK; i++) {
    await api.call("POST", `/sales/${soldOutSale}/buy`, {
      headers: { authorization: `Bearer ${tokens[i]}`, "idempotency-key": `sell-out-${i}` },
      body: { quantity: 1 },
    });
  }
  await post(urlOf("original"), "/reset-stock/0");
  for (const connections of connectionCounts) {
    for (const server of ["original", "ours"] as const) {
      const label = `sold out, ${connections} connections, ${SERVER_LABELS[server]}`;
      say(`${label} for ${durationSeconds} s ...`);
      const { wrk, cpu } = await load(server, soldOutSale, connections, durationSeconds, label);
      const measured = fromWrk(wrk);
      let check: RunResult["check"];
      if (server === "ours") {
        const state = await soldAndMaxPerUser(soldOutSale);
        const refused = (measured.statusCounts["409"] ?? 0) + (measured.statusCounts["429"] ?? 0);
        check = {
          oversold: Math.max(0, state.sold - state.stock),
          ok: state.sold === state.stock && refused === measured.requests,
          detail: `sold ${state.sold} of ${state.stock}, ${refused} of ${measured.requests} refused (409/429)`,
        };
      } else {
        const left = await originalStock();
        check = {
          oversold: Math.max(0, -left),
          ok: left === 0 && (measured.statusCounts["400"] ?? 0) === measured.requests,
          detail: `stock left ${left}, ${measured.statusCounts["400"] ?? 0} of ${measured.requests} answered 400`,
        };
      }
      record({ scenario: "sold-out", server, connections, label, measured, cpu, check });
    }
  }
  await Promise.all(Object.values(others).map((server) => server?.stop()));

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
      if (scenario === "accepting") ourSales.push(saleId);
      const file = join(PROFILE_DIR, `stack-${scenario}-100.cpuprofile`);
      const label = `CPU profile of the stack, ${scenario}, 100 connections`;
      say(`${label} for ${profileSeconds} s ...`);
      await stack.request({ type: "profile-start" }, "profile-started");
      const { wrk, cpu } = await load("ours", saleId, 100, profileSeconds, label);
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
    // One more burst round, profiled: new connections, cold tokens, a sale selling out.
    const race = await prepareRace("ours", "burst-profile");
    const file = join(PROFILE_DIR, "stack-burst.cpuprofile");
    say(`CPU profile of the stack, one burst round of ${BUYERS} buyers ...`);
    await stack.request({ type: "profile-start" }, "profile-started");
    const burst = fromOneShot(
      await oneShot({
        baseUrl: urlOf("ours"),
        count: BUYERS,
        build: oneShotRequest("ours", race.saleId, `burst-${runId}-profile`),
      }),
    );
    await stack.request({ type: "profile-stop", file }, "profile-written", 60_000);
    const summary = summarizeProfile(JSON.parse(readFileSync(file, "utf8")) as CpuProfile, 15);
    say(
      `  profiled burst p99 ${burst.latencyMs.p99} ms; top packages: ${summary.byPackage
        .slice(0, 5)
        .map((p) => `${p.name} ${p.percent}%`)
        .join(", ")}`,
    );
  }

  // 5. The consumer: drain what the buy path queued into Postgres.
  const expectedRows = (
    await Promise.all(ourSales.map(async (id) => (await soldAndMaxPerUser(id)).sold))
  ).reduce((a, b) => a + b, 0);
  const queued = await queueDepth(sqs, env.ORDERS_QUEUE_URL ?? "");
  // npm start's event source settings: the CDK stack's (cdk.json).
  const drainSettings = {
    batchSize: LOCAL_STACK_SETTINGS.consumerBatchSize,
    batchingWindowMs: LOCAL_STACK_SETTINGS.consumerBatchingWindowSeconds * 1000,
    concurrency: LOCAL_STACK_SETTINGS.consumerMaxConcurrency,
  };
  say(
    `draining ${queued.toLocaleString("en-US")} queued orders into Postgres (batch ${drainSettings.batchSize}, window ${drainSettings.batchingWindowMs} ms, ${drainSettings.concurrency} concurrent, as npm start) ...`,
  );
  Object.assign(process.env, env);
  const consume = (await import("../../lambdas/handlers/consume-orders.js"))
    .handler as unknown as SqsLambda;
  const countRows = async () =>
    (await db.query("SELECT count(*)::int AS n FROM orders WHERE sale_id = ANY($1)", [ourSales]))
      .rows[0].n as number;
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
    ...drainSettings,
    countRows,
    expectedRows,
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
      tokens: tokenCount,
      burstRounds,
      jmeterSeconds,
      workers,
    },
    runs,
    profiles,
    consumer: {
      orders: expectedRows,
      queuedAtStart: queued,
      rows: drained.rows,
      seconds: Number(drained.seconds.toFixed(2)),
      ordersPerSecond: drained.ordersPerSecond,
      complete: drained.complete,
      batchSize: drainSettings.batchSize,
      concurrency: drainSettings.concurrency,
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
