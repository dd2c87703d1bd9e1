import { readFileSync } from "node:fs";
import type { Cluster, Redis, Result } from "ioredis";

/** A single-node client, or a Redis Cluster client (ElastiCache in cluster mode). */
export type RedisClient = Redis | Cluster;

/**
 * The Lua scripts in lua/, registered once per client with ioredis
 * defineCommand, which calls them by SHA (EVALSHA) and loads them only when
 * Redis answers NOSCRIPT. A script's key count comes from its file name
 * (`reserve-6.lua` takes 6 keys), as in BullMQ.
 *
 * Lambda bundles carry the script text: esbuild defines __LUA_SCRIPTS__
 * (see lib/), so nothing is read from disk there. Elsewhere the files are read
 * once, at import.
 */
export const SCRIPT_FILES = {
  reserve: "reserve-6",
  release: "release-4",
  confirm: "confirm-4",
  takeStock: "take-stock-1",
  giveBack: "give-back-1",
  upsertSale: "upsert-sale-1",
} as const;

export type ScriptName = keyof typeof SCRIPT_FILES;

declare const __LUA_SCRIPTS__: Record<string, string> | undefined;

const LUA_DIR = new URL("../../../lua/", import.meta.url);

export function scriptSource(file: string): string {
  if (typeof __LUA_SCRIPTS__ !== "undefined") {
    const bundled = __LUA_SCRIPTS__[file];
    if (bundled === undefined) throw new Error(`Lua script ${file}.lua is not in the bundle`);
    return bundled;
  }
  return readFileSync(new URL(`${file}.lua`, LUA_DIR), "utf8");
}

export function keyCount(file: string): number {
  const match = /-(\d+)$/.exec(file);
  if (!match?.[1]) throw new Error(`Lua script name ${file} must end with -<number of keys>`);
  return Number(match[1]);
}

const sources = Object.fromEntries(
  Object.entries(SCRIPT_FILES).map(([name, file]) => [
    name,
    { lua: scriptSource(file), numberOfKeys: keyCount(file) },
  ]),
) as Record<ScriptName, { lua: string; numberOfKeys: number }>;

/** Raw replies as the scripts return them; lambdas/domain turns them into typed outcomes. */
export type ReserveReply = [code: number, orderId: string, remaining: number, version: number];
export type ReleaseReply = [code: number, remaining: number, stockShard: string, quantity: number];
export type StockReply = [code: number, remaining: number];
export type ConfirmReply = [code: number, remaining: number, reason: string];
export type UpsertSaleReply = [code: number, remaining: number, version: number];

declare module "ioredis" {
  interface RedisCommander<Context> {
    reserve(
      saleKey: string,
      buyersKey: string,
      ordersKey: string,
      idemKey: string,
      rateKey: string,
      statsKey: string,
      userId: string,
      quantity: number,
      nowMs: number,
      orderId: string,
      idempotencyKey: string,
      borrowedFromShard: string,
      skipStockRefusalCount: string,
    ): Result<ReserveReply, Context>;
    takeStock(shardKey: string, quantity: number): Result<StockReply, Context>;
    giveBack(shardKey: string, quantity: number): Result<StockReply, Context>;
    release(
      saleKey: string,
      buyersKey: string,
      ordersKey: string,
      idemKey: string,
      orderId: string,
    ): Result<ReleaseReply, Context>;
    confirm(
      saleKey: string,
      buyersKey: string,
      ordersKey: string,
      rejectedKey: string,
      orderId: string,
      userId: string,
      quantity: number,
      reservedAtMs: number,
      nowMs: number,
      source: "message" | "row",
    ): Result<ConfirmReply, Context>;
    upsertSale(
      saleKey: string,
      name: string,
      stock: number,
      perUserLimit: number,
      startsAtMs: number,
      endsAtMs: number,
      nowMs: number,
      rateBurst: number,
      ratePerSecond: number,
      shards: number,
    ): Result<UpsertSaleReply, Context>;
  }
}

export function defineScripts<C extends RedisClient>(redis: C): C {
  for (const [name, script] of Object.entries(sources)) {
    redis.defineCommand(name, script);
  }
  return redis;
}
