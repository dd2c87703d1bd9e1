/**
 * How a sale's state is laid out in Redis: its keys, their hash tags, and
 * which shard holds a buyer. The Lua scripts in lua/ receive these keys.
 */

export interface SaleKeys {
  sale: string;
  buyers: string;
  orders: string;
  idempotency: string;
  /** Live counters: outcomes (written by reserve-8.lua) and latency buckets (written by the buy containers). */
  stats: string;
  /** Orders the consumer could not restore from their message (confirm-4.lua), for reconcile. */
  rejected: string;
  /** Hold expiries of a sale with a hold: sorted set, order id scored by expiresAt (ms). */
  holds: string;
  /** History outbox: JSON events (expired, paid, refund_due) waiting to be sent to Postgres. */
  events: string;
  /** Payments that did not match their order (wrong amount or currency), for reconcile. */
  anomalies: string;
}

/** A draw's keys (docs/draws.md), in the sale's slot (a draw is never sharded). */
export interface DrawKeys {
  /** Entries: userId -> "entryId<TAB>quantity<TAB>enteredAt ms" (lua/enter-4.lua). */
  entries: string;
  /** The drawn order, one "quantity<TAB>userId" per position (lua/install-draw-2.lua). */
  drawn: string;
  /** Where the draw runner builds the drawn order before install renames it to `drawn`. */
  drawnStaging: string;
  /** Awards: userId -> orderId of the held order the draw gave them (lua/award-draw-6.lua). */
  awards: string;
}

export function drawKeys(saleId: string): DrawKeys {
  const tag = saleKeys(saleId).sale;
  return {
    entries: `${tag}:entries`,
    drawn: `${tag}:drawn`,
    drawnStaging: `${tag}:drawn-staging`,
    awards: `${tag}:awards`,
  };
}

/** Ids of the draws: the draw runner's work list. Outside every sale's slot. */
export const DRAW_SALES_KEY = "draw-sales";

/** Ids of the sales that have (or had) a hold: the sweeper's work list. Outside every sale's slot. */
export const HOLD_SALES_KEY = "hold-sales";

/**
 * A sale event's send mark (`claimed` while a run publishes it, then `sent`),
 * with a TTL past the sale's end (lambdas/domain/auto-repair.ts). Single-key
 * commands only, so it needs no hash tag; outside every sale's slot.
 */
export function eventMarkKey(eventId: string): string {
  return `event-sent:${eventId}`;
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

/**
 * All keys of a sale share the hash tag `{sale:<id>}`, so they sit in one
 * Redis Cluster slot and one Lua call may touch them all. A sharded sale
 * (see sale-store.ts) has one such set per shard, tagged `{sale:<id>#<n>}`
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
    holds: `${tag}:holds`,
    events: `${tag}:events`,
    anomalies: `${tag}:anomalies`,
  };
}
