import { parseArgs } from "node:util";
import { ASSUMPTIONS, capacityPlan, DEFAULT_DROP } from "./capacity/model.js";

/**
 * npm run capacity -- --buyers-per-second 100000 --stock 50000 --hold-seconds 0
 *   [--drop-seconds 60] [--attempts-per-buyer 1.2] [--drain-seconds 60] [--json] [--sources]
 * What the stack needs and costs for a drop (scripts/capacity/model.ts, docs/capacity.md).
 */
const { values } = parseArgs({
  options: {
    "buyers-per-second": { type: "string" },
    stock: { type: "string" },
    "hold-seconds": { type: "string", default: "0" },
    "drop-seconds": { type: "string", default: String(DEFAULT_DROP.dropSeconds) },
    "attempts-per-buyer": { type: "string", default: String(DEFAULT_DROP.attemptsPerBuyer) },
    "drain-seconds": { type: "string", default: String(DEFAULT_DROP.drainSeconds) },
    json: { type: "boolean", default: false },
    sources: { type: "boolean", default: false },
  },
});

const number = (name: keyof typeof values) => {
  const value = Number(values[name]);
  if (values[name] === undefined || !Number.isFinite(value) || value < 0) {
    console.error(
      "usage: npm run capacity -- --buyers-per-second N --stock N [--hold-seconds N] [--drop-seconds 60] [--attempts-per-buyer 1.2] [--drain-seconds 60] [--json] [--sources]",
    );
    process.exit(2);
  }
  return value;
};

const plan = capacityPlan({
  buyersPerSecond: number("buyers-per-second"),
  stock: number("stock"),
  holdSeconds: number("hold-seconds"),
  dropSeconds: number("drop-seconds"),
  attemptsPerBuyer: number("attempts-per-buyer"),
  drainSeconds: number("drain-seconds"),
});

if (values.json) {
  console.log(JSON.stringify(plan, null, 2));
  process.exit(0);
}

const n = (value: number) => value.toLocaleString("en-US", { maximumFractionDigits: 2 });
const $ = (value: number) => `$${value.toFixed(2)}`;
const { apiGateway: api, buyLambda: buy, redis, consumer, database: db, cost } = plan;
const lines = [
  `Drop: ${n(plan.input.buyersPerSecond)} buyers/s, stock ${n(plan.input.stock)}, hold ${plan.input.holdSeconds} s: sold out in ${n(plan.sellOutSeconds)} s, ${n(plan.acceptedOrders)} orders`,
  "",
  `Edge        ${n(plan.edge.requestsPerSecond)} buy req/s at CloudFront + WAF (distribution quota 250,000 req/s: ${plan.edge.cloudFrontQuotaOk ? "ok" : "REQUEST AN INCREASE"})`,
  `API Gateway account throttle ≥ ${n(api.accountQuotaNeeded)} req/s (default 10,000: ${api.quotaIncrease ? "REQUEST AN INCREASE (L-8A5B8E43)" : "ok"}); -c throttleRateLimit=${api.stageRateLimit} -c throttleBurstLimit=${api.stageBurstLimit}`,
  `Buy Lambda  ${buy.durationMsAccepted} ms accepted / ${buy.durationMsRefused} ms refused → peak concurrency ${n(buy.peakConcurrency)}; on demand it takes ${buy.secondsToScaleOnDemand} s to get there (1,000 per 10 s): -c buyProvisionedConcurrency=${buy.provisionedConcurrency}`,
  `Lambda      account concurrency ≥ ${n(plan.lambdaAccountConcurrencyNeeded)} (-c accountConcurrency; default quota 1,000, L-B99A9384)`,
  `Redis       ${n(redis.opsPerSecond)} scripts/s while accepting (${n(redis.afterSoldOutOpsPerSecond)} once sold out) at ≈ ${n(redis.opsPerShard)} per shard → sale shards ${redis.saleShards}, -c cacheShards=${redis.cacheShards}${redis.cacheShards > 1 ? " -c cacheClusterMode=true" : ""}${redis.holdSaleLimited ? "  (a hold sale cannot be sharded: cap the crowd or drop the hold)" : ""}`,
  `Consumer    ${n(consumer.ordersPerSecondEach)} orders/s each → -c consumerMaxConcurrency=${consumer.concurrency}, drained in ${n(consumer.drainSeconds)} s (SQS scaling reaches it in ${consumer.secondsToScale} s)`,
  `Aurora      ${n(db.rowsPerSecond)} rows/s → ${db.acu} ACU; ${n(db.connectionsNeeded)} connections need ${db.maxAcuForConnections} ACU → -c dbMaxCapacity=${db.maxCapacity} (and dbMinCapacity there before the drop)`,
  "",
  `Cost        ${$(cost.perMillionBuys)} per million buy attempts (${Object.entries(
    cost.perMillionBuysBreakdown,
  )
    .map(([k, v]) => `${k} ${$(v)}`)
    .join(", ")})`,
  `            + ${$(cost.perMillionOrders)} per million accepted orders (SQS, consumer)`,
  `            + ${$(cost.hourlyFixed)} per hour while sized for it (${Object.entries(
    cost.hourlyFixedBreakdown,
  )
    .map(([k, v]) => `${k} ${$(v)}`)
    .join(", ")})`,
];
console.log(lines.join("\n"));
if (values.sources) {
  console.log("\nSources:");
  for (const [key, { value, source }] of Object.entries(ASSUMPTIONS)) {
    console.log(`  ${key} = ${value}: ${source}`);
  }
}
