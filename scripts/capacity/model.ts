/**
 * The capacity model of a drop: from the crowd (buyers per second, stock, hold) to what each
 * part of the stack must be sized to, and what it costs. Pure arithmetic, no I/O: every
 * figure comes from ASSUMPTIONS (AWS quotas and list prices, with their sources, and this
 * project's own measured per-request costs), so each can be checked and replaced.
 * `npm run capacity -- --buyers-per-second N --stock N --hold-seconds N` prints it.
 */

export interface DropInput {
  /** Buyers arriving per second at the peak. */
  buyersPerSecond: number;
  /** Units on sale (one unit per buyer). */
  stock: number;
  /** Payment hold per order; 0 = a sale without payment. */
  holdSeconds: number;
  /** How long the crowd keeps arriving. */
  dropSeconds: number;
  /** Buy requests per buyer (retries, double clicks). */
  attemptsPerBuyer: number;
  /** How fast the queued orders must reach Postgres. */
  drainSeconds: number;
}

export const DEFAULT_DROP: Omit<DropInput, "buyersPerSecond" | "stock" | "holdSeconds"> = {
  dropSeconds: 60,
  attemptsPerBuyer: 1.2,
  drainSeconds: 60,
};

/** A figure the model uses, and where it comes from. */
export interface Assumption {
  value: number;
  source: string;
}

const LAMBDA_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/scaling-behavior.html";
const LAMBDA_QUOTAS = "https://docs.aws.amazon.com/lambda/latest/dg/gettingstarted-limits.html";
const APIGW_QUOTAS = "https://docs.aws.amazon.com/apigateway/latest/developerguide/limits.html";
const CLOUDFRONT_QUOTAS =
  "https://docs.aws.amazon.com/AmazonCloudFront/latest/DeveloperGuide/cloudfront-limits.html";
const SQS_SCALING = "https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html";
const AURORA_CONNECTIONS =
  "https://docs.aws.amazon.com/AmazonRDS/latest/AuroraUserGuide/AuroraPostgreSQL.Managing.html#AuroraPostgreSQL.Managing.MaxConnections";
const PERFORMANCE = "docs/performance.md (npm run bench, this project's measurement)";

