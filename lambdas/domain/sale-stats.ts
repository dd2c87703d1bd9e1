import type pg from "pg";
import { countOrdersOfSale } from "../adapters/postgres/order-rows.js";
import type { RedisClient } from "../adapters/redis/scripts.js";
import type { QueueDepths } from "./reconcile.js";
import { mergeShardHashes, type Sale, saleFromHash, saleKeys } from "./sale.js";
import type { SaleStatsView, StatsSource } from "./sale-stats-view.js";
import {
  counterDelta,
  type LatencySummary,
  latencySummary,
  outcomes,
  perSecond,
  type RawCounters,
  rawCounters,
} from "./stats-counters.js";

/**
 * The live view of one sale for the dashboard (GET /admin/sales/{saleId}/stats):
 * its stock, the counters reserve-6.lua and the buy containers keep, the
 * orders queue and its DLQ, and the order rows in Postgres.
 *
 * Rates and windowed percentiles are computed here, on the server: each call
 * stores a snapshot of the cumulative counters in a short history
 * (`{sale:<id>}:stats:history`, a sorted set by time, two minutes long) and
 * compares the new snapshot with the newest one at least `windowMs` old. The
 * history lives in Redis, not in the function's memory, so every container
 * and every viewer see the same rates. The buy path never reads or writes it.
 */

export interface SaleStatsDeps {
  redis: RedisClient;
  db: pg.Pool;
  queueDepths: () => Promise<QueueDepths>;
  now: () => number;
  /** Deadline for each optional source (Postgres, SQS); past it the source is reported unavailable. */
  sourceTimeoutMs?: number;
}

export interface SaleStatsOptions {
  /** Rates and windowed percentiles cover at least this much time (default 1 s). */
  windowMs?: number;
}

export const DEFAULT_WINDOW_MS = 1_000;
const HISTORY_RETENTION_MS = 120_000;
const HISTORY_MAX_ENTRIES = 600;
const DEFAULT_SOURCE_TIMEOUT_MS = 1_500;

interface Snapshot {
  at: number;
  counters: RawCounters;
  persistedUnits: number | null;
}

export function historyKey(saleId: string): string {
  return `${saleKeys(saleId).stats}:history`;
}

/**
 * The sale and its raw counters. For each shard the sale hash and its counters
 * are read atomically in one MULTI (both keys share the shard's hash slot); a
 * sharded sale (see reservations.ts) sums stock, remaining and every counter
 * over its shards. This is the one place that knows where counters live.
 */
export async function readSaleCounters(
  redis: RedisClient,
  saleId: string,
  nowMs: number,
): Promise<{ sale: Sale; counters: RawCounters } | null> {
  const first = await readShard(redis, saleId, 0);
  const shards = Math.max(1, Number(first.sale.shards ?? 1));
  const others = await Promise.all(
    Array.from({ length: shards - 1 }, (_, i) => readShard(redis, saleId, i + 1)),
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
): Promise<Snapshot | null> {
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
  snapshot: Snapshot,
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

/** Settles `promise` within `ms`, else rejects; the work itself is not cancelled. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** The sale's live view; null when the sale does not exist (nothing is written then). */
export async function saleStats(
  deps: SaleStatsDeps,
  saleId: string,
  options: SaleStatsOptions = {},
): Promise<SaleStatsView | null> {
  const nowMs = deps.now();
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  const timeoutMs = deps.sourceTimeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS;
  // Redis is required; Postgres and SQS are shown as unavailable when they fail,
  // so the stock and the rates keep updating while, say, the database is down.
  const [current, baseline, persisted, queues] = await Promise.all([
    readSaleCounters(deps.redis, saleId, nowMs),
    baselineSnapshot(deps.redis, saleId, nowMs - windowMs),
    withDeadline(countOrdersOfSale(deps.db, saleId), timeoutMs).catch(() => null),
    withDeadline(deps.queueDepths(), timeoutMs).catch(() => null),
  ]);
  if (current === null) return null;
  const { sale, counters } = current;

  const snapshot: Snapshot = { at: nowMs, counters, persistedUnits: persisted?.units ?? null };
  await recordSnapshot(deps.redis, saleId, snapshot);

  let rates: SaleStatsView["rates"] = null;
  let windowLatency: LatencySummary | null = null;
  if (baseline !== null && nowMs > baseline.at) {
    const seconds = (nowMs - baseline.at) / 1000;
    const delta = counterDelta(baseline.counters, counters);
    const persistedRate =
      persisted !== null && baseline.persistedUnits !== null
        ? Math.round((Math.max(0, persisted.units - baseline.persistedUnits) / seconds) * 100) / 100
        : null;
    rates = {
      windowSeconds: Math.round(seconds * 1000) / 1000,
      ...perSecond(outcomes(delta), seconds),
      persistedUnits: persistedRate,
    };
    windowLatency = latencySummary(delta);
  }

  const unavailable: StatsSource[] = [];
  if (persisted === null) unavailable.push("postgres");
  if (queues === null) unavailable.push("queues");
  return {
    saleId,
    name: sale.name,
    status: sale.status,
    at: new Date(nowMs).toISOString(),
    stock: sale.stock,
    remaining: sale.remaining,
    sold: sale.sold,
    totals: outcomes(counters),
    rates,
    latency: { window: windowLatency, total: latencySummary(counters) },
    orders: {
      soldUnits: sale.sold,
      persistedRows: persisted?.rows ?? null,
      persistedUnits: persisted?.units ?? null,
      inFlightUnits: persisted === null ? null : sale.sold - persisted.units,
    },
    queues,
    unavailable,
  };
}
