import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { opsContext } from "../scripts/ops-context.js";
import { formatVerifyReport, type StoreAccess, verifySale } from "./consistency.js";
import { identitySource } from "./identity.js";
import { type AcceptedOrder, latestRunDir, type RunInfo, readRun } from "./run-record.js";

/**
 * Is the sale exact after a load test? Run after any scenario (npm run
 * loadtest:* runs it for you):
 *
 *   npm run loadtest:verify                          # the latest run in loadtest/.runs
 *   npm run loadtest:verify -- --sale <id>           # a given sale (its run record if there is one)
 *   npm run loadtest:verify -- --run <dir> --target <url> [--api-only | --stores]
 *                           [--drain-timeout 30] [--max-order-reads 2000] [--json]
 *
 * Checks through the API always; against Redis, Postgres and SQS too when
 * the target is this machine (the stores of the running `npm start` stack,
 * .local/stack/env.json, or REDIS_URL, DATABASE_URL, ORDERS_QUEUE_URL,
 * ORDERS_DLQ_URL, SQS_ENDPOINT), or with --stores wherever those variables
 * reach the stores. Exits 0 when consistent, 1 when not (saying what is
 * wrong), 2 on a usage error.
 */
const { values } = parseArgs({
  options: {
    run: { type: "string" },
    sale: { type: "string" },
    target: { type: "string" },
    "api-only": { type: "boolean", default: false },
    stores: { type: "boolean", default: false },
    "drain-timeout": { type: "string", default: "30" },
    "max-order-reads": { type: "string", default: "2000" },
    json: { type: "boolean", default: false },
  },
});

const RUNS_DIR = process.env.LOADTEST_RUNS_DIR || join(import.meta.dirname, ".runs");
const usage = (message: string): never => {
  process.stderr.write(
    `${message}\nusage: npm run loadtest:verify -- [--run DIR | --sale ID] [--target URL] [--api-only | --stores] [--drain-timeout S] [--json]\n`,
  );
  process.exit(2);
};

let runDir = values.run;
if (!runDir && values.sale && existsSync(join(RUNS_DIR, values.sale, "run.json")))
  runDir = join(RUNS_DIR, values.sale);
if (!runDir && !values.sale) runDir = latestRunDir(RUNS_DIR);
let info: RunInfo | undefined;
let accepted: AcceptedOrder[] | undefined;
if (runDir) ({ info, accepted } = readRun(runDir));

const saleId =
  values.sale ??
  info?.saleId ??
  usage("no sale: pass --sale <id> or --run <dir>, or run a scenario first");
const target = (values.target ?? process.env.TARGET_URL ?? info?.target)?.replace(/\/$/, "");
if (!target) usage("no target: pass --target <url> (or set TARGET_URL)");
const local = /^https?:\/\/(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/.test(target ?? "");
const useStores = !values["api-only"] && (values.stores || local);

const identities = identitySource();
const log = (line: string) => {
  if (!values.json) process.stdout.write(`${line}\n`);
};
log(
  `verifying sale ${saleId} at ${target}${runDir ? ` with the run record ${runDir} (${accepted?.length ?? 0} accepted)` : " (no run record)"}${useStores ? ", and its Redis, Postgres and queues" : ", through the API only"}`,
);

const ops = useStores ? await opsContext() : undefined;
try {
  const stores: StoreAccess | undefined = ops && {
    redis: ops.redis,
    db: ops.db,
    sqs: ops.sqs,
    ordersQueueUrl: ops.queues.ordersQueueUrl,
    deadLetterQueueUrl: ops.queues.deadLetterQueueUrl,
  };
  const report = await verifySale({
    saleId,
    api: {
      baseUrl: target ?? "",
      tokenFor: (order) => identities.tokenFor(order.userId, order.tokenIndex),
    },
    stores,
    accepted,
    drainTimeoutMs: Number(values["drain-timeout"]) * 1000,
    maxOrderReads: Number(values["max-order-reads"]),
    log,
  });
  process.stdout.write(`${values.json ? JSON.stringify(report) : formatVerifyReport(report)}\n`);
  process.exitCode = report.ok ? 0 : 1;
} finally {
  await ops?.close();
}
