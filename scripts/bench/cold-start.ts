import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs, promisify } from "node:util";
import { build } from "esbuild";
import { Redis } from "ioredis";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { defineScripts } from "../../lambdas/adapters/redis/scripts.js";
import { ESM_REQUIRE_BANNER, luaScripts, RUNTIME_PROVIDED_MODULES } from "../../lib/bundling.js";
import { PROJECT_ROOT, startLocalServices } from "../../local/services/index.js";

/**
 * Cold start of the buy function as Lambda runs it: a fresh process imports
 * the esbuild bundle (built as the CDK stack builds it; the AWS SDK external,
 * as the nodejs24.x runtime provides it) and answers one buy. Measured from
 * before the import to the answer, i.e. Lambda's init plus the first
 * invocation, over several fresh processes against real Redis and SQS.
 * Each run starts two processes back to back: one untraced (as the local stack
 * runs the handler) and one as Lambda with active tracing runs it (Powertools
 * Tracer loaded, segments sent to an X-Ray daemon address: a UDP socket here),
 * so the tracer's price is a ratio from the same minutes of the same machine.
 *
 *   npm run bench:cold-start [-- --runs 7]
 */
const { values } = parseArgs({ options: { runs: { type: "string", default: "7" } } });
const runs = Number(values.runs);
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const outDir = join(PROJECT_ROOT, ".local", "bench", "buy");
mkdirSync(outDir, { recursive: true });
const bundle = join(outDir, "index.mjs");
await build({
  entryPoints: [join(PROJECT_ROOT, "lambdas", "handlers", "buy.ts")],
  outfile: bundle,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node24",
  mainFields: ["module", "main"],
  banner: { js: ESM_REQUIRE_BANNER },
  minify: true,
  external: RUNTIME_PROVIDED_MODULES,
  define: { __LUA_SCRIPTS__: JSON.stringify(luaScripts(PROJECT_ROOT)) },
  logLevel: "error",
});

const services = await startLocalServices({ only: ["redis", "sqs"] });
try {
  const env = services.env();
  const redis = defineScripts(new Redis(env.REDIS_URL ?? ""));
  const saleId = `cold-${Date.now()}`;
  await new RedisSaleStore(redis).upsertSale(
    {
      id: saleId,
      name: "cold start",
      stock: 1_000,
      perUserLimit: 100,
      startsAtMs: 0,
      endsAtMs: 0,
      rateLimit: { burst: 0, perSecond: 1 },
    },
    Date.now(),
  );
  redis.disconnect();

  // The child: what Lambda does on a cold start, timed from just before the import.
  const child = `
    const started = performance.now();
    const { handler } = await import(${JSON.stringify(bundle)});
    const imported = performance.now();
    const result = await handler({
      version: "2.0", routeKey: "POST /sales/{saleId}/buy", rawPath: "/sales/${saleId}/buy", rawQueryString: "",
      headers: { "content-type": "application/json" }, body: "{}", isBase64Encoded: false,
      pathParameters: { saleId: "${saleId}" },
      requestContext: { requestId: "cold", http: { method: "POST", path: "/sales/${saleId}/buy", sourceIp: "127.0.0.1" },
        authorizer: { jwt: { claims: { sub: "cold-" + process.pid }, scopes: [] } } },
    }, { awsRequestId: "cold", functionName: "buy", getRemainingTimeInMillis: () => 30000 });
    const answered = performance.now();
    console.log(JSON.stringify({ status: result.statusCode, importMs: imported - started, totalMs: answered - started }));
    process.exit(0);
  `;
  // The X-Ray daemon's address for the traced runs: segments are counted, then dropped.
  const daemon = createSocket("udp4");
  let segmentsReceived = 0;
  daemon.on("message", () => void segmentsReceived++);
  await new Promise<void>((resolve) => daemon.bind(0, "127.0.0.1", resolve));
  const tracedEnv = {
    AWS_EXECUTION_ENV: "AWS_Lambda_nodejs24.x",
    LAMBDA_TASK_ROOT: outDir,
    _HANDLER: "index.handler",
    _X_AMZN_TRACE_ID: "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=557abcec3ee5a047;Sampled=1",
    AWS_XRAY_DAEMON_ADDRESS: `127.0.0.1:${daemon.address().port}`,
    AWS_XRAY_CONTEXT_MISSING: "IGNORE_ERROR",
  };
  type Sample = { status: number; importMs: number; totalMs: number };
  const samples: Record<"untraced" | "traced", Sample[]> = { untraced: [], traced: [] };
  for (let i = 0; i < runs; i++) {
    for (const mode of ["untraced", "traced"] as const) {
      const { stdout } = await promisify(execFile)(
        process.execPath,
        ["--input-type=module", "-e", child],
        {
          cwd: PROJECT_ROOT,
          env: {
            ...process.env,
            ...env,
            POWERTOOLS_LOG_LEVEL: "ERROR",
            ...(mode === "traced" ? tracedEnv : {}),
          },
        },
      );
      samples[mode].push(JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}"));
    }
  }
  daemon.close();
  const median = (values: number[]) =>
    values.sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? 0;
  const summary = (of: Sample[]) => ({
    statuses: [...new Set(of.map((s) => s.status))],
    importMsMedian: Number(median(of.map((s) => s.importMs)).toFixed(1)),
    coldStartMsMedian: Number(median(of.map((s) => s.totalMs)).toFixed(1)),
    coldStartMsMax: Number(Math.max(...of.map((s) => s.totalMs)).toFixed(1)),
  });
  const untraced = summary(samples.untraced);
  const traced = summary(samples.traced);
  const result = {
    bundleBytes: statSync(bundle).size,
    runs,
    ...untraced,
    traced: {
      ...traced,
      segmentsReceived,
      ratioToUntraced: Number((traced.coldStartMsMedian / untraced.coldStartMsMedian).toFixed(2)),
    },
  };
  console.log(
    `buy bundle ${(result.bundleBytes / 1024).toFixed(0)} KB; cold start (import + first answer) median ${untraced.coldStartMsMedian} ms, max ${untraced.coldStartMsMax} ms (import alone ${untraced.importMsMedian} ms), statuses ${untraced.statuses.join(",")}, ${runs} fresh processes`,
  );
  console.log(
    `traced as in Lambda (Powertools Tracer): median ${traced.coldStartMsMedian} ms, max ${traced.coldStartMsMax} ms (import ${traced.importMsMedian} ms), ${result.traced.ratioToUntraced}× untraced, statuses ${traced.statuses.join(",")}, ${segmentsReceived} segment documents sent to the daemon`,
  );
  mkdirSync(join(PROJECT_ROOT, "bench"), { recursive: true });
  writeFileSync(
    join(PROJECT_ROOT, "bench", "cold-start.json"),
    `${JSON.stringify(result, null, 2)}\n`,
  );
} finally {
  await services.stop({ removeData: true });
}
