import type { CounterSnapshot, SaleCounters } from "../../domain/ports.js";
import type { Sale } from "../../domain/sale.js";
import { type RawCounters, rawCounters } from "../../domain/stats-counters.js";
import { saleKeys } from "./keys.js";
import { mergeShardHashes, readEveryShard, saleFromHash } from "./sale-hash.js";
import type { RedisClient } from "./scripts.js";

/**
 * A sale's live counters in Redis: `{sale:<id>}:stats` beside each shard's
 * sale hash, and a short history of snapshots (`{sale:<id>}:stats:history`,
 * a sorted set by time, two minutes long) from which the dashboard computes
 * rates. The history lives in Redis, not in a function's memory, so every
 * container and every viewer see the same rates. The buy path never reads or
 * writes it.
 */

const HISTORY_RETENTION_MS = 120_000;
const HISTORY_MAX_ENTRIES = 600;

export function historyKey(saleId: string): string {
  return `${saleKeys(saleId).stats}:history`;
}

/**
 * The sale and its raw counters. For each shard the sale hash and its counters
 * are read atomically in one MULTI (both keys share the shard's hash slot); a
 * sharded sale (see sale-store.ts) sums stock, remaining and every counter
 * over its shards. This is the one place that knows where counters live.
 */
export async function readSaleCounters(
  redis: RedisClient,
  saleId: string,
  nowMs: number,
): Promise<{ sale: Sale; counters: RawCounters } | null> {
  const [first, ...others] = await readEveryShard(
    (shard) => readShard(redis, saleId, shard),
    (shard) => shard.sale,
  );
  const saleHash = mergeShardHashes(
    first.sale,
    others.map((shard) => shard.sale),
  );
  const statsHash = { ...first.stats };
  for (const shard of others) {
    for (const [field, value] of Object.entries(shard.stats)) {
      statsHash[field] = String(Number(statsHash[field] ?? 0) + Number(value));
    }
  }
  const sale = saleFromHash(saleId, saleHash, nowMs);
  if (sale === null) return null;
  return { sale, counters: rawCounters(statsHash) };
}

async function readShard(
  redis: RedisClient,
  saleId: string,
  shard: number,
): Promise<{ sale: Record<string, string>; stats: Record<string, string> }> {
  const keys = saleKeys(saleId, shard);
  const replies = await redis.multi().hgetall(keys.sale).hgetall(keys.stats).exec();
  const [saleReply, statsReply] = replies ?? [];
  if (!saleReply || !statsReply) throw new Error("Redis MULTI for the sale's stats was discarded");
  if (saleReply[0]) throw saleReply[0];
  if (statsReply[0]) throw statsReply[0];
  return {
    sale: saleReply[1] as Record<string, string>,
    stats: statsReply[1] as Record<string, string>,
  };
}

/** The newest snapshot taken at or before `atOrBeforeMs`, if the history has one. */
async function baselineSnapshot(
  redis: RedisClient,
  saleId: string,
  atOrBeforeMs: number,
): Promise<CounterSnapshot | null> {
  const [member] = await redis.zrevrangebyscore(
    historyKey(saleId),
    atOrBeforeMs,
    atOrBeforeMs - HISTORY_RETENTION_MS,
    "LIMIT",
    0,
    1,
  );
  if (member === undefined) return null;
  try {
    const parsed = JSON.parse(member) as { at: number; c: RawCounters; p: number | null };
    return { at: parsed.at, counters: parsed.c, persistedUnits: parsed.p };
  } catch {
    return null;
  }
}

async function recordSnapshot(
  redis: RedisClient,
  saleId: string,
  snapshot: CounterSnapshot,
): Promise<void> {
  const key = historyKey(saleId);
  const member = JSON.stringify({
    at: snapshot.at,
    c: snapshot.counters,
    p: snapshot.persistedUnits,
  });
  await redis
    .multi()
    .zadd(key, snapshot.at, member)
    .zremrangebyscore(key, "-inf", snapshot.at - HISTORY_RETENTION_MS)
    .zremrangebyrank(key, 0, -(HISTORY_MAX_ENTRIES + 1))
    .pexpire(key, HISTORY_RETENTION_MS)
    .exec();
}

export class RedisSaleCounters implements SaleCounters {
  constructor(private readonly redis: RedisClient) {}

  read(saleId: string, nowMs: number): Promise<{ sale: Sale; counters: RawCounters } | null> {
    return readSaleCounters(this.redis, saleId, nowMs);
  }

  baseline(saleId: string, atOrBeforeMs: number): Promise<CounterSnapshot | null> {
    return baselineSnapshot(this.redis, saleId, atOrBeforeMs);
  }

  record(saleId: string, snapshot: CounterSnapshot): Promise<void> {
    return recordSnapshot(this.redis, saleId, snapshot);
  }
}
