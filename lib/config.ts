import type { Node } from "constructs";

/**
 * Everything an operator can tune, read once from CDK context (`cdk.json` or
 * `-c key=value`). Every setting has a default, so `npx cdk synth` works with
 * no context, no AWS account and no credentials. Values given with `-c` arrive
 * as strings; numbers and booleans are parsed and range-checked here, and a bad
 * value fails the synth with a message that names the context key.
 */

export type DeployTarget = "aws" | "localstack";
export type StageProfile = "dev" | "prod";

export interface StackSettings {
  /** `aws` (the real deployment) or `localstack` (compose Redis/Postgres, no VPC). */
  target: DeployTarget;
  /** Stage name: part of the stack name and of resource names (`dev`, `staging`, `prod`). */
  stage: string;
  /**
   * The defaults a stage starts from (`-c profile=dev|prod`; `prod` for the stage `prod`,
   * `dev` otherwise): see PROFILE_DEFAULTS. Every setting it sets can still be given by context.
   */
  profile: StageProfile;

  /** JWT authorizer: the identity provider's issuer URL and the accepted audiences. */
  jwtIssuer: string;
  jwtAudience: string[];
  /**
   * The OAuth scope of the admin routes, required by the JWT authorizer and checked again
   * by the handlers (ADMIN_SCOPE). Cognito names scopes `<resource-server>/<scope>`.
   */
  adminScope: string;

  /** HTTP API default stage throttling (requests per second, burst). */
  throttleRateLimit: number;
  throttleBurstLimit: number;
  /** Per-route throttles of the public reads (GET routes without a token) and of the admin routes. */
  publicThrottleRateLimit: number;
  publicThrottleBurstLimit: number;
  adminThrottleRateLimit: number;
  adminThrottleBurstLimit: number;
  /** Origins of a storefront allowed by CORS (empty: no CORS configuration). */
  corsOrigins: string[];

  /** CloudFront + AWS WAF in front of the HTTP API (lib/constructs/edge.ts). */
  edge: boolean;
  /** A CLOUDFRONT-scope web ACL made elsewhere (us-east-1); without it the stack makes one and must be in us-east-1. */
  edgeWebAclArn: string | undefined;
  /** WAF rate-based rule: requests per client IP per window before it blocks. */
  edgeRateLimit: number;
  edgeRateWindowSeconds: number;
  /** AWS WAF Bot Control (common level) on every request; extra cost. */
  edgeBotControl: boolean;
  /** A WAF Challenge or CAPTCHA on POST /sales/{saleId}/buy. */
  edgeBuyChallenge: "off" | "challenge" | "captcha";
  /** Keep queues, DLQ, log groups and secrets when the stack (or the resource) is deleted. */
  retainData: boolean;

  /** POWERTOOLS_LOG_LEVEL of every function. */
  logLevel: string;
  /** Retention of the functions' and the API's log groups, in days. */
  logRetentionDays: number;
  /** Days the integration events' archive keeps every event, for replay (docs/events.md). */
  eventArchiveDays: number;

  /** Availability zones of the VPC (the cache and the database span them). */
  maxAzs: number;
  /** Explicit zone names (the stack is environment-agnostic: without them it sees two). */
  availabilityZones: string[] | undefined;
  /** Weekly maintenance window (UTC, `ddd:hh:mm-ddd:hh:mm`) of the cache and the database; undefined = AWS picks. */
  maintenanceWindow: string | undefined;
  /** Daily backup / snapshot window (UTC, `hh:mm-hh:mm`) of the cache and the database. */
  backupWindow: string | undefined;

  /** ElastiCache (Valkey) node type, replicas of the primary, engine version. */
  cacheNodeType: string;
  cacheReplicas: number;
  cacheEngineVersion: string;
  /** Node groups (shards) of the cache; above 1 needs cacheClusterMode (for sales created with `shards`). */
  cacheShards: number;
  /**
   * Cluster mode of the replication group: a create-time choice (switching it on a live
   * group fails the update). With it on, changing cacheShards is online resharding.
   */
  cacheClusterMode: boolean;
  /** Take a final snapshot of the cache when it is deleted. */
  cacheFinalSnapshot: boolean;