/** Every figure of the model. Prices: us-east-1 on-demand list prices, USD; check your region. */
export const ASSUMPTIONS = {
  // Quotas
  apiGatewayAccountRps: { value: 10_000, source: `${APIGW_QUOTAS} (default, adjustable)` },
  apiGatewayAccountBurst: { value: 5_000, source: APIGW_QUOTAS },
  cloudFrontRpsPerDistribution: { value: 250_000, source: CLOUDFRONT_QUOTAS },
  lambdaAccountConcurrency: { value: 1_000, source: `${LAMBDA_QUOTAS} (default, adjustable)` },
  lambdaUnreservedMinimum: { value: 100, source: LAMBDA_QUOTAS },
  lambdaScalingPer10s: {
    value: 1_000,
    source: `${LAMBDA_SCALING} (1,000 execution environments per 10 s per function)`,
  },
  sqsInitialConsumers: { value: 5, source: SQS_SCALING },
  sqsConsumersAddedPerMinute: { value: 300, source: SQS_SCALING },
  sqsMaxConsumers: { value: 1_000, source: `${SQS_SCALING} (maximum concurrency 2-1,000)` },
  auroraMaxConnectionsCap: { value: 5_000, source: AURORA_CONNECTIONS },
  auroraBytesPerConnection: {
    value: 9_531_392,
    source: `${AURORA_CONNECTIONS} (LEAST(DBInstanceClassMemory/9531392, 5000); 1 ACU = 2 GiB)`,
  },
  proxyMaxConnectionsPercent: { value: 90, source: "lib/constructs/database.ts" },

  // This project's measured costs (2-core VM, Redis 7.0.15, Node 24: see the source)
  buyCpuMsAccepted: { value: 0.4, source: `${PERFORMANCE}: ≈ 400 µs of CPU per accepted buy` },
  buyCpuMsRefused: { value: 0.037, source: `${PERFORMANCE}: 37 µs per sold-out refusal` },
  redisMsPerScript: {
    value: 0.02,
    source: `${PERFORMANCE}: reference (a), 46 − 26 µs = 20 µs of redis-server CPU per reserve-8.lua EVALSHA`,
  },
  consumerCpuMsPerOrder: {
    value: 0.174,
    source: `${PERFORMANCE}: the consumer handler alone, 5,751 orders/s on one process`,
  },
  postgresRowsPerCoreSecond: {
    value: 6_700,
    source: `${PERFORMANCE}: INSERT alone 13,388 rows/s in batches of 100 on 2 cores`,
  },

  // Assumed (not measured here): network waits inside one region
  redisRoundTripMs: { value: 1, source: "assumed: ElastiCache in the same VPC, TLS" },
  sqsSendMs: { value: 8, source: "assumed: SendMessage through the VPC endpoint" },
  consumerBatchWaitMs: { value: 25, source: "assumed: one INSERT and the confirms per batch" },
  redisShardTargetUtilisation: { value: 0.6, source: "headroom: plan a shard at 60 % CPU" },
  acusPerCore: { value: 4, source: "1 ACU ≈ 2 GiB; 2 vCPU ≈ 16 GiB ≈ 8 ACU (r-class ratio)" },
  auroraTargetUtilisation: { value: 0.5, source: "headroom: plan Aurora at 50 %" },
  soldOutCacheMs: { value: 500, source: "SOLD_OUT_CACHE_MS (lambdas/platform/config.ts)" },
  consumerBatchSize: { value: 100, source: "cdk.json consumerBatchSize" },
  buyMemoryGb: { value: 1, source: "cdk.json httpMemoryMb 1024" },
  consumerMemoryGb: { value: 0.5, source: "lib/config.ts consumerMemoryMb 512" },
  databasePoolSize: { value: 2, source: "DATABASE_POOL_SIZE (lambdas/platform/config.ts)" },

  // Prices (USD)
  cloudFrontPerMillion: {
    value: 1.0,
    source: "https://aws.amazon.com/cloudfront/pricing/ ($0.0100 per 10,000 HTTPS requests, US/EU)",
  },
  wafPerMillion: { value: 0.6, source: "https://aws.amazon.com/waf/pricing/" },
  wafMonthly: {
    value: 5 + 4,
    source: "https://aws.amazon.com/waf/pricing/ ($5 per web ACL + $1 per rule, 4 rules)",
  },
  botControlPerMillion: {
    value: 1.0,
    source: "https://aws.amazon.com/waf/pricing/ (Bot Control, common)",
  },
  apiGatewayPerMillion: {
    value: 1.0,
    source: "https://aws.amazon.com/api-gateway/pricing/ (HTTP API, first 300 M)",
  },
  lambdaPerMillion: { value: 0.2, source: "https://aws.amazon.com/lambda/pricing/" },
  lambdaPerGbSecond: {
    value: 0.0000133334,
    source: "https://aws.amazon.com/lambda/pricing/ (arm64)",
  },
  provisionedPerGbSecond: {
    value: 0.0000033334,
    source: "https://aws.amazon.com/lambda/pricing/ (provisioned concurrency, arm64)",
  },
  sqsPerMillion: { value: 0.4, source: "https://aws.amazon.com/sqs/pricing/ (standard queue)" },
  cacheNodeHour: {
    value: 0.158,
    source: "https://aws.amazon.com/elasticache/pricing/ (cache.m7g.large; Valkey is listed lower)",
  },
  acuHour: { value: 0.12, source: "https://aws.amazon.com/rds/aurora/pricing/ (Serverless v2)" },
  proxyAcuHour: {
    value: 0.015,
    source: "https://aws.amazon.com/rds/proxy/pricing/ (per ACU-hour, 8 ACU minimum)",
  },
} satisfies Record<string, Assumption>;

export type Assumptions = { [K in keyof typeof ASSUMPTIONS]: number };

export const ASSUMED: Assumptions = Object.fromEntries(
  Object.entries(ASSUMPTIONS).map(([key, { value }]) => [key, value]),
) as Assumptions;

export interface CapacityPlan {
  input: DropInput;
  /** How long the stock lasts, and the orders accepted. */
  sellOutSeconds: number;
  acceptedOrders: number;
  edge: { requestsPerSecond: number; cloudFrontQuotaOk: boolean };
  apiGateway: {
    requestsPerSecond: number;
    accountQuotaNeeded: number;
    quotaIncrease: boolean;
    stageRateLimit: number;
    stageBurstLimit: number;
  };
  buyLambda: {
    durationMsAccepted: number;
    durationMsRefused: number;
    peakConcurrency: number;
    secondsToScaleOnDemand: number;
    provisionedConcurrency: number;
  };
  lambdaAccountConcurrencyNeeded: number;
  redis: {
    /** Scripts per second while the sale accepts (its peak). */
    opsPerSecond: number;
    afterSoldOutOpsPerSecond: number;
    opsPerShard: number;
    saleShards: number;
    cacheShards: number;
    /** A hold sale cannot be sharded (409 HOLD_ON_SHARDED_SALE): the peak it can take. */
    holdSaleLimited: boolean;
  };
  consumer: {
    ordersPerSecondEach: number;
    concurrency: number;
    drainSeconds: number;
    secondsToScale: number;
  };
  database: {
    rowsPerSecond: number;
    acu: number;
    connectionsNeeded: number;
    maxAcuForConnections: number;
    maxCapacity: number;
  };
  cost: {
    perMillionBuys: number;
    perMillionBuysBreakdown: Record<string, number>;
    perMillionOrders: number;
    hourlyFixed: number;
    hourlyFixedBreakdown: Record<string, number>;
  };
}

