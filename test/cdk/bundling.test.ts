import { existsSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HTTP_ROUTES } from "../../lambdas/routes.js";
import { luaScripts } from "../../lib/bundling.js";
import { PROJECT_ROOT } from "../../lib/paths.js";
import { bundledAwsApp } from "./support/apps.js";

/**
 * The bundles `cdk synth` produces for the real handlers (local esbuild, no
 * Docker). Budget: the buy bundle must stay under 500 KB. The handlers import
 * zod as `import * as z from "zod"`: the named import pulls in every locale
 * (~260 KB more, see README "Bundle sizes").
 */
const BUY_BUDGET_BYTES = 500 * 1024;

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

describe("Lambda bundles", () => {
  const handlers = [...new Set(HTTP_ROUTES.map((route) => route.handler))];

  it("are one minified ESM file per function, with a source map and a require shim", () => {
    for (const handler of handlers) {
      const file = bundleOf(handler);
      expect(existsSync(`${file}.map`)).toBe(true);
      const code = readFileSync(file, "utf8");
      expect(code.startsWith("import { createRequire } from 'module';")).toBe(true);
      expect(code).toMatch(/export\s*\{[^}]*as handler\s*\}/);
      // Minified: long lines (the only line breaks left are inside string literals).
      expect(code.length / code.split("\n").length).toBeGreaterThan(1000);
    }
  });

  it("carry every Lua script's text (no file is read at runtime)", () => {
    const code = readFileSync(bundleOf("buy"), "utf8");
    const scripts = luaScripts(PROJECT_ROOT);
    expect(Object.keys(scripts).length).toBeGreaterThanOrEqual(3);
    for (const text of Object.values(scripts)) {
      // The define is a JSON string literal: compare a JSON-escaped line of each script.
      const line = text.split("\n").find((l) => l.trim().length > 20) ?? text;
      expect(code).toContain(JSON.stringify(line).slice(1, -1));
    }
  });

  it("use the runtime's AWS SDK rather than bundling it", () => {
    const code = readFileSync(bundleOf("buy"), "utf8");
    expect(code).toMatch(/from\s*"@aws-sdk\/client-sqs"/);
    expect(code).not.toContain("SignatureV4");
  });

  it(`keep the buy bundle under ${BUY_BUDGET_BYTES / 1024} KB`, () => {
    const sizes = Object.fromEntries(handlers.map((h) => [h, statSync(bundleOf(h)).size]));
    console.info("bundle sizes (bytes):", sizes);
    expect(sizes.buy).toBeLessThan(BUY_BUDGET_BYTES);
  });

  it("load as ES modules and export a handler", async () => {
    process.env.REDIS_URL = "redis://127.0.0.1:1";
    process.env.REDIS_CONNECT_TIMEOUT_MS = "50";
    process.env.ORDERS_QUEUE_URL = "https://sqs.eu-west-1.amazonaws.com/000000000000/orders";
    const module = (await import(bundleOf("buy"))) as { handler: unknown };
    expect(typeof module.handler).toBe("function");
  });
});