  /** Aurora PostgreSQL Serverless v2 capacity (ACU) and reader instances. */
  dbMinCapacity: number;
  dbMaxCapacity: number;
  dbReaders: number;
  /** Deletion protection of the cluster; on by default for the `prod` stage. */
  dbDeletionProtection: boolean;
  /** Postgres statement timeout of the functions that answer HTTP (ms), below the borrow timeout. */
  dbStatementTimeoutMs: number;
  /** RDS Proxy borrow timeout (s), below the HTTP functions' timeout. */
  dbBorrowTimeoutSeconds: number;

  /** HTTP handlers' timeout (API Gateway's integration limit is 30 s). */
  httpTimeoutSeconds: number;
  /** Memory of the HTTP handlers (CPU scales with it). */
  httpMemoryMb: number;
  /** Buy function: reserved concurrency (caps what reaches Redis/SQS); 0 = none. */
  buyReservedConcurrency: number;
  /** Buy function: provisioned concurrency on its `live` alias; 0 = none. */
  buyProvisionedConcurrency: number;
  /** The account's Lambda concurrency quota in the region, to check the settings above against. */
  accountConcurrency: number;

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
  profile: "dev",
  jwtIssuer: "https://auth.example.com/", // PLACEHOLDER_JWT_ISSUER
  jwtAudience: ["flash-sale-api"],
  adminScope: "admin",
  throttleRateLimit: 5000,
  throttleBurstLimit: 2000,
  publicThrottleRateLimit: 1000,
  publicThrottleBurstLimit: 500,
  adminThrottleRateLimit: 50,
  adminThrottleBurstLimit: 20,
  corsOrigins: [],
  edge: false,
  edgeWebAclArn: undefined,
  edgeRateLimit: 300,
  edgeRateWindowSeconds: 60,
  edgeBotControl: false,
  edgeBuyChallenge: "off",
  retainData: false,
  logLevel: "INFO",
  logRetentionDays: 30,
  eventArchiveDays: 7,
  maxAzs: 2,
  availabilityZones: undefined,
  maintenanceWindow: undefined,
  backupWindow: undefined,
  cacheNodeType: "cache.t4g.small",
  cacheReplicas: 1,
  cacheEngineVersion: "8.0",
  cacheShards: 1,
  cacheClusterMode: false,
  cacheFinalSnapshot: false,
  dbMinCapacity: 0.5,
  dbMaxCapacity: 4,
  dbReaders: 0,
  dbDeletionProtection: false,
  dbStatementTimeoutMs: 3000,
  dbBorrowTimeoutSeconds: 4,
  httpTimeoutSeconds: 10,
  httpMemoryMb: 1024,
  buyReservedConcurrency: 0,
  buyProvisionedConcurrency: 0,
  accountConcurrency: 1000,
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
 * What a profile changes from DEFAULT_SETTINGS (the `dev` profile is DEFAULT_SETTINGS itself).
 * `prod`: a reader in a second zone, a non-burstable cache node in cluster mode (so shards can
 * be added online), a final cache snapshot, RETAIN on queues, DLQ, logs and secrets, more
 * receives before the DLQ, fixed maintenance and backup windows, CloudFront + WAF in front.
 */
export const PROFILE_DEFAULTS: Record<StageProfile, Partial<StackSettings>> = {
  dev: {},
  prod: {
    dbReaders: 1,
    dbDeletionProtection: true,
    cacheNodeType: "cache.m7g.large",
    cacheClusterMode: true,
    cacheFinalSnapshot: true,
    retainData: true,
    maxReceiveCount: 10,
    maintenanceWindow: "sun:04:00-sun:05:00",
    backupWindow: "02:00-03:00",
    edge: true,
    eventArchiveDays: 90,
  },
};

/** The placeholder issuer of cdk.json: accepted for the `dev` stage only. */
export const PLACEHOLDER_JWT_ISSUER = "https://auth.example.com/";

/** Lambda keeps this much of the account's concurrency unreserved (it refuses a reservation that leaves less). */
export const UNRESERVED_CONCURRENCY_MINIMUM = 100;

/** The HTTP functions' pg client allows this much over the statement timeout (lambdas/adapters/postgres/pool.ts). */
export const QUERY_TIMEOUT_MARGIN_MS = 1000;

/**
 * The database timeouts derived from the HTTP functions' timeout T: the proxy's borrow
 * timeout about half of T less a second, the statement timeout 30 % of T (at most what is
 * left), so a statement that waited the whole borrow and then ran into its own timeout
 * (plus the client's 1 s margin) still ends before T and answers a clean 503 instead of a
 * Lambda timeout: 3 s < 4 s < 10 s by default.
 */
export function derivedDatabaseTimeouts(httpTimeoutSeconds: number): {
  dbStatementTimeoutMs: number;
  dbBorrowTimeoutSeconds: number;
} {
  const borrow = Math.max(1, Math.floor((httpTimeoutSeconds - 1) / 2));
  const statement = Math.min(
    httpTimeoutSeconds * 300,
    borrow * 1000 - 100,
    (httpTimeoutSeconds - 1 - borrow) * 1000 - 100,
  );
  return { dbStatementTimeoutMs: statement, dbBorrowTimeoutSeconds: borrow };
}

/** The order the database timeouts must keep; returns what is wrong, or undefined. */
export function timeoutOrderProblem(settings: {
  dbStatementTimeoutMs: number;
  dbBorrowTimeoutSeconds: number;
  httpTimeoutSeconds: number;
  consumerTimeoutSeconds: number;
}): string | undefined {
  const statement = settings.dbStatementTimeoutMs;
  const borrow = settings.dbBorrowTimeoutSeconds * 1000;
  const fn = Math.min(settings.httpTimeoutSeconds, settings.consumerTimeoutSeconds) * 1000;
  if (statement >= borrow) {
    return `dbStatementTimeoutMs (${statement}) must be below dbBorrowTimeoutSeconds (${borrow / 1000} s)`;
  }
  if (borrow + statement + QUERY_TIMEOUT_MARGIN_MS >= fn) {
    return `dbBorrowTimeoutSeconds (${borrow / 1000} s) + dbStatementTimeoutMs (${statement}) + the client's ${QUERY_TIMEOUT_MARGIN_MS} ms margin must stay below the shortest timeout of a database function (${fn / 1000} s: httpTimeoutSeconds / consumerTimeoutSeconds), or a slow database shows as a Lambda timeout instead of a 503`;
  }
  return undefined;
}

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

