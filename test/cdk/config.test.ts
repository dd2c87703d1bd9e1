import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SCRIPT_FILES } from "../../lambdas/adapters/redis/scripts.js";
import { HTTP_ROUTES } from "../../lambdas/registry.js";
import { luaScripts, migrationsDigest, sqlMigrations } from "../../lib/bundling.js";
import { DEFAULT_SETTINGS, readSettings, SettingsError } from "../../lib/config.js";
import { handlerCatalog } from "../../lib/handlers.js";
import { PROJECT_ROOT } from "../../lib/paths.js";
import { cdkJsonContext } from "./support/apps.js";

describe("readSettings", () => {
  it("has a default for everything, so synth needs no context", () => {
    expect(readSettings({})).toEqual(DEFAULT_SETTINGS);
  });

  it("parses the strings that -c key=value passes", () => {
    const settings = readSettings({
      stage: "prod",
      jwtIssuer: "https://issuer.test/",
      jwtAudience: "web, mobile",
      throttleRateLimit: "100.5",
      consumerBatchSize: "10",
      consumerBatchingWindowSeconds: "0",
      localstackPro: "true",
      logRetentionDays: "90",
    });
    expect(settings).toMatchObject({
      stage: "prod",
      jwtAudience: ["web", "mobile"],
      throttleRateLimit: 100.5,
      consumerBatchSize: 10,
      consumerBatchingWindowSeconds: 0,
      localstackPro: true,
      logRetentionDays: 90,
      // prod keeps its database unless told otherwise
      dbDeletionProtection: true,
    });
    expect(
      readSettings({
        stage: "prod",
        jwtIssuer: "https://issuer.test/",
        dbDeletionProtection: "false",
      }).dbDeletionProtection,
    ).toBe(false);
  });

  it("fails naming the context key of a bad value", () => {
    expect(() => readSettings({ stage: "Prod_1" })).toThrow(SettingsError);
    expect(() => readSettings({ consumerMaxConcurrency: "1" })).toThrow(/consumerMaxConcurrency/);
    expect(() => readSettings({ throttleBurstLimit: "lots" })).toThrow(/throttleBurstLimit/);
    expect(() => readSettings({ logRetentionDays: "42" })).toThrow(/logRetentionDays/);
    expect(() => readSettings({ jwtIssuer: "http://insecure" })).toThrow(/jwtIssuer/);
    expect(() => readSettings({ target: "gcp" })).toThrow(/target/);
    expect(() => readSettings({ dbMinCapacity: "8", dbMaxCapacity: "4" })).toThrow(/dbMaxCapacity/);
    expect(() => readSettings({ consumerBatchingWindowSeconds: "0" })).toThrow(
      /consumerBatchingWindowSeconds/,
    );
  });

  it("agrees with the defaults written in cdk.json", () => {
    const context = cdkJsonContext();
    const fromCdkJson = readSettings(context);
    for (const key of Object.keys(context).filter((k) => k in DEFAULT_SETTINGS)) {
      expect(fromCdkJson[key as keyof typeof fromCdkJson], key).toEqual(
        DEFAULT_SETTINGS[key as keyof typeof DEFAULT_SETTINGS],
      );
    }
  });
});

