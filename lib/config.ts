import type { Node } from "constructs";

/**
 * Everything an operator can tune, read once from CDK context (`cdk.json` or
 * `-c key=value`). Every setting has a default, so `npx cdk synth` works with
 * no context, no AWS account and no credentials. Values given with `-c` arrive
 * as strings; numbers and booleans are parsed and range-checked here, and a bad
 * value fails the synth with a message that names the context key.
 */

export type DeployTarget = "aws" | "localstack";

export interface StackSettings {
  /** `aws` (the real deployment) or `localstack` (compose Redis/Postgres, no VPC). */
  target: DeployTarget;
  /** Stage name: part of the stack name and of resource names (`dev`, `staging`, `prod`). */
  stage: string;

  /** JWT authorizer: the identity provider's issuer URL and the accepted audiences. */
  jwtIssuer: string;
  jwtAudience: string[];

  /** HTTP API default stage throttling (requests per second, burst). */
  throttleRateLimit: number;
  throttleBurstLimit: number;

  /** POWERTOOLS_LOG_LEVEL of every function. */
  logLevel: string;
  /** Retention of the functions' and the API's log groups, in days. */
  logRetentionDays: number;

  /** Availability zones of the VPC (the cache and the database span them). */
  maxAzs: number;

  /** ElastiCache (Valkey) node type, replicas of the primary, engine version. */
  cacheNodeType: string;
  cacheReplicas: number;
  cacheEngineVersion: string;
  /** Node groups (shards) of the cache; above 1 it runs in cluster mode (for sales created with `shards`). */
  cacheShards: number;

  /** Aurora PostgreSQL Serverless v2 capacity (ACU) and reader instances. */
  dbMinCapacity: number;
  dbMaxCapacity: number;
  dbReaders: number;
  /** Deletion protection of the cluster; on by default for the `prod` stage. */
  dbDeletionProtection: boolean;

  /** HTTP handlers' timeout (API Gateway's integration limit is 30 s). */
  httpTimeoutSeconds: number;
  /** Memory of the HTTP handlers (CPU scales with it). */
  httpMemoryMb: number;
  /** Buy function: reserved concurrency (caps what reaches Redis/SQS); 0 = none. */
  buyReservedConcurrency: number;
  /** Buy function: provisioned concurrency on its `live` alias; 0 = none. */
  buyProvisionedConcurrency: number;

  /** Order consumer: timeout, memory and its SQS event source. */
  consumerTimeoutSeconds: number;
  consumerMemoryMb: number;
  consumerBatchSize: number;
  consumerBatchingWindowSeconds: number;
  /** Concurrent consumer invocations; this is what protects the database. */
  consumerMaxConcurrency: number;
  /** Receives before a message moves to the DLQ. */
  maxReceiveCount: number;

  /** Alarm thresholds. */
  queueAgeAlarmSeconds: number;
  api5xxAlarmPercent: number;
  /** Optional e-mail address subscribed to the alarm topic. */
  alarmEmail: string | undefined;

  /** Bundle the AWS SDK into each function instead of using the runtime's copy. */
  bundleAwsSdk: boolean;

  /** Changing it re-runs the migration custom resource even when no SQL changed. */
  migrationsNonce: string;

  /** LocalStack only: Pro/Ultimate has HTTP APIs (v2); the free plan only REST (v1). */
  localstackPro: boolean;
  /** LocalStack only: services as seen from LocalStack's Lambda containers. */
  localRedisUrl: string;
  localDatabaseUrl: string;
  localSqsEndpoint: string;
  /** LocalStack only: HS256 secret the REST adapter verifies bearer tokens with. */
  localJwtSecret: string;
}

export const DEFAULT_SETTINGS: StackSettings = {
  target: "aws",
  stage: "dev",
  jwtIssuer: "https://auth.example.com/",
  jwtAudience: ["flash-sale-api"],
  throttleRateLimit: 5000,
  throttleBurstLimit: 2000,
  logLevel: "INFO",
  logRetentionDays: 30,
  maxAzs: 2,
  cacheNodeType: "cache.t4g.small",
  cacheReplicas: 1,
  cacheEngineVersion: "8.0",
  cacheShards: 1,
  dbMinCapacity: 0.5,
  dbMaxCapacity: 4,
  dbReaders: 0,
  dbDeletionProtection: false,
  httpTimeoutSeconds: 10,
  httpMemoryMb: 1024,
  buyReservedConcurrency: 0,
  buyProvisionedConcurrency: 0,
  consumerTimeoutSeconds: 30,
  consumerMemoryMb: 512,
  consumerBatchSize: 100,
  consumerBatchingWindowSeconds: 1,
  consumerMaxConcurrency: 5,
  maxReceiveCount: 5,
  queueAgeAlarmSeconds: 300,
  api5xxAlarmPercent: 1,
  alarmEmail: undefined,
  bundleAwsSdk: false,
  migrationsNonce: "",
  localstackPro: false,
  localRedisUrl: "redis://redis:6379",
  localDatabaseUrl: "postgres://flashsale:flashsale@postgres:5432/flashsale",
  localSqsEndpoint: "http://localstack:4566",
  localJwtSecret: "flash-sale-local-development-secret",
};

