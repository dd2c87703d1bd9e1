import type { Cluster, Redis, Result } from "ioredis";
import { bundledOrOnDisk } from "../../platform/bundled-files.js";

/** A single-node client, or a Redis Cluster client (ElastiCache in cluster mode). */
export type RedisClient = Redis | Cluster;

/**
 * The Lua scripts in lua/, registered once per client with ioredis
 * defineCommand, which calls them by SHA (EVALSHA) and loads them only when
 * Redis answers NOSCRIPT. A script's key count comes from its file name
 * (`reserve-8.lua` takes 8 keys), as in BullMQ.
 *
 * Lambda bundles carry the script text: esbuild defines __LUA_SCRIPTS__
 * (see lib/), so nothing is read from disk there. Elsewhere the files are read
 * once, at import.
 */
export const SCRIPT_FILES = {
  reserve: "reserve-8",
  release: "release-4",
  confirm: "confirm-4",
  takeStock: "take-stock-1",
  giveBack: "give-back-1",
  upsertSale: "upsert-sale-1",
  expireHolds: "expire-holds-6",
  pay: "pay-7",
  unlock: "unlock-1",
  saleControl: "sale-control-1",
  enter: "enter-4",
  leave: "leave-2",
  freezeDraw: "freeze-draw-1",
  installDraw: "install-draw-3",
  awardDraw: "award-draw-7",
} as const;

export type ScriptName = keyof typeof SCRIPT_FILES;

declare const __LUA_SCRIPTS__: Record<string, string> | undefined;

const LUA_DIR = new URL("../../../lua/", import.meta.url);

let scripts: Record<string, string> | undefined;

