import { parseArgs } from "node:util";
import { formatReport, reconcileSale } from "../lambdas/domain/reconcile.js";
import { opsContext } from "./ops-context.js";

/**
 * npm run reconcile -- --sale <id> [--repair] [--grace-seconds 300] [--json]
 * Exits 0 when Redis, Postgres and the queues agree (or every issue was
 * repaired), 1 on drift, 2 on a usage error.
 */
const { values } = parseArgs({
  options: {
    sale: { type: "string", multiple: true },
    repair: { type: "boolean", default: false },
    "grace-seconds": { type: "string", default: "300" },
    json: { type: "boolean", default: false },
  },
});
if (!values.sale?.length) {
  console.error(
    "usage: npm run reconcile -- --sale <id> [--sale <id> ...] [--repair] [--grace-seconds N] [--json]",
  );
  process.exit(2);
}

const ops = await opsContext();
let drift = false;
try {
  for (const saleId of values.sale) {
    const report = await reconcileSale({ ...ops, now: Date.now }, saleId, {
      repair: values.repair,
      graceMs: Number(values["grace-seconds"]) * 1000,
    });
    console.log(values.json ? JSON.stringify(report) : formatReport(report));
    drift ||= !report.clean;
  }
} finally {
  await ops.close();
}
process.exit(drift ? 1 : 0);