const ceil = Math.ceil;
const round = (value: number, digits = 2) => Number(value.toFixed(digits));

/** Lambda's on-demand scaling: seconds until a function reaches `concurrency` from nothing. */
export function secondsToScale(concurrency: number, per10s: number): number {
  return concurrency <= per10s ? 0 : ceil(concurrency / per10s - 1) * 10;
}

/** Aurora PostgreSQL's default max_connections at a capacity (ACU), capped at 5,000. */
export function maxConnections(acu: number, a: Assumptions = ASSUMED): number {
  return Math.min(
    a.auroraMaxConnectionsCap,
    Math.floor((acu * 2 * 1024 ** 3) / a.auroraBytesPerConnection),
  );
}

/** The smallest half-ACU step whose max_connections (less the proxy's share) holds `connections`. */
export function acuForConnections(connections: number, a: Assumptions = ASSUMED): number {
  for (let acu = 0.5; acu <= 256; acu += 0.5) {
    if ((maxConnections(acu, a) * a.proxyMaxConnectionsPercent) / 100 >= connections) return acu;
  }
  return Number.POSITIVE_INFINITY;
}

export function capacityPlan(input: DropInput, a: Assumptions = ASSUMED): CapacityPlan {
  if (!(input.buyersPerSecond > 0) || !(input.stock > 0) || input.holdSeconds < 0) {
    throw new RangeError("buyersPerSecond and stock must be positive, holdSeconds >= 0");
  }
  const B = input.buyersPerSecond;
  const R = B * input.attemptsPerBuyer;
  const sellOutSeconds = input.stock / B;
  const acceptedOrders = Math.min(input.stock, Math.floor(B * input.dropSeconds));

  // Edge and API Gateway: every buy attempt passes both (the cached sale read barely reaches the API).
  const apiRps = ceil(R);
  const accountQuotaNeeded = ceil(apiRps * 1.2);

  // The buy function: Little's law, accepting phase and sold-out phase.
  const durationMsAccepted = a.buyCpuMsAccepted + a.redisRoundTripMs + a.sqsSendMs;
  const durationMsRefused = a.buyCpuMsRefused + a.redisRoundTripMs;
  const accepting = B * durationMsAccepted + (R - B) * durationMsRefused;
  const soldOut = R * durationMsRefused;
  const peakConcurrency = ceil(Math.max(accepting, soldOut) / 1000);
  // A drop is a step: the first 1,000 environments come at once, the rest 1,000 per 10 s.
  const provisionedConcurrency = Math.max(0, peakConcurrency - a.lambdaScalingPer10s);

  // The consumer: batches of 100 at CPU + waits; enough invocations to drain in time.
  const batch = a.consumerBatchSize;
  const batchMs = batch * a.consumerCpuMsPerOrder + a.consumerBatchWaitMs;
  const ordersPerSecondEach = (batch / batchMs) * 1000;
  const consumerConcurrency = Math.min(
    a.sqsMaxConsumers,
    Math.max(2, ceil(acceptedOrders / (input.drainSeconds * ordersPerSecondEach))),
  );
  const consumerDrainSeconds = acceptedOrders / (consumerConcurrency * ordersPerSecondEach);
  const consumerScaleSeconds =
    consumerConcurrency <= a.sqsInitialConsumers
      ? 0
      : ceil(((consumerConcurrency - a.sqsInitialConsumers) / a.sqsConsumersAddedPerMinute) * 60);

  // Redis: every attempt is one script while the sale accepts; every order is confirmed once
  // by the consumer (at the drain's pace) and, with a hold, paid or expired within the hold.
  // Once sold out, each buy container answers from memory and asks Redis once per
  // SOLD_OUT_CACHE_MS.
  const perShard = (1000 / a.redisMsPerScript) * a.redisShardTargetUtilisation;
  const confirmsPerSecond = Math.min(acceptedOrders, consumerConcurrency * ordersPerSecondEach);
  const holdScriptsPerSecond = input.holdSeconds > 0 ? acceptedOrders / input.holdSeconds : 0;
  const opsPerSecond = ceil(R + confirmsPerSecond + holdScriptsPerSecond);
  const afterSoldOutOpsPerSecond = ceil(
    Math.min(R, (peakConcurrency * 1000) / a.soldOutCacheMs) + confirmsPerSecond,
  );
  const saleShards = ceil(opsPerSecond / perShard);
  const holdSaleLimited = input.holdSeconds > 0 && saleShards > 1;

  // Aurora: rows per second of the drain, connections of the consumers.
  const rowsPerSecond = ceil(Math.min(acceptedOrders, consumerConcurrency * ordersPerSecondEach));
  const rowsPerAcu = (a.postgresRowsPerCoreSecond / a.acusPerCore) * a.auroraTargetUtilisation;
  const acu = Math.max(0.5, ceil((rowsPerSecond / rowsPerAcu) * 2) / 2);
  const connectionsNeeded = consumerConcurrency * a.databasePoolSize + 20; // + the HTTP readers
  const maxAcuForConnections = acuForConnections(connectionsNeeded, a);
  const maxCapacity = Math.max(acu, maxAcuForConnections);

  const lambdaAccountConcurrencyNeeded =
    peakConcurrency + consumerConcurrency + 20 + a.lambdaUnreservedMinimum;

  // Cost per million buy attempts (variable), and per million accepted orders.
  const gbSecondsPerBuy =
    ((durationMsAccepted * B + durationMsRefused * (R - B)) / R / 1000) * a.buyMemoryGb;
  const perMillionBuysBreakdown = {
    cloudFront: a.cloudFrontPerMillion,
    waf: a.wafPerMillion,
    apiGateway: a.apiGatewayPerMillion,
    buyLambda: a.lambdaPerMillion + gbSecondsPerBuy * 1e6 * a.lambdaPerGbSecond,
  };
  const perOrder =
    a.sqsPerMillion * (1 + 2 / batch) + // send, and a receive + delete per batch
    (a.lambdaPerMillion / batch +
      (batchMs / 1000 / batch) * a.consumerMemoryGb * 1e6 * a.lambdaPerGbSecond);
  const hourlyFixedBreakdown = {
    cacheNodes: saleShards * 2 * a.cacheNodeHour, // primary + replica per shard
    aurora: maxCapacity * a.acuHour * 2, // writer + reader scale together
    rdsProxy: Math.max(8, maxCapacity * 2) * a.proxyAcuHour,
    provisionedConcurrency:
      provisionedConcurrency * a.buyMemoryGb * 3600 * a.provisionedPerGbSecond,
  };
  const sum = (values: Record<string, number>) =>
    Object.values(values).reduce((total, value) => total + value, 0);

  return {
    input,
    sellOutSeconds: round(sellOutSeconds, 3),
    acceptedOrders,
    edge: {
      requestsPerSecond: apiRps,
      cloudFrontQuotaOk: apiRps <= a.cloudFrontRpsPerDistribution,
    },
    apiGateway: {
      requestsPerSecond: apiRps,
      accountQuotaNeeded,
      quotaIncrease: accountQuotaNeeded > a.apiGatewayAccountRps,
      stageRateLimit: accountQuotaNeeded,
      stageBurstLimit: Math.min(
        accountQuotaNeeded,
        Math.max(a.apiGatewayAccountBurst, ceil(apiRps / 2)),
      ),
    },
    buyLambda: {
      durationMsAccepted: round(durationMsAccepted, 3),
      durationMsRefused: round(durationMsRefused, 3),
      peakConcurrency,
      secondsToScaleOnDemand: secondsToScale(peakConcurrency, a.lambdaScalingPer10s),
      provisionedConcurrency,
    },
    lambdaAccountConcurrencyNeeded,
    redis: {
      opsPerSecond,
      afterSoldOutOpsPerSecond,
      opsPerShard: Math.floor(perShard),
      saleShards,
      cacheShards: saleShards,
      holdSaleLimited,
    },
    consumer: {
      ordersPerSecondEach: round(ordersPerSecondEach, 0),
      concurrency: consumerConcurrency,
      drainSeconds: round(consumerDrainSeconds, 1),
      secondsToScale: consumerScaleSeconds,
    },
    database: {
      rowsPerSecond,
      acu,
      connectionsNeeded,
      maxAcuForConnections,
      maxCapacity,
    },
    cost: {
      perMillionBuys: round(sum(perMillionBuysBreakdown)),
      perMillionBuysBreakdown: Object.fromEntries(
        Object.entries(perMillionBuysBreakdown).map(([k, v]) => [k, round(v, 3)]),
      ),
      perMillionOrders: round(perOrder, 2),
      hourlyFixed: round(sum(hourlyFixedBreakdown)),
      hourlyFixedBreakdown: Object.fromEntries(
        Object.entries(hourlyFixedBreakdown).map(([k, v]) => [k, round(v, 3)]),
      ),
    },
  };
}