/**
 * The orders queue's visibility timeout: six times the consumer's timeout plus
 * the batching window, as AWS advises for an SQS event source (181 s by default).
 */
export function queueVisibilityTimeoutSeconds(
  settings: Pick<StackSettings, "consumerTimeoutSeconds" | "consumerBatchingWindowSeconds">,
): number {
  return 6 * settings.consumerTimeoutSeconds + settings.consumerBatchingWindowSeconds;
}

export class SettingsError extends Error {
  override name = "SettingsError";
}

type Lookup = (key: string) => unknown;

function text(lookup: Lookup, key: string, fallback: string): string {
  const value = lookup(key);
  if (value === undefined || value === null) return fallback;
  if (typeof value !== "string" && typeof value !== "number" && typeof value !== "boolean") {
    throw new SettingsError(`Context ${key} must be a string, got ${JSON.stringify(value)}`);
  }
  const trimmed = String(value).trim();
  return trimmed === "" ? fallback : trimmed;
}

function number(lookup: Lookup, key: string, fallback: number, min: number, max: number): number {
  const raw = text(lookup, key, String(fallback));
  const value = Number(raw);
  if (!Number.isFinite(value) || value < min || value > max) {
    throw new SettingsError(`Context ${key} must be a number in [${min}, ${max}], got "${raw}"`);
  }
  return value;
}

function integer(lookup: Lookup, key: string, fallback: number, min: number, max: number): number {
  const value = number(lookup, key, fallback, min, max);
  if (!Number.isInteger(value)) {
    throw new SettingsError(`Context ${key} must be an integer, got ${value}`);
  }
  return value;
}

function flag(lookup: Lookup, key: string, fallback: boolean): boolean {
  const raw = text(lookup, key, String(fallback)).toLowerCase();
  if (raw === "true" || raw === "1") return true;
  if (raw === "false" || raw === "0") return false;
  throw new SettingsError(`Context ${key} must be true or false, got "${raw}"`);
}

function oneOf<T extends string>(
  lookup: Lookup,
  key: string,
  fallback: T,
  allowed: readonly T[],
): T {
  const raw = text(lookup, key, fallback);
  if (!allowed.includes(raw as T)) {
    throw new SettingsError(`Context ${key} must be one of ${allowed.join(", ")}, got "${raw}"`);
  }
  return raw as T;
}

function list(lookup: Lookup, key: string, fallback: string[]): string[] {
  const value = lookup(key);
  const items = Array.isArray(value)
    ? value.map(String)
    : text(lookup, key, fallback.join(",")).split(",");
  const cleaned = items.map((item) => item.trim()).filter(Boolean);
  return cleaned.length > 0 ? cleaned : fallback;
}

/** The retention periods CloudWatch Logs accepts (a subset: the ones worth choosing). */
const RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 180, 365, 731, 1827, 3653] as const;

function retention(lookup: Lookup, key: string, fallback: number): number {
  const value = integer(lookup, key, fallback, 1, 3653);
  if (!(RETENTION_DAYS as readonly number[]).includes(value)) {
    throw new SettingsError(
      `Context ${key} must be one of ${RETENTION_DAYS.join(", ")}, got ${value}`,
    );
  }
  return value;
}

