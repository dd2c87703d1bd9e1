import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  BUNDLED_SDK_MODULES,
  dashboardFiles,
  luaScripts,
  runtimeProvidedModules,
  sqlMigrations,
} from "../../lib/bundling.js";
import { handlerCatalog, MIGRATE_HANDLER } from "../../lib/handlers.js";
import { PROJECT_ROOT } from "../../lib/paths.js";
import { bundledAwsApp } from "./support/apps.js";

/**
 * The bundles `cdk synth` produces for the real handlers (local esbuild, no
 * Docker). Budget: the buy function (the hot path, whose cold starts a crowd
 * meets) under 500 KB, every other under 600 KB; X-Ray's SDK (Powertools
 * Tracer, aws-xray-sdk-core with semver and cls-hooked) is about 120 KB of
 * each, see docs/deploy.md "Bundle sizes". The handlers import
 * zod as `import * as z from "zod"`: the named import pulls in every locale
 * (~260 KB more, see README "Bundle sizes").
 */
const BUDGET_BYTES = 600 * 1024;
const HOT_PATH_BUDGET_BYTES = 500 * 1024;

/** Every function of the stack, as lib/handlers.ts derives them from lambdas/. */
const specs = handlerCatalog({ projectRoot: PROJECT_ROOT });
const handlers = specs.map((spec) => spec.name);
const redisUsers = specs.filter((spec) => spec.access.redis).map((spec) => spec.name);

