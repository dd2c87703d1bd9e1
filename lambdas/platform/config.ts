import * as z from "zod";

/**
 * Every environment read of the Lambdas lives here. Each handler asks for the
 * slice it needs once, at cold start; a missing or malformed setting throws
 * before the first request, with a message that names the variable.
 */

export class ConfigError extends Error {
  override name = "ConfigError";
}

type Env = Record<string, string | undefined>;

function required(env: Env, name: string): string {
  const value = env[name];
  if (value === undefined || value.trim() === "") {
    throw new ConfigError(`Environment variable ${name} is required`);
  }
  return value.trim();
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value === undefined || value === "" ? undefined : value;
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = optional(env, name);
  if (raw === undefined) return fallback;
  const parsed = z.coerce.number().int().min(min).max(max).safeParse(raw);
  if (!parsed.success) {
    throw new ConfigError(
      `Environment variable ${name} must be an integer in [${min}, ${max}], got "${raw}"`,
    );
  }
  return parsed.data;
}

function boolean(env: Env, name: string, fallback: boolean): boolean {
  const raw = optional(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new ConfigError(`Environment variable ${name} must be true or false, got "${raw}"`);
}

function url(env: Env, name: string, protocols: readonly string[]): URL {
  const raw = required(env, name);
  let parsed: URL;
  try {
    parsed = new URL(raw);
  } catch {
    throw new ConfigError(`Environment variable ${name} is not a valid URL: "${raw}"`);
  }
  if (!protocols.includes(parsed.protocol)) {
    throw new ConfigError(
      `Environment variable ${name} must use ${protocols.join(" or ")}, got "${parsed.protocol}"`,
    );
  }
  return parsed;
}

export interface RedisConfig {
  url: string;
  /** TLS is on for rediss:// URLs (ElastiCache in-transit encryption) or when REDIS_TLS=true. */
  tls: boolean;
  /** AUTH token given directly (local use)... */
  password: string | undefined;
  /** ...or the ARN of the Secrets Manager secret holding it (AWS), fetched at cold start. */
  passwordSecretArn: string | undefined;
  connectTimeoutMs: number;
  commandTimeoutMs: number;
  /** ElastiCache in cluster mode: REDIS_URL is the configuration endpoint. */
  cluster: boolean;
}

export interface SqsConfig {
  region: string;
  /** Only set off AWS (the local SQS-protocol server); in AWS the SDK resolves the endpoint. */
  endpoint: string | undefined;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxAttempts: number;
}

export interface BuyConfig {
  redis: RedisConfig;
  sqs: SqsConfig;
  ordersQueueUrl: string;
  /** How long a container answers SOLD_OUT/SALE_ENDED from memory; 0 turns it off. */
  soldOutCacheMs: number;
}

export function readRedisConfig(env: Env = process.env): RedisConfig {
  const redisUrl = url(env, "REDIS_URL", ["redis:", "rediss:"]);
  return {
    url: redisUrl.toString(),
    tls: boolean(env, "REDIS_TLS", redisUrl.protocol === "rediss:"),
    password: optional(env, "REDIS_PASSWORD"),
    passwordSecretArn: optional(env, "REDIS_AUTH_SECRET_ARN"),
    connectTimeoutMs: integer(env, "REDIS_CONNECT_TIMEOUT_MS", 1_000, 50, 30_000),
    commandTimeoutMs: integer(env, "REDIS_COMMAND_TIMEOUT_MS", 1_000, 10, 30_000),
    cluster: boolean(env, "REDIS_CLUSTER", false),
  };
}

export function readSqsConfig(env: Env = process.env): SqsConfig {
  return {
    region: optional(env, "AWS_REGION") ?? optional(env, "AWS_DEFAULT_REGION") ?? "us-east-1",
    endpoint: optional(env, "SQS_ENDPOINT"),
    connectTimeoutMs: integer(env, "SQS_CONNECT_TIMEOUT_MS", 1_000, 50, 30_000),
    requestTimeoutMs: integer(env, "SQS_REQUEST_TIMEOUT_MS", 2_000, 50, 30_000),
    maxAttempts: integer(env, "SQS_MAX_ATTEMPTS", 2, 1, 10),
  };
}

export interface DatabaseConfig {
  /** A full connection string (local use)... */
  url: string | undefined;
  /** ...or host/port/name with credentials from the Secrets Manager secret (AWS, through RDS Proxy). */
  host: string | undefined;
  port: number;
  database: string;
  secretArn: string | undefined;
  ssl: boolean;
  /** Connections per container: a Lambda handles one batch at a time. */
  poolSize: number;
  connectTimeoutMs: number;
  statementTimeoutMs: number;
}

export function readDatabaseConfig(env: Env = process.env): DatabaseConfig {
  const url = optional(env, "DATABASE_URL");
  const host = optional(env, "DATABASE_HOST");
  if (url === undefined && host === undefined) {
    throw new ConfigError(
      "Environment variable DATABASE_URL (or DATABASE_HOST with DATABASE_SECRET_ARN) is required",
    );
  }
  const secretArn = optional(env, "DATABASE_SECRET_ARN");
  if (url === undefined && secretArn === undefined) {
    throw new ConfigError(
      "Environment variable DATABASE_SECRET_ARN is required with DATABASE_HOST",
    );
  }
  return {
    url,
    host,
    port: integer(env, "DATABASE_PORT", 5432, 1, 65_535),
    database: optional(env, "DATABASE_NAME") ?? "flashsale",
    secretArn,
    ssl: boolean(env, "DATABASE_SSL", false),
    poolSize: integer(env, "DATABASE_POOL_SIZE", 2, 1, 50),
    connectTimeoutMs: integer(env, "DATABASE_CONNECT_TIMEOUT_MS", 3_000, 100, 60_000),
    statementTimeoutMs: integer(env, "DATABASE_STATEMENT_TIMEOUT_MS", 10_000, 100, 600_000),
  };
}

export interface QueuesConfig {
  sqs: SqsConfig;
  ordersQueueUrl: string;
  deadLetterQueueUrl: string;
}

export function readQueuesConfig(env: Env = process.env): QueuesConfig {
  return {
    sqs: readSqsConfig(env),
    ordersQueueUrl: url(env, "ORDERS_QUEUE_URL", ["http:", "https:"]).toString(),
    deadLetterQueueUrl: url(env, "ORDERS_DLQ_URL", ["http:", "https:"]).toString(),
  };
}

export function readBuyConfig(env: Env = process.env): BuyConfig {
  return {
    redis: readRedisConfig(env),
    sqs: readSqsConfig(env),
    ordersQueueUrl: url(env, "ORDERS_QUEUE_URL", ["http:", "https:"]).toString(),
    soldOutCacheMs: integer(env, "SOLD_OUT_CACHE_MS", 500, 0, 10_000),
  };
}

export interface SaleStatsConfig {
  redis: RedisConfig;
  database: DatabaseConfig;
  queues: QueuesConfig;
  /** Deadline of the Postgres count and of the queue attributes; past it they show as unavailable. */
  sourceTimeoutMs: number;
}

/** The dashboard's stats endpoint: Redis counters, the order rows and both queues. */
export function readSaleStatsConfig(env: Env = process.env): SaleStatsConfig {
  return {
    redis: readRedisConfig(env),
    database: readDatabaseConfig(env),
    queues: readQueuesConfig(env),
    sourceTimeoutMs: integer(env, "STATS_SOURCE_TIMEOUT_MS", 1_500, 50, 10_000),
  };
}

export interface PaymentWebhookConfig {
  redis: RedisConfig;
  /** The provider's webhook signing secret given directly (local use: the simulated provider's)... */
  webhookSecret: string | undefined;
  /** ...or the ARN of the Secrets Manager secret holding it (AWS), read once at cold start. */
  webhookSecretArn: string | undefined;
}

/** The payment webhook: Redis (the pay script) and the provider's signing secret. */
export function readPaymentWebhookConfig(env: Env = process.env): PaymentWebhookConfig {
  const webhookSecret = optional(env, "PAYMENT_WEBHOOK_SECRET");
  const webhookSecretArn = optional(env, "PAYMENT_WEBHOOK_SECRET_ARN");
  if (webhookSecret === undefined && webhookSecretArn === undefined) {
    throw new ConfigError(
      "Environment variable PAYMENT_WEBHOOK_SECRET (or PAYMENT_WEBHOOK_SECRET_ARN) is required",
    );
  }
  return { redis: readRedisConfig(env), webhookSecret, webhookSecretArn };
}

export interface ExpireHoldsConfig {
  redis: RedisConfig;
  sqs: SqsConfig;
  ordersQueueUrl: string;
}

/** The hold sweeper: Redis (the expiry script, the outboxes) and the orders queue (history events). */
export function readExpireHoldsConfig(env: Env = process.env): ExpireHoldsConfig {
  return {
    redis: readRedisConfig(env),
    sqs: readSqsConfig(env),
    ordersQueueUrl: url(env, "ORDERS_QUEUE_URL", ["http:", "https:"]).toString(),
  };
}

export interface RepairOrdersConfig {
  redis: RedisConfig;
  database: DatabaseConfig;
  queues: QueuesConfig;
  /** A reservation younger than this may still be between its reservation and its send. */
  graceMs: number;
  maxSales: number;
  maxRepairs: number;
  endedWithinMs: number;
  lockTtlMs: number;
  events: EventsConfig;
}

/**
 * The scheduled repair. The grace period must outlast the buy function's
 * timeout (a buy cannot send after its function is stopped): CDK sets it from
 * httpTimeoutSeconds (lib/constructs/auto-repair.ts).
 */
export function readRepairOrdersConfig(env: Env = process.env): RepairOrdersConfig {
  return {
    redis: readRedisConfig(env),
    database: readDatabaseConfig(env),
    queues: readQueuesConfig(env),
    graceMs: integer(env, "REPAIR_GRACE_SECONDS", 60, 1, 3600) * 1000,
    maxSales: integer(env, "REPAIR_MAX_SALES", 50, 1, 200),
    maxRepairs: integer(env, "REPAIR_MAX_ORDERS", 500, 1, 10_000),
    endedWithinMs: integer(env, "REPAIR_ENDED_WITHIN_SECONDS", 86_400, 0, 30 * 86_400) * 1000,
    lockTtlMs: integer(env, "REPAIR_LOCK_TTL_SECONDS", 300, 1, 900) * 1000,
    events: readEventsConfig(env),
  };
}

export interface EventBridgeConfig {
  kind: "eventbridge";
  busName: string;
  region: string;
  /** Only off AWS (a local EventBridge-compatible endpoint); in AWS the SDK resolves it. */
  endpoint: string | undefined;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  maxAttempts: number;
}

/**
 * Where the integration events go (docs/events.md): EVENT_BUS_NAME set, that
 * EventBridge bus (CDK sets it on the consumer and the repair); else
 * LOCAL_EVENTS_FILE set, JSON lines appended to that file (the local stack);
 * else nowhere.
 */
export type EventsConfig = EventBridgeConfig | { kind: "file"; path: string } | { kind: "none" };

export function readEventsConfig(env: Env = process.env): EventsConfig {
  const busName = optional(env, "EVENT_BUS_NAME");
  if (busName !== undefined) {
    if (!/^[A-Za-z0-9._\-/:]{1,1600}$/.test(busName)) {
      throw new ConfigError(
        `Environment variable EVENT_BUS_NAME is not a bus name or ARN: "${busName}"`,
      );
    }
    return {
      kind: "eventbridge",
      busName,
      region: optional(env, "AWS_REGION") ?? optional(env, "AWS_DEFAULT_REGION") ?? "us-east-1",
      endpoint: optional(env, "EVENTS_ENDPOINT"),
      connectTimeoutMs: integer(env, "EVENTS_CONNECT_TIMEOUT_MS", 1_000, 50, 30_000),
      requestTimeoutMs: integer(env, "EVENTS_REQUEST_TIMEOUT_MS", 2_000, 50, 30_000),
      maxAttempts: integer(env, "EVENTS_MAX_ATTEMPTS", 3, 1, 10),
    };
  }
  const path = optional(env, "LOCAL_EVENTS_FILE");
  if (path !== undefined) return { kind: "file", path };
  return { kind: "none" };
}

/**
 * The orders queue's maxReceiveCount (CDK sets it on the consumer): a record failing on its
 * last receive is counted as dead-lettered. 0 (unset, as locally) counts none.
 */
export function readQueueMaxReceiveCount(env: Env = process.env): number {
  return integer(env, "QUEUE_MAX_RECEIVE_COUNT", 0, 0, 1000);
}

/**
 * The scope the admin routes require (the stack's `adminScope`; Cognito's form
 * `<resource-server>/<scope>` included), checked again by the handlers behind
 * API Gateway's authorizer. Defaults to `admin`.
 */
export function readAdminScope(env: Env = process.env): string {
  const scope = optional(env, "ADMIN_SCOPE") ?? "admin";
  if (!/^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/.test(scope)) {
    throw new ConfigError(`Environment variable ADMIN_SCOPE is not one OAuth scope: "${scope}"`);
  }
  return scope;
}

/**
 * The edge's origin header (CloudFront adds it; lib/constructs/edge.ts): when set, an HTTP
 * request without it came around the edge and is refused. Unset off AWS and without the edge.
 */
export function readOriginVerifySecret(env: Env = process.env): string | undefined {
  return optional(env, "ORIGIN_VERIFY_SECRET");
}

export interface RunDrawsConfig {
  redis: RedisConfig;
  database: DatabaseConfig;
  sqs: SqsConfig;
  ordersQueueUrl: string;
  /** Wait between the freeze and the draw, for the rows of the last entries to reach Postgres. */
  settleMs: number;
  /** The per-sale draw lock outlives a run that dies, for at most this long. */
  lockTtlMs: number;
  /** Most award-walk calls per sale and run (50 awards each at most). */
  walkSteps: number;
}

/** The draw runner (docs/draws.md): Redis, the entry rows and draw records, the orders queue (awards). */
export function readRunDrawsConfig(env: Env = process.env): RunDrawsConfig {
  return {
    redis: readRedisConfig(env),
    // A draw over a million entries reads their rows in one statement and records the list in another.
    database: {
      ...readDatabaseConfig(env),
      statementTimeoutMs: integer(env, "DRAW_STATEMENT_TIMEOUT_MS", 120_000, 1_000, 290_000),
    },
    sqs: readSqsConfig(env),
    ordersQueueUrl: url(env, "ORDERS_QUEUE_URL", ["http:", "https:"]).toString(),
    settleMs: integer(env, "DRAW_SETTLE_MS", 10_000, 0, 600_000),
    lockTtlMs: integer(env, "DRAW_LOCK_TTL_SECONDS", 300, 5, 900) * 1000,
    walkSteps: integer(env, "DRAW_WALK_STEPS", 200, 1, 10_000),
  };
}
