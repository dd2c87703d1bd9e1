import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { type BundlingOptions, OutputFormat } from "aws-cdk-lib/aws-lambda-nodejs";
import { PROJECT_ROOT } from "./paths.js";

/**
 * How every function is bundled: local esbuild (no Docker), ESM for Node 24 (nodejs24.x),
 * minified with source maps, and the files the handlers would otherwise read
 * from disk (Lua scripts, SQL migrations) inlined through esbuild `define`.
 */

/** Every `lua/*.lua` file as { "reserve-8": "<text>" }, the shape `__LUA_SCRIPTS__` has. */
export function luaScripts(projectRoot: string): Record<string, string> {
  return readTextFiles(join(projectRoot, "lua"), ".lua", (file) => file.slice(0, -".lua".length));
}

/** Every `lambdas/adapters/postgres/migrations/*.sql` file as { "001_orders.sql": "<text>" }; {} without the folder. */
export function sqlMigrations(projectRoot: string): Record<string, string> {
  return readTextFiles(
    join(projectRoot, "lambdas", "adapters", "postgres", "migrations"),
    ".sql",
    (file) => file,
  );
}

/** The dashboard page's files (lambdas/dashboard/*.html|css|js|svg) as { "index.html": "<text>" }, the shape `__DASHBOARD_FILES__` has. */
export function dashboardFiles(projectRoot: string): Record<string, string> {
  const dir = join(projectRoot, "lambdas", "dashboard");
  return Object.assign(
    {},
    ...[".html", ".css", ".js", ".svg"].map((extension) =>
      readTextFiles(dir, extension, (file) => file),
    ),
  );
}

/** A stable digest of the migrations: the migration custom resource re-runs when it changes. */
export function migrationsDigest(migrations: Record<string, string>): string {
  const hash = createHash("sha256");
  for (const name of Object.keys(migrations).sort()) {
    hash
      .update(name)
      .update("\0")
      .update(migrations[name] ?? "")
      .update("\0");
  }
  return hash.digest("hex").slice(0, 16);
}

function readTextFiles(
  dir: string,
  extension: string,
  keyOf: (file: string) => string,
): Record<string, string> {
  if (!existsSync(dir)) return {};
  const files = readdirSync(dir)
    .filter((file) => file.endsWith(extension))
    .sort();
  return Object.fromEntries(
    files.map((file) => [keyOf(file), readFileSync(join(dir, file), "utf8")]),
  );
}

/** Lets bundled CommonJS dependencies call `require` inside the ESM bundle. */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

export interface BundlingInputs {
  /** esbuild `define`: identifier -> JavaScript expression (already JSON-encoded). */
  define?: Record<string, string>;
  /** `--alias` entries (`name=path`), used by the LocalStack REST adapter. */
  aliases?: string[];
  /**
   * Bundle the AWS SDK v3 (`@aws-sdk/*`, `@smithy/*`) instead of using the copy
   * the nodejs24.x runtime ships. Default false: measured, bundling it adds
   * ~320 KB to the buy function (README, "Bundle sizes").
   */
  bundleAwsSdk?: boolean;
}

/**
 * Packages replaced by a stub in every bundle: `debug` (through ioredis) only
 * logs when DEBUG=ioredis:* is set, which no function does; see the stub.
 */
export const BUNDLE_STUBS = [`debug=${join(PROJECT_ROOT, "lib", "bundle-stubs", "debug.cjs")}`];

/** The Node.js major of the functions' Lambda runtime (nodejs24.x); the local stack and tests run on it too. */
export const LAMBDA_NODE_MAJOR = 24;

/** What the nodejs24.x runtime already provides. */
export const RUNTIME_PROVIDED_MODULES = ["@aws-sdk/*", "@smithy/*"];

/**
 * Bundled from our lockfile even when the runtime's SDK is used: the HTTP handler the SQS
 * client is built with (lambdas/adapters/sqs/client.ts). Its `throwOnRequestTimeout` is what
 * makes a slow SendMessage fail at SQS_REQUEST_TIMEOUT_MS (test/integration/sqs-client.test.ts);
 * the runtime's copy may predate it, and then only warns and keeps waiting.
 */
export const BUNDLED_SDK_MODULES = ["@smithy/node-http-handler"];

/**
 * `@aws-sdk/*` and every `@smithy/*` package of the lockfile except BUNDLED_SDK_MODULES and
 * the `@smithy/*` packages they depend on (they are bundled with them, tree-shaken).
 */
export function runtimeProvidedModules(projectRoot: string = PROJECT_ROOT): string[] {
  const lock = JSON.parse(readFileSync(join(projectRoot, "package-lock.json"), "utf8")) as {
    packages: Record<string, { dependencies?: Record<string, string> }>;
  };
  const bundled = new Set<string>();
  const queue = [...BUNDLED_SDK_MODULES];
  while (queue.length > 0) {
    const name = queue.pop() as string;
    if (bundled.has(name)) continue;
    bundled.add(name);
    for (const dep of Object.keys(lock.packages[`node_modules/${name}`]?.dependencies ?? {})) {
      if (dep.startsWith("@smithy/")) queue.push(dep);
    }
  }
  const smithy = Object.keys(lock.packages)
    .map((path) => /^node_modules\/(@smithy\/[^/]+)$/.exec(path)?.[1])
    .filter((name): name is string => name !== undefined && !bundled.has(name))
    .sort();
  return ["@aws-sdk/*", ...smithy];
}

export function bundlingOptions(inputs: BundlingInputs = {}): BundlingOptions {
  return {
    format: OutputFormat.ESM,
    target: `node${LAMBDA_NODE_MAJOR}`,
    mainFields: ["module", "main"],
    banner: ESM_REQUIRE_BANNER,
    minify: true,
    sourceMap: true,
    // The runtime's AWS SDK v3 by default (smaller bundles, faster cold starts), but our
    // lockfile's HTTP handler (BUNDLED_SDK_MODULES); -c bundleAwsSdk=true pins the whole
    // lockfile SDK into the bundle instead.
    externalModules: inputs.bundleAwsSdk ? [] : runtimeProvidedModules(),
    define: inputs.define,
    esbuildArgs: { "--alias": [...BUNDLE_STUBS, ...(inputs.aliases ?? [])] },
    // Never fall back to Docker: bundling must work on machines without it (CI).
    forceDockerBundling: false,
  };
}