let outdir: string;
let bundles: Map<string, string>;
beforeAll(() => {
  ({ outdir, bundles } = bundledAwsApp({
    jwtIssuer: "https://issuer.test/",
    jwtAudience: "flash-sale-api",
  }));
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

const bundleOf = (handler: string) => {
  const dir = bundles.get(handler);
  if (!dir) throw new Error(`no bundle for ${handler}`);
  return join(dir, "index.mjs");
};
const codeOf = (handler: string) => readFileSync(bundleOf(handler), "utf8");

/**
 * A line of a text file that reads the same in the bundle: esbuild prints
 * inlined multi-line strings as template literals, which keep the line breaks
 * but escape backslashes, backticks and `${`.
 */
function plainLine(text: string): string {
  const line = text
    .split("\n")
    .map((l) => l.trim())
    .find((l) => l.length > 20 && !/[\\`$]/.test(l));
  if (!line) throw new Error(`no plain line in ${text.slice(0, 40)}`);
  return line;
}

describe("Lambda bundles", () => {
  it("exist for every function: each handler of lambdas/registry.ts, the consumer, the migrations", () => {
    expect([...bundles.keys()].sort()).toEqual([...handlers].sort());
  });

  it("are one minified ESM file per function, with a source map and a require shim", () => {
    for (const handler of handlers) {
      const file = bundleOf(handler);
      expect(existsSync(`${file}.map`), handler).toBe(true);
      const code = codeOf(handler);
      expect(code.startsWith("import { createRequire } from 'module';"), handler).toBe(true);
      expect(code, handler).toMatch(/export\s*\{[^}]*as handler\s*\}/);
      // Minified: nearly all the code sits on lines of thousands of characters. The short
      // lines left are inside string literals (the inlined Lua and SQL keep their line
      // breaks), so they are measured as a share of the bytes, not as a line count.
      // The dashboard function carries its page (HTML, CSS, JS) as text, formatted as written.
      const inlined =
        handler === "dashboard" ? Object.values(dashboardFiles(PROJECT_ROOT)).join("").length : 0;
      const inLongLines = code
        .split("\n")
        .filter((line) => line.length > 1000)
        .reduce((sum, line) => sum + line.length, 0);
      expect(inLongLines / (code.length - inlined), handler).toBeGreaterThan(0.8);
    }
  });

  it("carry every lua/*.lua script in every function that uses Redis (no file read at runtime)", () => {
    const scripts = luaScripts(PROJECT_ROOT);
    expect(Object.keys(scripts).length).toBeGreaterThan(0);
    expect(redisUsers).toContain("buy");
    for (const handler of redisUsers) {
      const code = codeOf(handler);
      for (const [name, text] of Object.entries(scripts)) {
        expect(code, `${handler}: ${name}.lua`).toContain(`"${name}":`);
        expect(code, `${handler}: ${name}.lua`).toContain(plainLine(text));
      }
    }
  });

  it("carry the SQL migrations in the migration function (__SQL_MIGRATIONS__)", () => {
    const migrations = sqlMigrations(PROJECT_ROOT);
    expect(Object.keys(migrations).length).toBeGreaterThan(0);
    const code = codeOf(MIGRATE_HANDLER);
    for (const [file, sql] of Object.entries(migrations)) {
      expect(code, file).toContain(`"${file}":`);
      expect(code, file).toContain(plainLine(sql));
    }
  });

  it("use the runtime's AWS SDK rather than bundling it", () => {
    expect(codeOf("buy")).toMatch(/from\s*"@aws-sdk\/client-sqs"/);
    for (const handler of handlers) expect(codeOf(handler), handler).not.toContain("SignatureV4");
  });

  it("bundle @smithy/node-http-handler from our lockfile, the handler the SQS timeout tests run", () => {
    const lock = JSON.parse(readFileSync(join(PROJECT_ROOT, "package-lock.json"), "utf8"));
    const version = lock.packages["node_modules/@smithy/node-http-handler"].version as string;
    expect(version).toMatch(/^\d+\./);
    // Not left to the runtime: no import of it survives in any bundle that sends to SQS...
    for (const handler of ["buy", "expire-holds", "admin-redrive"]) {
      const code = codeOf(handler);
      expect(code, handler).not.toMatch(/from\s*"@smithy\/node-http-handler"/);
      // ...its request-timeout switch is in the bundle itself, and the SQS client stays the runtime's.
      expect(code, handler).toContain("throwOnRequestTimeout");
      expect(code, handler).toMatch(/from\s*"@aws-sdk\/client-sqs"/);
    }
    // Every other @smithy package of the lockfile, and all of @aws-sdk, stay external.
    const external = runtimeProvidedModules(PROJECT_ROOT);
    expect(external).toContain("@aws-sdk/*");
    for (const bundled of BUNDLED_SDK_MODULES) expect(external).not.toContain(bundled);
    expect(external.filter((name) => name.startsWith("@smithy/")).length).toBeGreaterThan(0);
  });

  it(`stay under ${BUDGET_BYTES / 1024} KB each, buy under ${HOT_PATH_BUDGET_BYTES / 1024} KB`, () => {
    const sizes = Object.fromEntries(handlers.map((h) => [h, statSync(bundleOf(h)).size]));
    console.info("bundle sizes (bytes):", sizes);
    for (const [handler, size] of Object.entries(sizes)) {
      expect(size, handler).toBeLessThan(handler === "buy" ? HOT_PATH_BUDGET_BYTES : BUDGET_BYTES);
    }
  });

  it("carry the tracer (Powertools Tracer, X-Ray's SDK), loaded only when Lambda traces", () => {
    for (const handler of handlers) {
      expect(codeOf(handler), handler).toContain("AWS_XRAY_DAEMON_ADDRESS");
    }
  });

  it("carry Stripe's webhook verification, not its API client (lib/bundle-stubs/stripe-webhooks.mjs)", () => {
    const code = codeOf("payment-webhook");
    expect(code).toContain("No signatures found matching the expected signature for payload");
    expect(code).not.toContain("api.stripe.com");
  });

  it("load as ES modules and export a handler", async () => {
    process.env.REDIS_URL = "redis://127.0.0.1:1";
    process.env.REDIS_CONNECT_TIMEOUT_MS = "50";
    process.env.ORDERS_QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/000000000000/orders";
    const module = (await import(bundleOf("buy"))) as { handler: unknown };
    expect(typeof module.handler).toBe("function");
  });
});