export function scriptSource(file: string): string {
  scripts ??=
    typeof __LUA_SCRIPTS__ !== "undefined"
      ? __LUA_SCRIPTS__
      : Object.fromEntries(
          Object.entries(bundledOrOnDisk(undefined, LUA_DIR, (name) => name.endsWith(".lua"))).map(
            ([name, text]) => [name.replace(/\.lua$/, ""), text],
          ),
        );
  const source = scripts[file];
  if (source === undefined)
    throw new Error(`Lua script ${file}.lua is neither in the bundle nor in lua/`);
  return source;
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

/**
 * What each script's reply code means, mirrored from the "Returns" list in
 * its header (test/unit/script-codes.test.ts keeps the two in step). The sale
 * store turns replies into the domain's outcomes with these.
 */
export const SCRIPT_CODES = {
  reserve: {
    1: "accepted",
    2: "replayed",
    [-1]: "not_found",
    [-2]: "SALE_NOT_OPEN",
    [-3]: "SALE_ENDED",
    [-4]: "SOLD_OUT",
    [-5]: "INSUFFICIENT_STOCK",
    [-6]: "LIMIT_REACHED",
    [-7]: "rate_limited",
    [-8]: "SALE_PAUSED",
    [-9]: "DRAW_SALE",
  },
  release: { 1: "released", 0: "already_released", [-1]: "unknown_order", [-2]: "confirmed" },
  confirm: {
    1: "confirmed",
    0: "already_confirmed",
    2: "restored",
    3: "restored_oversold",
    [-1]: "released",
    [-2]: "sale_unknown",
    [-3]: "mismatch",
    [-4]: "restore_rejected",
  },
  takeStock: { 1: "taken", 0: "not_enough", [-1]: "no_shard" },
  giveBack: { 1: "given_back", [-1]: "no_shard" },
  upsertSale: { 1: "created", 0: "updated", [-1]: "stock_below_sold" },
  expireHolds: { 1: "done" },
  pay: {
    1: "paid",
    0: "already_paid",
    2: "refund_due",
    3: "already_refund_due",
    [-1]: "unknown_order",
    [-2]: "not_payable",
    [-3]: "mismatch",
  },
  unlock: { 1: "released", 0: "not_held" },
  saleControl: { 1: "done", [-1]: "not_found" },
  enter: {
    1: "entered",
    2: "replayed",
    [-1]: "not_found",
    [-2]: "ENTRIES_NOT_OPEN",
    [-3]: "ENTRIES_CLOSED",
    [-4]: "ENTRY_ABOVE_LIMIT",
    [-5]: "NOT_A_DRAW",
    [-7]: "rate_limited",
    [-8]: "SALE_PAUSED",
  },
  leave: { 1: "taken_back", 0: "kept", [-1]: "unknown_entry" },
  freezeDraw: { 1: "frozen", 0: "already_frozen", [-1]: "not_a_draw", [-2]: "still_open" },
  installDraw: { 1: "installed", 0: "already_drawn", [-1]: "not_frozen", [-2]: "incomplete" },
  awardDraw: { 1: "walked", [-1]: "not_drawn" },
} as const satisfies Record<ScriptName, Record<number, string>>;

/** The meaning of `code` in `script`'s replies; an unknown code is a bug, never a guess. */
export function codeOf<S extends ScriptName>(
  script: S,
  code: number,
): (typeof SCRIPT_CODES)[S][keyof (typeof SCRIPT_CODES)[S]] {
  const meaning = (SCRIPT_CODES[script] as Record<number, string>)[code];
  if (meaning === undefined)
    throw new Error(`${SCRIPT_FILES[script]}.lua returned unknown code ${code}`);
  return meaning as (typeof SCRIPT_CODES)[S][keyof (typeof SCRIPT_CODES)[S]];
}

/** Raw replies as the scripts return them; the sale store turns them into typed outcomes. */
export type ReserveReply = [
  code: number,
  orderId: string,
  remaining: number,
  version: number,
  expiresAt?: string,
  amountDue?: string,
  currency?: string,
];
export type ExpireHoldsReply = [
  code: number,
  due: number,
  remaining: number,
  oldestDueAt: string,
  more: number,
];
export type PayReply = [code: number, state: string, expiresAt: string];
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
      holdsKey: string,
      eventsKey: string,
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
      holdSeconds: number,
      priceAmount: string,
      priceCurrency: string,
      mode: "draw" | "",
      entriesOpenAtMs: number,
      entriesCloseAtMs: number,
      drawSeed: string,
      drawSalt: string,
      drawCommitment: string,
    ): Result<UpsertSaleReply, Context>;
    expireHolds(
      saleKey: string,
      buyersKey: string,
      ordersKey: string,
      idemKey: string,
      holdsKey: string,
      eventsKey: string,
      nowMs: number,
      limit: number,
    ): Result<ExpireHoldsReply, Context>;
    pay(
      saleKey: string,
      buyersKey: string,
      ordersKey: string,
      idemKey: string,
      holdsKey: string,
      eventsKey: string,
      anomaliesKey: string,
      orderId: string,
      amount: string,
      currency: string,
      nowMs: number,
      reference: string,
    ): Result<PayReply, Context>;
    unlock(lockKey: string, token: string): Result<[code: number], Context>;
    enter(
      saleKey: string,
      entriesKey: string,
      rateKey: string,
      statsKey: string,
      userId: string,
      quantity: number,
      nowMs: number,
      entryId: string,
    ): Result<[code: number, entryId: string, quantity: number, enteredAt: number], Context>;
    leave(
      saleKey: string,
      entriesKey: string,
      userId: string,
      entryId: string,
    ): Result<[code: number], Context>;
    freezeDraw(
      saleKey: string,
      nowMs: number,
      early: "1" | "",
    ): Result<[code: number, frozenAt: number], Context>;
    installDraw(
      saleKey: string,
      stagingKey: string,
      drawnKey: string,
      drawnAtMs: number,
      digest: string,
      winners: number,
      entries: number,
      lastWinnerPosition: number,
    ): Result<[code: number], Context>;
    awardDraw(
      saleKey: string,
      drawnKey: string,
      awardsKey: string,
      ordersKey: string,
      holdsKey: string,
      statsKey: string,
      buyersKey: string,
      nowMs: number,
      saleId: string,
      maxPositions: number,
      ...uuids: string[]
    ): Result<Array<string | number>, Context>;
    saleControl(
      saleKey: string,
      paused: "1" | "0" | "",
      closeAtMs: string,
      perUserLimit: string,
      rateBurst: string,
      ratePerSecond: string,
    ): Result<[code: number], Context>;
  }
}

export function defineScripts<C extends RedisClient>(redis: C): C {
  for (const [name, script] of Object.entries(sources)) {
    redis.defineCommand(name, script);
  }
  return redis;
}