/** Reads the settings from a context lookup (a construct node, or a plain object in tests). */
export function readSettings(source: Node | Record<string, unknown>): StackSettings {
  const lookup: Lookup =
    "tryGetContext" in source && typeof source.tryGetContext === "function"
      ? (key) => (source as Node).tryGetContext(key)
      : (key) => (source as Record<string, unknown>)[key];
  const d = DEFAULT_SETTINGS;

  const stage = text(lookup, "stage", d.stage);
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(stage)) {
    throw new SettingsError(
      `Context stage must be 1-20 lower-case letters, digits or dashes starting with a letter, got "${stage}"`,
    );
  }
  const jwtIssuer = text(lookup, "jwtIssuer", d.jwtIssuer);
  if (!/^https:\/\//.test(jwtIssuer)) {
    throw new SettingsError(`Context jwtIssuer must be an https:// URL, got "${jwtIssuer}"`);
  }
  const dbMinCapacity = number(lookup, "dbMinCapacity", d.dbMinCapacity, 0.5, 256);
  const dbMaxCapacity = number(lookup, "dbMaxCapacity", d.dbMaxCapacity, 1, 256);
  if (dbMaxCapacity < dbMinCapacity) {
    throw new SettingsError(
      `Context dbMaxCapacity (${dbMaxCapacity}) must be >= dbMinCapacity (${dbMinCapacity})`,
    );
  }
  const consumerBatchSize = integer(lookup, "consumerBatchSize", d.consumerBatchSize, 1, 10_000);
  const consumerBatchingWindowSeconds = integer(
    lookup,
    "consumerBatchingWindowSeconds",
    d.consumerBatchingWindowSeconds,
    0,
    300,
  );
  if (consumerBatchSize > 10 && consumerBatchingWindowSeconds < 1) {
    throw new SettingsError(
      "Context consumerBatchingWindowSeconds must be >= 1 when consumerBatchSize is over 10 (an SQS event source rule)",
    );
  }
  const alarmEmail = text(lookup, "alarmEmail", "");

  return {
    target: oneOf(lookup, "target", d.target, ["aws", "localstack"]),
    stage,
    jwtIssuer,
    jwtAudience: list(lookup, "jwtAudience", d.jwtAudience),
    throttleRateLimit: number(lookup, "throttleRateLimit", d.throttleRateLimit, 1, 1_000_000),
    throttleBurstLimit: integer(lookup, "throttleBurstLimit", d.throttleBurstLimit, 1, 1_000_000),
    logLevel: oneOf(lookup, "logLevel", d.logLevel, [
      "TRACE",
      "DEBUG",
      "INFO",
      "WARN",
      "ERROR",
      "CRITICAL",
      "SILENT",
    ]),
    logRetentionDays: retention(lookup, "logRetentionDays", d.logRetentionDays),
    maxAzs: integer(lookup, "maxAzs", d.maxAzs, 2, 6),
    cacheNodeType: text(lookup, "cacheNodeType", d.cacheNodeType),
    cacheReplicas: integer(lookup, "cacheReplicas", d.cacheReplicas, 1, 5),
    cacheEngineVersion: text(lookup, "cacheEngineVersion", d.cacheEngineVersion),
    cacheShards: integer(lookup, "cacheShards", d.cacheShards, 1, 15),
    dbMinCapacity,
    dbMaxCapacity,
    dbReaders: integer(lookup, "dbReaders", d.dbReaders, 0, 15),
    dbDeletionProtection: flag(lookup, "dbDeletionProtection", stage === "prod"),
    httpTimeoutSeconds: integer(lookup, "httpTimeoutSeconds", d.httpTimeoutSeconds, 1, 29),
    httpMemoryMb: integer(lookup, "httpMemoryMb", d.httpMemoryMb, 128, 10_240),
    buyReservedConcurrency: integer(
      lookup,
      "buyReservedConcurrency",
      d.buyReservedConcurrency,
      0,
      100_000,
    ),
    buyProvisionedConcurrency: integer(
      lookup,
      "buyProvisionedConcurrency",
      d.buyProvisionedConcurrency,
      0,
      100_000,
    ),
    consumerTimeoutSeconds: integer(
      lookup,
      "consumerTimeoutSeconds",
      d.consumerTimeoutSeconds,
      1,
      900,
    ),
    consumerMemoryMb: integer(lookup, "consumerMemoryMb", d.consumerMemoryMb, 128, 10_240),
    consumerBatchSize,
    consumerBatchingWindowSeconds,
    consumerMaxConcurrency: integer(
      lookup,
      "consumerMaxConcurrency",
      d.consumerMaxConcurrency,
      2,
      1000,
    ),
    maxReceiveCount: integer(lookup, "maxReceiveCount", d.maxReceiveCount, 1, 1000),
    queueAgeAlarmSeconds: integer(
      lookup,
      "queueAgeAlarmSeconds",
      d.queueAgeAlarmSeconds,
      60,
      86_400,
    ),
    api5xxAlarmPercent: number(lookup, "api5xxAlarmPercent", d.api5xxAlarmPercent, 0.01, 100),
    alarmEmail: alarmEmail === "" ? undefined : alarmEmail,
    bundleAwsSdk: flag(lookup, "bundleAwsSdk", d.bundleAwsSdk),
    migrationsNonce: text(lookup, "migrationsNonce", d.migrationsNonce),
    localstackPro: flag(lookup, "localstackPro", d.localstackPro),
    localRedisUrl: text(lookup, "localRedisUrl", d.localRedisUrl),
    localDatabaseUrl: text(lookup, "localDatabaseUrl", d.localDatabaseUrl),
    localSqsEndpoint: text(lookup, "localSqsEndpoint", d.localSqsEndpoint),
    localJwtSecret: text(lookup, "localJwtSecret", d.localJwtSecret),
  };
}
