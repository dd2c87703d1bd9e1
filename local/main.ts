import { availableParallelism } from "node:os";
import { parseArgs } from "node:util";
import { logger } from "../lambdas/platform/logger.js";
import { isLoopbackHost, signLocalToken, usesDevelopmentSecret } from "./auth.js";
import { formatSummary, runDemo } from "./demo.js";
import { formatDrawSummary, runDrawDemo } from "./draw-demo.js";
import { formatHoldSummary, runHoldDemo } from "./hold-demo.js";
import { DEFAULT_QUEUE_SETTINGS } from "./services/sqs-server.js";
import { type RunningStack, startStack } from "./stack.js";
import { STACK_DIR, writeStackEnv } from "./stack-env.js";
import { LOCAL_STACK_SETTINGS } from "./stack-settings.js";

/**
 * `npm start`: boots the whole system on this machine and runs a demo sale.
 *
 *   npm start                      boot, run the demo, keep serving until Ctrl-C
 *   npm start -- --no-demo         boot and serve
 *   npm start -- --demo-only       boot, run the demo, stop; exit 1 if a check failed
 *   npm start -- --port 8080       (or PORT=8080) API port; 0 picks a free one
 *   --host ADDR                    the API's listening address (default 127.0.0.1); any
 *                                  non-loopback one needs LOCAL_JWT_SECRET (refused without)
 *   --buyers N --stock N           demo size (default 1000 buyers, 100 units)
 *   --no-hold-demo                 skip the demo's second sale (20 units held 3 s for payment,
 *                                  60 buyers: part paid, the rest expire and sell again)
 *   --no-draw-demo                 skip the demo's third sale (a draw: 200 entrants for 10 units,
 *                                  drawn, verified, winners pay or lapse, alternates called)
 *   --batch-size N --batching-window-ms N --consumer-concurrency N   the SQS event source
 *                                  (default: the CDK stack's, from cdk.json: 100, 1000 ms, 5)
 *   --data-dir DIR                 where services keep data (default .local/stack)
 *   --workers N                    HTTP worker processes (default: one per core; 0 = in-process,
 *                                  and the consumer too; otherwise it has a process of its own)
 *   --demo-delay S                 seconds to open the dashboard before the demo (default 5 on a terminal, 0 with --demo-only)
 */
const { values: args } = parseArgs({
  options: {
    port: { type: "string" },
    host: { type: "string", default: "127.0.0.1" },
    demo: { type: "boolean", default: true },
    "no-demo": { type: "boolean", default: false },
    "demo-only": { type: "boolean", default: false },
    buyers: { type: "string", default: "1000" },
    stock: { type: "string", default: "100" },
    "batch-size": { type: "string", default: String(LOCAL_STACK_SETTINGS.consumerBatchSize) },
    "batching-window-ms": {
      type: "string",
      default: String(LOCAL_STACK_SETTINGS.consumerBatchingWindowSeconds * 1000),
    },
    "consumer-concurrency": {
      type: "string",
      default: String(LOCAL_STACK_SETTINGS.consumerMaxConcurrency),
    },
    "data-dir": { type: "string" },
    // Delete the services' data (and logs) when stopping: for throwaway runs such as tests.
    clean: { type: "boolean", default: false },
    workers: { type: "string", default: String(availableParallelism()) },
    "demo-delay": { type: "string" },
    "hold-demo": { type: "boolean", default: true },
    "draw-demo": { type: "boolean", default: true },
  },
  allowNegative: true,
});

const log = (line: string) => process.stdout.write(`${line}\n`);
const runDemoSale = args.demo && !args["no-demo"];
const dataDir = args["data-dir"] ?? STACK_DIR;

// Without LOCAL_JWT_SECRET the host checks tokens with the development secret, which is in
// this repository: anyone who can reach the API could sign themselves an admin token.
if (usesDevelopmentSecret()) {
  if (!isLoopbackHost(args.host)) {
    process.stderr.write(
      [
        `refusing to start: --host ${args.host} is reachable from other machines, and LOCAL_JWT_SECRET is not set,`,
        "so tokens would be checked with the built-in development secret (public in this repository):",
        "anyone who can reach the API could sign an admin token.",
        `Set LOCAL_JWT_SECRET to a secret of your own, e.g. LOCAL_JWT_SECRET=$(openssl rand -hex 32) npm start -- --host ${args.host}`,
        "(tokens from `npm run token` need the same LOCAL_JWT_SECRET), or serve on 127.0.0.1 (the default).",
        "",
      ].join("\n"),
    );
    process.exit(1);
  }
  log(
    "warning: LOCAL_JWT_SECRET is not set: tokens are signed and checked with the built-in development secret, " +
      "which anyone can read in this repository. Fine on 127.0.0.1; set LOCAL_JWT_SECRET before serving on any other address.",
  );
}

