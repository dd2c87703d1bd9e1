import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { describe, expect, it } from "vitest";

/**
 * The layers of lambdas/, read from the imports themselves:
 *   domain    pure rules and use cases; imports only itself, zod, and node:crypto / node:buffer
 *             (hashing is computation, not I/O: the draw's procedure is pure)
 *   adapters  Redis, Postgres, SQS, Secrets Manager; may import domain and platform
 *   platform  config, logging, bundled files; imports no domain, adapter or handler
 *   http      API Gateway events in and out; imports domain and platform
 *   openapi   the OpenAPI document, from the registry and the schemas; adapters for types only
 *   handlers  wiring: one file per function
 */
const LAMBDAS = new URL("../../lambdas/", import.meta.url).pathname;

function sourcesUnder(folder: string): string[] {
  const dir = join(LAMBDAS, folder);
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .filter((name) => name.endsWith(".ts"))
    .map((name) => join(dir, name));
}

/** Every module specifier a file imports or re-exports (static and dynamic). */
function importsOf(file: string): string[] {
  const source = readFileSync(file, "utf8");
  const found = [
    ...source.matchAll(/^\s*(?:import|export)\b[^;]*?\bfrom\s+"([^"]+)"/gms),
    ...source.matchAll(/\bimport\(\s*"([^"]+)"\s*\)/g),
  ];
  return found.map((match) => match[1] as string);
}

/** The layer a relative import lands in, from the importing file. */
function layerOf(file: string, specifier: string): string | null {
  if (!specifier.startsWith(".")) return null;
  const target = relative(LAMBDAS, join(file, "..", specifier));
  return target.split("/")[0] ?? null;
}

function violations(folder: string, allowed: (file: string, specifier: string) => boolean) {
  return sourcesUnder(folder).flatMap((file) =>
    importsOf(file)
      .filter((specifier) => !allowed(file, specifier))
      .map((specifier) => `${relative(LAMBDAS, file)} imports ${specifier}`),
  );
}

describe("layers of lambdas/", () => {
  it("the domain imports nothing but itself, zod and hashing: no I/O package, no adapter, no platform", () => {
    expect(
      violations("domain", (file, specifier) =>
        specifier.startsWith(".")
          ? layerOf(file, specifier) === "domain"
          : ["zod", "node:crypto", "node:buffer"].includes(specifier),
      ),
    ).toEqual([]);
  });

  it("adapters never import handlers or http", () => {
    expect(
      violations("adapters", (file, specifier) => {
        const layer = layerOf(file, specifier);
        return layer !== "handlers" && layer !== "http";
      }),
    ).toEqual([]);
  });

  it("platform imports no domain, adapter, http or handler module", () => {
    expect(
      violations("platform", (file, specifier) => {
        const layer = layerOf(file, specifier);
        return layer === null || layer === "platform";
      }),
    ).toEqual([]);
  });

  it("http imports no adapter and no handler", () => {
    expect(
      violations("http", (file, specifier) => {
        const layer = layerOf(file, specifier);
        return layer !== "adapters" && layer !== "handlers";
      }),
    ).toEqual([]);
  });

  it("openapi imports no handler, and adapters for their types only", () => {
    expect(
      violations("openapi", (file, specifier) => {
        const layer = layerOf(file, specifier);
        if (layer === "handlers") return false;
        if (layer !== "adapters") return true;
        return new RegExp(`^import type [^;]*"${specifier}"`, "m").test(readFileSync(file, "utf8"));
      }),
    ).toEqual([]);
  });

  it("only the openapi handler imports the document builder (zod-openapi stays off the other bundles)", () => {
    const importers = [
      ...sourcesUnder("handlers"),
      ...sourcesUnder("http"),
      ...sourcesUnder("domain"),
      ...sourcesUnder("adapters"),
      ...sourcesUnder("platform"),
    ].filter((file) =>
      importsOf(file).some(
        (specifier) => specifier === "zod-openapi" || layerOf(file, specifier) === "openapi",
      ),
    );
    expect(importers.map((file) => relative(LAMBDAS, file))).toEqual(["handlers/openapi.ts"]);
  });

  it("zod is imported as a namespace, which esbuild can tree-shake (`import { z }` adds ~360 KB of locales)", () => {
    const named = ["domain", "adapters", "platform", "http", "handlers", "openapi"]
      .flatMap((folder) => {
        try {
          return sourcesUnder(folder);
        } catch {
          return [];
        }
      })
      .filter((file) => /import\s*\{\s*z\s*\}\s*from\s*"zod"/.test(readFileSync(file, "utf8")))
      .map((file) => relative(LAMBDAS, file));
    expect(named).toEqual([]);
  });

  it("catches a forbidden import (the check itself works)", () => {
    const file = join(LAMBDAS, "domain", "x.ts");
    expect(layerOf(file, "../adapters/redis/client.js")).toBe("adapters");
    expect(layerOf(file, "./sale.js")).toBe("domain");
    expect(importsOf(join(LAMBDAS, "handlers", "buy.ts"))).toContain("../domain/purchase.js");
  });
});