  const stage = text(lookup, "stage", DEFAULT_SETTINGS.stage);
  if (!/^[a-z][a-z0-9-]{0,19}$/.test(stage)) {
    throw new SettingsError(
      `Context stage must be 1-20 lower-case letters, digits or dashes starting with a letter, got "${stage}"`,
    );
  }
  const profile = oneOf<StageProfile>(lookup, "profile", stage === "prod" ? "prod" : "dev", [
    "dev",
    "prod",
  ]);
  const d: StackSettings = { ...DEFAULT_SETTINGS, ...PROFILE_DEFAULTS[profile] };
  const target = oneOf(lookup, "target", d.target, ["aws", "localstack"]);

  const jwtIssuer = text(lookup, "jwtIssuer", d.jwtIssuer);
  if (!/^https:\/\//.test(jwtIssuer)) {
    throw new SettingsError(`Context jwtIssuer must be an https:// URL, got "${jwtIssuer}"`);
  }
  if (target === "aws" && jwtIssuer === PLACEHOLDER_JWT_ISSUER && stage !== "dev") {
    throw new SettingsError(
      `Context jwtIssuer is the placeholder ${PLACEHOLDER_JWT_ISSUER}, which only the dev stage may deploy with: every JWT route of stage "${stage}" would answer 401. Pass -c jwtIssuer=<your identity provider's issuer> -c jwtAudience=<audience>.`,
    );
  }
  const adminScope = text(lookup, "adminScope", d.adminScope);
  // RFC 6749 scope-token: printable ASCII but space, `"` and `\` (Cognito: <resource-server>/<scope>).
  if (!/^[\x21\x23-\x5B\x5D-\x7E]{1,256}$/.test(adminScope)) {
    throw new SettingsError(
      `Context adminScope must be one OAuth scope (printable ASCII, no space, quote or backslash), got "${adminScope}"`,
    );
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

  // Availability zones: an environment-agnostic stack sees two (Fn::GetAZs cannot be
  // counted at synth), so more than two must be named.
  const zones = list(lookup, "availabilityZones", []);
  const availabilityZones = zones.length > 0 ? zones : undefined;
  if (availabilityZones) {
    for (const zone of availabilityZones) {
      if (!/^[a-z]{2}(-[a-z]+)+-\d[a-z]$/.test(zone)) {
        throw new SettingsError(
          `Context availabilityZones must be zone names such as eu-west-1a, got "${zone}"`,
        );
      }
    }
    const regions = new Set(availabilityZones.map((zone) => zone.slice(0, -1)));
    if (regions.size > 1 || new Set(availabilityZones).size !== availabilityZones.length) {
      throw new SettingsError(
        `Context availabilityZones must be distinct zones of one region, got ${availabilityZones.join(",")}`,
      );
    }
  }
  const maxAzs = integer(lookup, "maxAzs", availabilityZones?.length ?? d.maxAzs, 2, 6);
  if (availabilityZones && availabilityZones.length !== maxAzs) {
    throw new SettingsError(
      `Context maxAzs (${maxAzs}) must equal the number of availabilityZones (${availabilityZones.length})`,
    );
  }
  if (!availabilityZones && maxAzs > 2) {
    throw new SettingsError(
      `Context maxAzs=${maxAzs} cannot be honoured: the stack is environment-agnostic, so CDK sees only two zones. Name them instead: -c availabilityZones=<region>a,<region>b,<region>c`,
    );
  }

  const cacheShards = integer(lookup, "cacheShards", d.cacheShards, 1, 15);
  const cacheClusterMode = flag(lookup, "cacheClusterMode", d.cacheClusterMode);
  if (cacheShards > 1 && !cacheClusterMode) {
    throw new SettingsError(
      `Context cacheShards=${cacheShards} needs -c cacheClusterMode=true. Cluster mode is chosen when the cache is created: turning it on for a live replication group fails the update (ElastiCache migrates through "compatible" by hand), so choose it for a new stack; with it on, cacheShards changes are online resharding.`,
    );
  }

  const httpTimeoutSeconds = integer(lookup, "httpTimeoutSeconds", d.httpTimeoutSeconds, 3, 29);
  const consumerTimeoutSeconds = integer(
    lookup,
    "consumerTimeoutSeconds",
    d.consumerTimeoutSeconds,
    3,
    900,
  );
  const derived = derivedDatabaseTimeouts(httpTimeoutSeconds);
  const dbStatementTimeoutMs = integer(
    lookup,
    "dbStatementTimeoutMs",
    derived.dbStatementTimeoutMs,
    100,
    600_000,
  );
  const dbBorrowTimeoutSeconds = integer(
    lookup,
    "dbBorrowTimeoutSeconds",
    derived.dbBorrowTimeoutSeconds,
    1,
    3600,
  );
  const timeoutProblem = timeoutOrderProblem({
    dbStatementTimeoutMs,
    dbBorrowTimeoutSeconds,
    httpTimeoutSeconds,
    consumerTimeoutSeconds,
  });
  if (timeoutProblem) throw new SettingsError(`Context ${timeoutProblem}`);

  // Concurrency against the account's quota (Service Quotas, Lambda "Concurrent executions",
  // L-B99A9384: 1,000 by default, often 10 on a new account).
  const accountConcurrency = integer(
    lookup,
    "accountConcurrency",
    d.accountConcurrency,
    10,
    1_000_000,
  );
  const reservable = accountConcurrency - UNRESERVED_CONCURRENCY_MINIMUM;
  const quota = `the account's Lambda concurrency quota (-c accountConcurrency=${accountConcurrency}; Service Quotas, Lambda "Concurrent executions", L-B99A9384: 1,000 by default, often 10 on new accounts, raise it before the drop)`;
  const buyReservedConcurrency = integer(
    lookup,
    "buyReservedConcurrency",
    d.buyReservedConcurrency,
    0,
    100_000,
  );
  const buyProvisionedConcurrency = integer(
    lookup,
    "buyProvisionedConcurrency",
    d.buyProvisionedConcurrency,
    0,
    100_000,
  );
  const consumerMaxConcurrency = integer(
    lookup,
    "consumerMaxConcurrency",
    d.consumerMaxConcurrency,
    2,
    1000,
  );
  if (buyReservedConcurrency > 0 && buyReservedConcurrency > reservable) {
    throw new SettingsError(
      `Context buyReservedConcurrency=${buyReservedConcurrency} exceeds what ${quota} lets one reserve: Lambda keeps ${UNRESERVED_CONCURRENCY_MINIMUM} unreserved, so at most ${Math.max(0, reservable)}`,
    );
  }
  if (buyProvisionedConcurrency > 0 && buyProvisionedConcurrency > reservable) {
    throw new SettingsError(
      `Context buyProvisionedConcurrency=${buyProvisionedConcurrency} exceeds ${quota} less the ${UNRESERVED_CONCURRENCY_MINIMUM} Lambda keeps unreserved (at most ${Math.max(0, reservable)})`,
    );
  }
  if (buyReservedConcurrency > 0 && buyProvisionedConcurrency > buyReservedConcurrency) {
    throw new SettingsError(
      `Context buyProvisionedConcurrency (${buyProvisionedConcurrency}) cannot exceed buyReservedConcurrency (${buyReservedConcurrency}): Lambda refuses provisioned concurrency above the reservation`,
    );
  }
  if (consumerMaxConcurrency >= accountConcurrency - buyReservedConcurrency) {
    throw new SettingsError(
      `Context consumerMaxConcurrency=${consumerMaxConcurrency} must stay below what is left unreserved of ${quota} after buyReservedConcurrency=${buyReservedConcurrency}, or the consumer alone can throttle every other function`,
    );
  }

  const maintenanceWindow = text(lookup, "maintenanceWindow", d.maintenanceWindow ?? "");
  const day = "(mon|tue|wed|thu|fri|sat|sun):([01]\\d|2[0-3]):[0-5]\\d";
  if (maintenanceWindow && !new RegExp(`^${day}-${day}$`).test(maintenanceWindow)) {
    throw new SettingsError(
      `Context maintenanceWindow must look like sun:04:00-sun:05:00 (UTC), got "${maintenanceWindow}"`,
    );
  }
  const backupWindow = text(lookup, "backupWindow", d.backupWindow ?? "");
  const hour = "([01]\\d|2[0-3]):[0-5]\\d";
  if (backupWindow && !new RegExp(`^${hour}-${hour}$`).test(backupWindow)) {
    throw new SettingsError(
      `Context backupWindow must look like 02:00-03:00 (UTC), got "${backupWindow}"`,
    );
  }

  const corsOrigins = list(lookup, "corsOrigins", []);
  for (const origin of corsOrigins) {
    if (!/^https?:\/\/[^/\s]+$/.test(origin)) {
      throw new SettingsError(
        `Context corsOrigins must be origins such as https://shop.example.com (scheme and host, no path), got "${origin}"`,
      );
    }
  }
  const edgeWebAclArn = text(lookup, "edgeWebAclArn", "");
  if (
    edgeWebAclArn &&
    !/^arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global\/webacl\/.+$/.test(edgeWebAclArn)
  ) {
    throw new SettingsError(
      `Context edgeWebAclArn must be a CLOUDFRONT-scope web ACL (arn:aws:wafv2:us-east-1:<account>:global/webacl/...), got "${edgeWebAclArn}"`,
    );
  }
  const edgeRateWindowSeconds = integer(
    lookup,
    "edgeRateWindowSeconds",
    d.edgeRateWindowSeconds,
    60,
    600,
  );
  if (![60, 120, 300, 600].includes(edgeRateWindowSeconds)) {
    throw new SettingsError(
      `Context edgeRateWindowSeconds must be 60, 120, 300 or 600 (AWS WAF's evaluation windows), got ${edgeRateWindowSeconds}`,
    );
  }

  return {
    target,
    stage,
    profile,
    jwtIssuer,
    jwtAudience: list(lookup, "jwtAudience", d.jwtAudience),
    adminScope,
    throttleRateLimit: number(lookup, "throttleRateLimit", d.throttleRateLimit, 1, 1_000_000),
    throttleBurstLimit: integer(lookup, "throttleBurstLimit", d.throttleBurstLimit, 1, 1_000_000),
    publicThrottleRateLimit: number(
      lookup,
      "publicThrottleRateLimit",
      d.publicThrottleRateLimit,
      1,
      1_000_000,
    ),
    publicThrottleBurstLimit: integer(
      lookup,
      "publicThrottleBurstLimit",
      d.publicThrottleBurstLimit,
      1,
      1_000_000,
    ),
    adminThrottleRateLimit: number(
      lookup,
      "adminThrottleRateLimit",
      d.adminThrottleRateLimit,
      1,
      1_000_000,
    ),
    adminThrottleBurstLimit: integer(
      lookup,
      "adminThrottleBurstLimit",
      d.adminThrottleBurstLimit,
      1,
      1_000_000,
    ),
    corsOrigins,
    edge: flag(lookup, "edge", d.edge),
    edgeWebAclArn: edgeWebAclArn === "" ? undefined : edgeWebAclArn,
    edgeRateLimit: integer(lookup, "edgeRateLimit", d.edgeRateLimit, 10, 2_000_000_000),
    edgeRateWindowSeconds,
    edgeBotControl: flag(lookup, "edgeBotControl", d.edgeBotControl),
    edgeBuyChallenge: oneOf(lookup, "edgeBuyChallenge", d.edgeBuyChallenge, [
      "off",
      "challenge",
      "captcha",
    ]),
    retainData: flag(lookup, "retainData", d.retainData),
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
    eventArchiveDays: integer(lookup, "eventArchiveDays", d.eventArchiveDays, 1, 3650),
    maxAzs,
    availabilityZones,
    maintenanceWindow: maintenanceWindow === "" ? undefined : maintenanceWindow,
    backupWindow: backupWindow === "" ? undefined : backupWindow,
    cacheNodeType: text(lookup, "cacheNodeType", d.cacheNodeType),
    cacheReplicas: integer(lookup, "cacheReplicas", d.cacheReplicas, 1, 5),
    cacheEngineVersion: text(lookup, "cacheEngineVersion", d.cacheEngineVersion),
    cacheShards,
    cacheClusterMode,
    cacheFinalSnapshot: flag(lookup, "cacheFinalSnapshot", d.cacheFinalSnapshot),
    dbMinCapacity,
    dbMaxCapacity,
    dbReaders: integer(lookup, "dbReaders", d.dbReaders, 0, 15),
    dbDeletionProtection: flag(lookup, "dbDeletionProtection", d.dbDeletionProtection),
    dbStatementTimeoutMs,
    dbBorrowTimeoutSeconds,
    httpTimeoutSeconds,
    httpMemoryMb: integer(lookup, "httpMemoryMb", d.httpMemoryMb, 128, 10_240),
    buyReservedConcurrency,
    buyProvisionedConcurrency,
    accountConcurrency,
    consumerTimeoutSeconds,
    consumerMemoryMb: integer(lookup, "consumerMemoryMb", d.consumerMemoryMb, 128, 10_240),
    consumerBatchSize,
    consumerBatchingWindowSeconds,
    consumerMaxConcurrency,
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