let stack: RunningStack | undefined;
let stopping = false;
async function shutdown(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    log("stopping the local stack ...");
    // Pools see their connections close as Postgres stops; expected here, not worth a warning.
    logger.setLogLevel("ERROR");
    await stack?.stop({ removeData: args.clean });
    log("stopped.");
  }
  process.exit(code);
}
process.on("SIGINT", () => void shutdown(130));
process.on("SIGTERM", () => void shutdown(143));
// A closed terminal sends SIGHUP: stop the services too, or they outlive their owner.
process.on("SIGHUP", () => void shutdown(129));
// Nor outlive our parent (tsx's CLI under npm) when it dies without passing a signal on.
const parentPid = process.ppid;
setInterval(() => {
  if (process.ppid !== parentPid) void shutdown(129);
}, 1_000).unref();

try {
  log("starting redis-server, Postgres and the SQS server ...");
  stack = await startStack({
    dir: dataDir,
    durable: true,
    port: Number(args.port ?? process.env.PORT ?? 3000),
    host: args.host,
    workers: Number(args.workers),
    consumer: {
      batchSize: Number(args["batch-size"]),
      batchingWindowMs: Number(args["batching-window-ms"]),
      concurrency: Number(args["consumer-concurrency"]),
    },
  });
  // The API URL too, so `npm run pay` knows where the webhook is.
  if (dataDir === STACK_DIR) writeStackEnv({ ...stack.env, LOCAL_API_URL: stack.url });
  const env = stack.env;
  const pid = (service: { pid: number | undefined } | undefined) => `(pid ${service?.pid})`;
  // The live dashboard, with a local admin token in the fragment (never sent to the server).
  const dashboardToken = await signLocalToken({
    sub: "dashboard",
    scopes: ["admin"],
    expiresInSeconds: 12 * 3600,
  });
  const dashboardUrl = `${stack.url}/dashboard#token=${dashboardToken}`;
  log(
    [
      "",
      "Flash Sale Engine is running on this machine:",
      `  API (local API Gateway, payload v2)  ${stack.url}`,
      `    HTTP workers                       ${stack.workerPids.length === 0 ? "in-process" : `${stack.workerPids.length} (pids ${stack.workerPids.join(", ")})`}`,
      `  Redis (AOF, fsync on every write)    ${env.REDIS_URL} ${pid(stack.services.redis)}`,
      `  Postgres                             ${env.DATABASE_URL} ${pid(stack.services.postgres)}`,
      `  SQS server (fauxqs)                  ${env.SQS_ENDPOINT} ${pid(stack.services.sqs)}`,
      `    orders queue                       ${env.ORDERS_QUEUE_URL} (visibility ${DEFAULT_QUEUE_SETTINGS.visibilityTimeoutSeconds} s; queues kept on disk across restarts)`,
      `    dead-letter queue                  ${env.ORDERS_DLQ_URL}`,
      `  consumer                             SQS event source, batch ${args["batch-size"]}, window ${args["batching-window-ms"]} ms, ${args["consumer-concurrency"]} concurrent, timeout ${LOCAL_STACK_SETTINGS.consumerTimeoutSeconds} s`,
      `    consumer process                   ${stack.consumer.pid === undefined ? (Number(args["consumer-concurrency"]) === 0 ? "off" : "in-process") : `(pid ${stack.consumer.pid}), restarted if it dies`}`,
      `  data and logs                        ${stack.services.dir}`,
      `  integration events (tail -f)         ${env.LOCAL_EVENTS_FILE}`,
      `  live dashboard (admin token inside)  ${dashboardUrl}`,
      "",
    ].join("\n"),
  );

  if (runDemoSale || args["demo-only"]) {
    const delaySeconds = Number(
      args["demo-delay"] ?? (process.stdout.isTTY && !args["demo-only"] ? 5 : 0),
    );
    log(
      `Watch the demo sale live on the dashboard (it follows the newest sale):\n  ${dashboardUrl}`,
    );
    if (delaySeconds > 0) {
      log(`the demo starts in ${delaySeconds} s (--demo-delay 0 skips the wait) ...`);
      await new Promise((resolve) => setTimeout(resolve, delaySeconds * 1000));
    }
    const summary = await runDemo({
      url: stack.url,
      env,
      buyers: Number(args.buyers),
      stock: Number(args.stock),
      log,
    });
    log(`\n${formatSummary(summary)}\n`);
    let ok = summary.ok;
    if (args["hold-demo"]) {
      const hold = await runHoldDemo({ url: stack.url, env, log });
      log(`\n${formatHoldSummary(hold)}\n`);
      ok &&= hold.ok;
    }
    if (args["draw-demo"]) {
      const draw = await runDrawDemo({ url: stack.url, env, log });
      log(`\n${formatDrawSummary(draw)}\n`);
      ok &&= draw.ok;
    }
    if (args["demo-only"]) await shutdown(ok ? 0 : 1);
  }
  log(`Serving ${stack.url} until Ctrl-C. Try: curl -s ${stack.url}/sales/<saleId>`);
  log(`Dashboard: ${dashboardUrl}`);
} catch (error) {
  process.stderr.write(
    `${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  await shutdown(1);
}
