import type { Redis } from "ioredis";
import type {
  ConfirmReply,
  ReleaseReply,
  ReserveReply,
  UpsertSaleReply,
} from "../platform/lua-scripts.js";
import type { RefusalReason } from "./errors.js";
import { DEFAULT_RATE_LIMIT, rateKey, type Sale, saleFromHash, saleKeys } from "./sale.js";

/**
 * The sale's state in Redis, reached only through the Lua scripts (writes)
 * and single atomic reads. Each function is one Redis round trip.
 */

export type ReserveOutcome =
  | { kind: "accepted"; orderId: string; remaining: number; version: number; replayed: boolean }
  | { kind: "refused"; reason: RefusalReason; remaining: number; version: number }
  | { kind: "rate_limited"; retryAfterMs: number }
  | { kind: "not_found" };

/** Mirrors the codes documented in lua/reserve-5.lua. */
const REFUSALS: Record<number, RefusalReason> = {
  [-2]: "SALE_NOT_OPEN",
  [-3]: "SALE_ENDED",
  [-4]: "SOLD_OUT",
  [-5]: "INSUFFICIENT_STOCK",
  [-6]: "LIMIT_REACHED",
};

export function reserveOutcome([code, orderId, remaining, version]: ReserveReply): ReserveOutcome {
  if (code === 1 || code === 2) {
    return { kind: "accepted", orderId, remaining, version, replayed: code === 2 };
  }
  if (code === -1) return { kind: "not_found" };
  // For a rate-limited buy the script returns the wait in the third slot.
  if (code === -7) return { kind: "rate_limited", retryAfterMs: remaining };
  const reason = REFUSALS[code];
  if (reason === undefined) throw new Error(`reserve-5.lua returned unknown code ${code}`);
  return { kind: "refused", reason, remaining, version };
}

export interface ReserveRequest {
  saleId: string;
  userId: string;
  quantity: number;
  nowMs: number;
  orderId: string;
  idempotencyKey: string | undefined;
}

export type ReleaseOutcome = "released" | "already_released" | "unknown_order" | "confirmed";

const RELEASES: Record<number, ReleaseOutcome> = {
  1: "released",
  0: "already_released",
  [-1]: "unknown_order",
  [-2]: "confirmed",
};

export type ConfirmOutcome =
  | "confirmed"
  | "already_confirmed"
  | "restored"
  | "restored_oversold"
  | "released"
  | "sale_unknown";

const CONFIRMS: Record<number, ConfirmOutcome> = {
  1: "confirmed",
  0: "already_confirmed",
  2: "restored",
  3: "restored_oversold",
  [-1]: "released",
  [-2]: "sale_unknown",
};

/** An order as Redis records it (the JSON value in {sale:<id>}:orders). */
export interface OrderRecord {
  orderId: string;
  saleId: string;
  state: "reserved" | "confirmed" | "released";
  userId: string;
  quantity: number;
  reservedAtMs: number;
  confirmedAtMs: number | undefined;
}

export function orderRecordFrom(saleId: string, orderId: string, json: string): OrderRecord {
  const raw = JSON.parse(json) as {
    state: OrderRecord["state"];
    userId: string;
    quantity: number;
    reservedAt: string;
    confirmedAt?: string;
  };
  return {
    orderId,
    saleId,
    state: raw.state,
    userId: raw.userId,
    quantity: Number(raw.quantity),
    reservedAtMs: Number(raw.reservedAt),
    confirmedAtMs: raw.confirmedAt === undefined ? undefined : Number(raw.confirmedAt),
  };
}

export interface ConfirmRequest {
  saleId: string;
  orderId: string;
  userId: string;
  quantity: number;
  reservedAtMs: number;
  nowMs: number;
}

export type UpsertSaleOutcome =
  | { kind: "created" | "updated"; remaining: number; version: number }
  | { kind: "stock_below_sold"; sold: number };

export interface SaleDefinition {
  id: string;
  name: string;
  stock: number;
  perUserLimit: number;
  startsAtMs: number;
  endsAtMs: number;
  /** Buy requests per buyer: burst, then perSecond; burst 0 turns the limit off. Defaults apply when absent. */
  rateLimit?: { burst: number; perSecond: number };
}

export class RedisReservations {
  constructor(private readonly redis: Redis) {}

  async reserve(request: ReserveRequest): Promise<ReserveOutcome> {
    const keys = saleKeys(request.saleId);
    const reply = await this.redis.reserve(
      keys.sale,
      keys.buyers,
      keys.orders,
      keys.idempotency,
      rateKey(request.saleId, request.userId),
      request.userId,
      request.quantity,
      request.nowMs,
      request.orderId,
      request.idempotencyKey ?? "",
    );
    const outcome = reserveOutcome(reply);
    // ioredis resends a command whose reply was lost in a disconnect. If the first run
    // reserved, the resend finds this request's own order through the idempotency key
    // and reports a replay; but no message was sent for it, so it is a fresh reservation.
    if (outcome.kind === "accepted" && outcome.replayed && outcome.orderId === request.orderId) {
      return { ...outcome, replayed: false };
    }
    return outcome;
  }

  async release(saleId: string, orderId: string): Promise<ReleaseOutcome> {
    const keys = saleKeys(saleId);
    const [code]: ReleaseReply = await this.redis.release(
      keys.sale,
      keys.buyers,
      keys.orders,
      keys.idempotency,
      orderId,
    );
    const outcome = RELEASES[code];
    if (outcome === undefined) throw new Error(`release-4.lua returned unknown code ${code}`);
    return outcome;
  }

  async confirm(request: ConfirmRequest): Promise<ConfirmOutcome> {
    const keys = saleKeys(request.saleId);
    const [code]: ConfirmReply = await this.redis.confirm(
      keys.sale,
      keys.buyers,
      keys.orders,
      request.orderId,
      request.userId,
      request.quantity,
      request.reservedAtMs,
      request.nowMs,
    );
    const outcome = CONFIRMS[code];
    if (outcome === undefined) throw new Error(`confirm-3.lua returned unknown code ${code}`);
    return outcome;
  }

  async getOrder(saleId: string, orderId: string): Promise<OrderRecord | null> {
    const json = await this.redis.hget(saleKeys(saleId).orders, orderId);
    return json === null ? null : orderRecordFrom(saleId, orderId, json);
  }

  /** Every order of a sale; bounded by the sale's stock plus its released orders. */
  async listOrders(saleId: string): Promise<OrderRecord[]> {
    const all = await this.redis.hgetall(saleKeys(saleId).orders);
    return Object.entries(all).map(([orderId, json]) => orderRecordFrom(saleId, orderId, json));
  }

  async upsertSale(sale: SaleDefinition, nowMs: number): Promise<UpsertSaleOutcome> {
    const [code, remaining, version]: UpsertSaleReply = await this.redis.upsertSale(
      saleKeys(sale.id).sale,
      sale.name,
      sale.stock,
      sale.perUserLimit,
      sale.startsAtMs,
      sale.endsAtMs,
      nowMs,
      sale.rateLimit?.burst ?? DEFAULT_RATE_LIMIT.burst,
      sale.rateLimit?.perSecond ?? DEFAULT_RATE_LIMIT.perSecond,
    );
    if (code === -1) return { kind: "stock_below_sold", sold: remaining };
    return { kind: code === 1 ? "created" : "updated", remaining, version };
  }

  async getSale(saleId: string, nowMs: number): Promise<Sale | null> {
    return saleFromHash(saleId, await this.redis.hgetall(saleKeys(saleId).sale), nowMs);
  }
}