describe("handlerCatalog", () => {
  const root = mkdtempSync(join(tmpdir(), "flash-sale-catalog-"));
  const handlersDir = join(root, "lambdas", "handlers");
  mkdirSync(handlersDir, { recursive: true });
  const touch = (name: string) => writeFileSync(join(handlersDir, `${name}.ts`), "");
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  it("makes one HTTP function per distinct handler of lambdas/registry.ts", () => {
    const specs = handlerCatalog({ projectRoot: PROJECT_ROOT });
    const http = specs.filter((s) => s.kind === "http");
    expect(http.map((s) => s.name).sort()).toEqual(
      [...new Set(HTTP_ROUTES.map((r) => r.handler))].sort(),
    );
    expect(specs.find((s) => s.name === "buy")?.access).toEqual({
      redis: true,
      database: false,
      sendOrders: true,
      queueStats: false,
      redrive: false,
      paymentWebhookSecret: false,
      publishEvents: false,
    });
    // The redrive flag is admin-redrive's alone: it moves DLQ messages and touches nothing else.
    expect(specs.filter((s) => s.access.redrive).map((s) => s.name)).toEqual(["admin-redrive"]);
    expect(specs.find((s) => s.name === "admin-redrive")?.access).toEqual({
      redis: false,
      database: false,
      sendOrders: false,
      queueStats: false,
      redrive: true,
      paymentWebhookSecret: false,
      publishEvents: false,
    });
  });

  it("always deploys the consumer and the migration function, and refuses to go without their files", () => {
    const routes = [
      { routeKey: "GET /a", handler: "a", authorization: "none" as const, scopes: [] },
    ];
    touch("a");
    touch("expire-holds");
    touch("repair-orders");
    touch("run-draws");
    expect(() => handlerCatalog({ projectRoot: root, routes })).toThrow(
      /consume-orders needs .*consume-orders\.ts, which does not exist/,
    );
    touch("consume-orders");
    touch("migrate");
    const specs = handlerCatalog({ projectRoot: root, routes });
    expect(specs.map((s) => [s.name, s.kind])).toEqual([
      ["a", "http"],
      ["expire-holds", "schedule"],
      ["repair-orders", "schedule"],
      ["run-draws", "schedule"],
      ["consume-orders", "consumer"],
      ["migrate", "migrate"],
    ]);
    expect(specs.find((s) => s.name === "migrate")?.access).toMatchObject({
      redis: false,
      database: true,
    });
  });

  it("gives a future admin route the database and queue statistics", () => {
    touch("sale-stats");
    touch("get-order");
    const specs = handlerCatalog({
      projectRoot: root,
      routes: [
        {
          routeKey: "GET /admin/sales/{saleId}/stats",
          handler: "sale-stats",
          authorization: "jwt",
          scopes: ["admin"],
        },
        {
          routeKey: "GET /orders/{orderId}",
          handler: "get-order",
          authorization: "jwt",
          scopes: [],
        },
      ],
    });
    expect(specs.find((s) => s.name === "sale-stats")?.access).toEqual({
      redis: true,
      database: true,
      sendOrders: false,
      queueStats: true,
      redrive: false,
      paymentWebhookSecret: false,
      publishEvents: false,
    });
    expect(specs.find((s) => s.name === "get-order")?.access).toMatchObject({ database: true });
  });

  it("refuses a route whose handler file is missing", () => {
    expect(() =>
      handlerCatalog({
        projectRoot: root,
        routes: [{ routeKey: "GET /x", handler: "nowhere", authorization: "none", scopes: [] }],
      }),
    ).toThrow(/GET \/x needs .*nowhere\.ts/);
  });
});

describe("bundled files", () => {
  it("maps every lua/*.lua file by base name, with its text", () => {
    const dir = join(PROJECT_ROOT, "lua");
    const files = readdirSync(dir).filter((file) => file.endsWith(".lua"));
    expect(files.length).toBeGreaterThan(0);
    const scripts = luaScripts(PROJECT_ROOT);
    expect(Object.keys(scripts).sort()).toEqual(files.map((file) => file.slice(0, -4)).sort());
    for (const file of files) {
      expect(scripts[file.slice(0, -4)]).toBe(readFileSync(join(dir, file), "utf8"));
    }
  });

  it("bundles every script lambdas/adapters/redis/scripts.ts loads", () => {
    const bundled = Object.keys(luaScripts(PROJECT_ROOT));
    for (const name of Object.values(SCRIPT_FILES)) {
      expect(bundled, `lua/${name}.lua`).toContain(name);
      // Its key count comes from its name; without one the cold start throws.
      expect(name).toMatch(/-\d+$/);
    }
  });

  it("picks up scripts added later (e.g. for stock sharding) without a stack change", () => {
    const root = mkdtempSync(join(tmpdir(), "flash-sale-lua-"));
    try {
      expect(luaScripts(root)).toEqual({});
      mkdirSync(join(root, "lua"));
      writeFileSync(join(root, "lua", "reserve-8.lua"), "return KEYS[1]");
      writeFileSync(join(root, "lua", "reserve-shard-3.lua"), "return KEYS[3]");
      writeFileSync(join(root, "lua", "README.md"), "ignored");
      expect(luaScripts(root)).toEqual({
        "reserve-8": "return KEYS[1]",
        "reserve-shard-3": "return KEYS[3]",
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  it("digests the migrations so that any change re-runs them", () => {
    const root = mkdtempSync(join(tmpdir(), "flash-sale-sql-"));
    try {
      expect(sqlMigrations(root)).toEqual({});
      const dir = join(root, "lambdas", "adapters", "postgres", "migrations");
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "001_orders.sql"), "create table orders ();");
      writeFileSync(join(dir, "notes.txt"), "ignored");
      const first = sqlMigrations(root);
      expect(first).toEqual({ "001_orders.sql": "create table orders ();" });
      writeFileSync(join(dir, "002_index.sql"), "create index on orders ();");
      expect(migrationsDigest(sqlMigrations(root))).not.toEqual(migrationsDigest(first));
      expect(migrationsDigest(first)).toEqual(migrationsDigest({ ...first }));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
