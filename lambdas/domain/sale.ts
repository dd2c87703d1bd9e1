import * as z from "zod";

/**
 * What a sale is, how its keys are laid out in Redis, and how its status is
 * derived. Pure: no I/O here.
 */

/** Sale ids become Redis keys and path segments; `.` is reserved as the order-id separator. */
export const SALE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const saleIdSchema = z
  .string()
  .regex(SALE_ID_PATTERN, "must be 1-64 characters of A-Z, a-z, 0-9, _ or -");

/** Units one request may ask for; the sale's per-user limit caps it further. */
export const MAX_QUANTITY_PER_REQUEST = 100;

export type SaleStatus = "scheduled" | "open" | "sold_out" | "ended";

export interface Sale {
  id: string;
  name: string;
  stock: number;
  remaining: number;
  sold: number;
  perUserLimit: number;
  startsAt: string | null;
  endsAt: string | null;
  status: SaleStatus;
  rateLimit: { burst: number; perSecond: number };
  /** Stock shards (1 = unsharded). */
  shards: number;
  version: number;
}

export interface SaleKeys {
  sale: string;
  buyers: string;
  orders: string;
  idempotency: string;
  /** Live counters: outcomes (written by reserve-6.lua) and latency buckets (written by the buy containers). */
  stats: string;
  /** Orders the consumer could not restore from their message (confirm-4.lua), for reconcile. */
  rejected: string;
}

/** A buyer's rate-limit bucket for a sale; in the slot of the buyer's home shard. */
export function rateKey(saleId: string, userId: string, shard = 0): string {
  return `${saleKeys(saleId, shard).sale}:rate:${userId}`;
}

/**
 * The shard that holds a buyer's state (units held, orders, idempotency,
 * rate bucket): FNV-1a of the user id. Every buy of a user checks the limit
 * there, so the per-user limit stays exact however the stock is split.
 */
export function homeShard(userId: string, shards: number): number {
  if (shards <= 1) return 0;
  let hash = 0x811c9dc5;
  for (let i = 0; i < userId.length; i++) {
    hash ^= userId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return (hash >>> 0) % shards;
}

/** Default buy-request rate per buyer and sale: a burst of a few clicks, then one per second. */
export const DEFAULT_RATE_LIMIT = { burst: 5, perSecond: 1 } as const;

/** Most shards a sale's stock may be split into. */
export const MAX_SHARDS = 16;

/**
 * All keys of a sale share the hash tag `{sale:<id>}`, so they sit in one
 * Redis Cluster slot and one Lua call may touch them all. A sharded sale
 * (see reservations.ts) has one such set per shard, tagged `{sale:<id>#<n>}`
 * for n >= 1, so its shards spread over the cluster's slots.
 */
export function saleKeys(saleId: string, shard = 0): SaleKeys {
  const tag = shard === 0 ? `{sale:${saleId}}` : `{sale:${saleId}#${shard}}`;
  return {
    sale: tag,
    buyers: `${tag}:buyers`,
    orders: `${tag}:orders`,
    idempotency: `${tag}:idem`,
    stats: `${tag}:stats`,
    rejected: `${tag}:rejected`,
  };
}

export function saleStatus(
  sale: { remaining: number; startsAtMs: number; endsAtMs: number },
  nowMs: number,
): SaleStatus {
  if (nowMs < sale.startsAtMs) return "scheduled";
  if (sale.endsAtMs > 0 && nowMs >= sale.endsAtMs) return "ended";
  if (sale.remaining <= 0) return "sold_out";
  return "open";
}

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
  return {
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
}

/**
 * Order ids carry their sale (`<saleId>.<uuid>`), so an order can be found in
 * the sale's Redis slot from its id alone.
 */
export function newOrderId(saleId: string, uuid: string): string {
  return `${saleId}.${uuid}`;
}

/** `<saleId>.<uuid>`: what newOrderId makes, and all an order id may be. */
export const ORDER_ID_PATTERN =
  /^[A-Za-z0-9_-]{1,64}\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export const orderIdSchema = z
  .string()
  .regex(ORDER_ID_PATTERN, "must be an order id as the buy returned it (<saleId>.<uuid>)");

export function saleIdOfOrder(orderId: string): string | null {
  const dot = orderId.indexOf(".");
  if (dot <= 0) return null;
  const saleId = orderId.slice(0, dot);
  return SALE_ID_PATTERN.test(saleId) ? saleId : null;
}
