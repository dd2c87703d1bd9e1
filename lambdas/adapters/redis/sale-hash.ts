import { DEFAULT_RATE_LIMIT, type Sale, saleStatus } from "../../domain/sale.js";
import { saleKeys } from "./keys.js";
import type { RedisClient } from "./scripts.js";

/** A sale's Redis hash, read and merged over its shards, and turned into a Sale. */

const toIso = (ms: number): string | null => (ms > 0 ? new Date(ms).toISOString() : null);

/**
 * A sharded sale's hashes as one: shard 0's settings, stock and remaining
 * summed over the shards, the newest version.
 */
export function mergeShardHashes(
  first: Record<string, string>,
  others: Array<Record<string, string>>,
): Record<string, string> {
  const merged = { ...first };
  for (const shard of others) {
    merged.stock = String(Number(merged.stock ?? 0) + Number(shard.stock ?? 0));
    merged.remaining = String(Number(merged.remaining ?? 0) + Number(shard.remaining ?? 0));
    merged.version = String(Math.max(Number(merged.version ?? 0), Number(shard.version ?? 0)));
    // Paused while any shard is (a pause reaches the shards one after the other).
    if (shard.paused === "1") merged.paused = "1";
  }
  return merged;
}

/** Builds a Sale from the fields of its Redis hash (HGETALL); null when the hash is empty. */
export function saleFromHash(
  saleId: string,
  hash: Record<string, string>,
  nowMs: number,
): Sale | null {
  if (hash.stock === undefined) return null;
  const stock = Number(hash.stock);
  const remaining = Number(hash.remaining ?? 0);
  const startsAtMs = Number(hash.startsAt ?? 0);
  const endsAtMs = Number(hash.endsAt ?? 0);
  const sale: Sale = {
    id: saleId,
    name: hash.name ?? "",
    stock,
    remaining,
    sold: stock - remaining,
    perUserLimit: Number(hash.perUserLimit ?? 0),
    startsAt: toIso(startsAtMs),
    endsAt: toIso(endsAtMs),
    status: saleStatus({ remaining, startsAtMs, endsAtMs }, nowMs),
    rateLimit: {
      burst: Number(hash.rateBurst ?? DEFAULT_RATE_LIMIT.burst),
      perSecond: Number(hash.ratePerSecond ?? DEFAULT_RATE_LIMIT.perSecond),
    },
    shards: Number(hash.shards ?? 1),
    version: Number(hash.version ?? 0),
  };
  // Only sales that have them carry these, so other sales read exactly as before.
  if (hash.priceAmount !== undefined) {
    sale.price = { amount: Number(hash.priceAmount), currency: hash.priceCurrency ?? "" };
  }
  if (hash.paused === "1") sale.paused = true;
  if (hash.mode === "draw") {
    sale.mode = "draw";
    const state =
      hash.drawState === "drawn" || hash.drawState === "frozen" ? hash.drawState : "open";
    sale.draw = {
      entriesOpenAt: toIso(Number(hash.entriesOpenAt ?? 0)),
      entriesCloseAt: toIso(Number(hash.entriesCloseAt ?? 0)),
      commitment: hash.drawCommitment ?? "",
      state,
      entries: Number(hash.entries ?? 0),
    };
    if (state === "drawn") {
      sale.draw.winners = Number(hash.drawWinners ?? 0);
      sale.draw.drawnAt = toIso(Number(hash.drawnAt ?? 0)) ?? undefined;
    }
  }
  const holdSeconds = Number(hash.holdSeconds ?? 0);
  if (holdSeconds > 0) {
    sale.holdSeconds = holdSeconds;
    sale.held = Number(hash.held ?? 0);
    sale.paid = Number(hash.paid ?? 0);
    sale.expiredUnits = Number(hash.expiredUnits ?? 0);
  }
  return sale;
}

/** The sale's shard count, as its shard-0 hash records it (1 when unsharded or absent). */
export function shardCountOf(hash: Record<string, string | null | undefined> | undefined): number {
  return Math.max(1, Number(hash?.shards ?? 1));
}

/**
 * Reads every shard of a sale: shard 0 first (it knows the shard count), then
 * the others together. `readShard` returns one shard's data; `saleHashOf`
 * picks the sale hash out of it.
 */
export async function readEveryShard<T>(
  readShard: (shard: number) => Promise<T>,
  saleHashOf: (data: T) => Record<string, string>,
): Promise<[T, ...T[]]> {
  const first = await readShard(0);
  const shards = shardCountOf(saleHashOf(first));
  const others = await Promise.all(Array.from({ length: shards - 1 }, (_, i) => readShard(i + 1)));
  return [first, ...others];
}

/** One HGETALL of a shard's sale hash. */
export const saleHashOfShard =
  (redis: RedisClient, saleId: string) =>
  (shard: number): Promise<Record<string, string>> =>
    redis.hgetall(saleKeys(saleId, shard).sale);
