import type { OrderRecord, PaymentState } from "../../domain/order.js";
import type {
  ConfirmOutcome,
  ConfirmRequest,
  DrawSecrets,
  RejectedRestore,
  ReleaseOutcome,
  ReserveOutcome,
  ReserveRequest,
  RestoreRejection,
  SaleDefinition,
  SaleStore,
  UpsertSaleOutcome,
} from "../../domain/ports.js";
import { DEFAULT_RATE_LIMIT, type Sale, type SaleControls } from "../../domain/sale.js";
import { DRAW_SALES_KEY, HOLD_SALES_KEY, homeShard, rateKey, saleKeys } from "./keys.js";
import {
  mergeShardHashes,
  readEveryShard,
  saleFromHash,
  saleHashOfShard,
  shardCountOf,
} from "./sale-hash.js";
import type {
  ConfirmReply,
  RedisClient,
  ReleaseReply,
  ReserveReply,
  UpsertSaleReply,
} from "./scripts.js";
import { codeOf } from "./scripts.js";

/**
 * The sale's state in Redis, reached only through the Lua scripts (writes)
 * and atomic reads.
 *
 * Stock sharding: a sale created with `shards: n` splits its units over n
 * hashes with different hash tags, so a hot sale spreads over the shards of
 * a Redis Cluster. A buyer's home shard (homeShard(), by user id) keeps all
 * of that buyer's state, so the per-user limit is checked in one place and
 * stays exact. A buy is one call to the home shard; only when the home shard
 * has run out does it take units from another shard (take-stock-1.lua) and
 * then record the order on the home shard (reserve-8.lua in borrowed mode),
 * giving the units back if that record is refused. The sale is sold out only
 * when every shard is. Unsharded sales (n = 1) are the n = 1 case of the same
 * code: one call per buy.
 */

export function reserveOutcome([
  code,
  orderId,
  remaining,
  version,
  expiresAt,
  amountDue,
  currency,
]: ReserveReply): ReserveOutcome {
  const meaning = codeOf("reserve", code);
  if (meaning === "accepted" || meaning === "replayed") {
    const accepted: ReserveOutcome = {
      kind: "accepted",
      orderId,
      remaining,
      version,
      replayed: meaning === "replayed",
    };
    if (expiresAt) {
      accepted.hold = {
        expiresAtMs: Number(expiresAt),
        amount: Number(amountDue),
        currency: currency ?? "",
      };
    }
    return accepted;
  }
  if (meaning === "not_found") return { kind: "not_found" };
  // For a rate-limited buy the script returns the wait in the third slot.
  if (meaning === "rate_limited") return { kind: "rate_limited", retryAfterMs: remaining };
  return { kind: "refused", reason: meaning, remaining, version };
}

export function orderRecordFrom(saleId: string, orderId: string, json: string): OrderRecord {
  const raw = JSON.parse(json) as {
    state: OrderRecord["state"];
    userId: string;
    quantity: number;
    reservedAt: string;
    confirmedAt?: string;
    payment?: PaymentState;
    expiresAt?: string;
    amount?: string;
    currency?: string;
    paidAt?: string;
    expiredAt?: string;
    refundDueAt?: string;
    received?: { amount: string; currency: string; reference: string };
  };
  const record: OrderRecord = {
    orderId,
    saleId,
    state: raw.state,
    userId: raw.userId,
    quantity: Number(raw.quantity),
    reservedAtMs: Number(raw.reservedAt),
    confirmedAtMs: raw.confirmedAt === undefined ? undefined : Number(raw.confirmedAt),
  };
  if (raw.payment !== undefined && raw.expiresAt !== undefined) {
    record.hold = {
      expiresAtMs: Number(raw.expiresAt),
      amount: Number(raw.amount ?? 0),
      currency: raw.currency ?? "",
    };
    const ms = (value: string | undefined) => (value === undefined ? undefined : Number(value));
    record.payment = {
      state: raw.payment,
      ...(raw.paidAt !== undefined && { paidAtMs: ms(raw.paidAt) }),
      ...(raw.expiredAt !== undefined && { expiredAtMs: ms(raw.expiredAt) }),
      ...(raw.refundDueAt !== undefined && { refundDueAtMs: ms(raw.refundDueAt) }),
      ...(raw.received !== undefined && {
        received: {
          amount: Number(raw.received.amount),
          currency: raw.received.currency,
          reference: raw.received.reference,
        },
      }),
    };
  }
  return record;
}

export class RedisSaleStore implements SaleStore {
  /** Shard counts never change after creation, so each container learns them once per sale. */
  private readonly shardCounts = new Map<string, number>();

  constructor(private readonly redis: RedisClient) {}

  /** The sale's shard count: one HGET the first time a container meets a sale, memory after. */
  async shardCount(saleId: string): Promise<number> {
    const known = this.shardCounts.get(saleId);
    if (known !== undefined) return known;
    const [stock, raw] = await this.redis.hmget(saleKeys(saleId).sale, "stock", "shards");
    const shards = shardCountOf({ shards: raw });
    // An unknown sale is not cached: it may be created a moment later.
    if (stock !== null) this.shardCounts.set(saleId, shards);
    return shards;
  }

  async reserve(request: ReserveRequest): Promise<ReserveOutcome> {
    const shards = await this.shardCount(request.saleId);
    const home = homeShard(request.userId, shards);
    const first = await this.reserveOn(home, request, "", shards > 1);
    if (shards === 1 || first.kind !== "refused") return first;
    if (first.reason !== "SOLD_OUT" && first.reason !== "INSUFFICIENT_STOCK") return first;

    // The home shard ran out: borrow units from the others, in a fixed order.
    for (let step = 1; step < shards; step++) {
      const shard = (home + step) % shards;
      const [taken] = await this.redis.takeStock(
        saleKeys(request.saleId, shard).sale,
        request.quantity,
      );
      if (taken !== 1) continue;
      const recorded = await this.reserveOn(home, request, String(shard), false);
      if (recorded.kind !== "accepted" || recorded.replayed) {
        await this.redis.giveBack(saleKeys(request.saleId, shard).sale, request.quantity);
      }
      return recorded;
    }
    // Every shard is empty. The home call left this refusal uncounted (it could
    // still have been served from another shard), so the caller counts it.
    return {
      kind: "refused",
      reason: "SOLD_OUT",
      remaining: 0,
      version: first.version,
      uncounted: true,
    };
  }

  private async reserveOn(
    shard: number,
    request: ReserveRequest,
    borrowedFrom: string,
    stockRefusalCountedByCaller: boolean,
  ): Promise<ReserveOutcome> {
    const keys = saleKeys(request.saleId, shard);
    const reply = await this.redis.reserve(
      keys.sale,
      keys.buyers,
      keys.orders,
      keys.idempotency,
      rateKey(request.saleId, request.userId, shard),
      keys.stats,
      keys.holds,
      keys.events,
      request.userId,
      request.quantity,
      request.nowMs,
      request.orderId,
      request.idempotencyKey ?? "",
      borrowedFrom,
      stockRefusalCountedByCaller ? "1" : "",
    );
    // A resend by ioredis of a reserve whose reply was lost comes back as a fresh
    // acceptance: reserve-8.lua recognises its own order id before anything else.
    return reserveOutcome(reply);
  }

  async release(saleId: string, orderId: string, userId: string): Promise<ReleaseOutcome> {
    const keys = saleKeys(saleId, homeShard(userId, await this.shardCount(saleId)));
    const [code, , stockShard, quantity]: ReleaseReply = await this.redis.release(
      keys.sale,
      keys.buyers,
      keys.orders,
      keys.idempotency,
      orderId,
    );
    const outcome = codeOf("release", code);
    if (outcome === "released" && stockShard !== "") {
      await this.redis.giveBack(saleKeys(saleId, Number(stockShard)).sale, quantity);
    }
    return outcome;
  }

  async confirm(request: ConfirmRequest): Promise<ConfirmOutcome> {
    const shards = await this.shardCount(request.saleId);
    const keys = saleKeys(request.saleId, homeShard(request.userId, shards));
    const [code]: ConfirmReply = await this.redis.confirm(
      keys.sale,
      keys.buyers,
      keys.orders,
      keys.rejected,
      request.orderId,
      request.userId,
      request.quantity,
      request.reservedAtMs,
      request.nowMs,
      request.source,
    );
    return codeOf("confirm", code);
  }

  /** Orders whose restore the sale refused, over all shards. */
  async listRejectedRestores(saleId: string): Promise<RejectedRestore[]> {
    const shards = await this.shardCount(saleId);
    const all = await Promise.all(
      Array.from({ length: shards }, (_, shard) =>
        this.redis.hgetall(saleKeys(saleId, shard).rejected),
      ),
    );
    return all.flatMap((entries) =>
      Object.entries(entries).map(([orderId, json]) => {
        const raw = JSON.parse(json) as {
          userId: string;
          quantity: number;
          reservedAt: string;
          reason: RestoreRejection;
          at: string;
        };
        return {
          orderId,
          saleId,
          userId: raw.userId,
          quantity: Number(raw.quantity),
          reservedAtMs: Number(raw.reservedAt),
          reason: raw.reason,
          atMs: Number(raw.at),
        };
      }),
    );
  }

  /** An order of `userId`, looked up on that user's home shard. */
  async getOrder(saleId: string, orderId: string, userId: string): Promise<OrderRecord | null> {
    const shard = homeShard(userId, await this.shardCount(saleId));
    const json = await this.redis.hget(saleKeys(saleId, shard).orders, orderId);
    return json === null ? null : orderRecordFrom(saleId, orderId, json);
  }

  /** Every order of a sale, over all shards; bounded by its stock plus its released orders. */
  async listOrders(saleId: string): Promise<OrderRecord[]> {
    const shards = await this.shardCount(saleId);
    const all = await Promise.all(
      Array.from({ length: shards }, (_, shard) =>
        this.redis.hgetall(saleKeys(saleId, shard).orders),
      ),
    );
    return all.flatMap((orders) =>
      Object.entries(orders).map(([orderId, json]) => orderRecordFrom(saleId, orderId, json)),
    );
  }

  /**
   * Creates a sale (split over `shards` hashes), or updates one. A sharded
   * sale keeps its shard count; its stock changes are spread over the shards,
   * each shard refusing to go below what it has sold.
   */
  async upsertSale(
    sale: SaleDefinition,
    nowMs: number,
    secrets?: DrawSecrets,
  ): Promise<UpsertSaleOutcome> {
    const existing = await this.redis.hmget(saleKeys(sale.id).sale, "stock", "shards", "mode");
    const created = existing[0] === null;
    // A draw's entries and seed make no sense in a first-come sale, nor the reverse.
    const existingMode = existing[2] === "draw" ? "draw" : "first_come";
    if (!created && existingMode !== (sale.draw ? "draw" : "first_come")) {
      return { kind: "mode_immutable", mode: existingMode };
    }
    if (created && sale.draw && !secrets) throw new Error("a new draw needs its seed and salt");
    const shards = created ? (sale.shards ?? 1) : shardCountOf({ shards: existing[1] });
    if (!created && sale.shards !== undefined && sale.shards !== shards) {
      return { kind: "shards_immutable", shards };
    }
    // The schema refuses a hold with `shards` > 1; an update may leave `shards` out.
    if ((sale.holdSeconds ?? 0) > 0 && shards > 1) return { kind: "hold_on_sharded", shards };
    const current = created
      ? Array.from({ length: shards }, () => ({ stock: 0, remaining: 0 }))
      : await Promise.all(
          Array.from({ length: shards }, async (_, shard) => {
            const [stock, remaining] = await this.redis.hmget(
              saleKeys(sale.id, shard).sale,
              "stock",
              "remaining",
            );
            return { stock: Number(stock ?? 0), remaining: Number(remaining ?? 0) };
          }),
        );
    // The sweeper's work list; before the sale exists, so no hold can be missed.
    if ((sale.holdSeconds ?? 0) > 0) await this.redis.sadd(HOLD_SALES_KEY, sale.id);
    // The draw runner's work list, likewise before the sale exists.
    if (sale.draw) await this.redis.sadd(DRAW_SALES_KEY, sale.id);
    const targets = splitStock(sale.stock, current);
    if (targets === null) {
      return {
        kind: "stock_below_sold",
        sold: current.reduce((sum, s) => sum + s.stock - s.remaining, 0),
      };
    }

    // Shard 0 last: it is the one that makes a new sale visible to buyers.
    const order = Array.from({ length: shards }, (_, shard) => shards - 1 - shard);
    const done: number[] = [];
    let remaining = 0;
    let version = 0;
    for (const shard of order) {
      const [code, shardRemaining, shardVersion] = await this.upsertShard(
        sale,
        shard,
        targets[shard] ?? 0,
        shards,
        nowMs,
        secrets,
      );
      if (code === -1) {
        // Units sold on this shard meanwhile: put the shards already changed back.
        for (const undo of done)
          await this.upsertShard(sale, undo, current[undo]?.stock ?? 0, shards, nowMs);
        return { kind: "stock_below_sold", sold: shardRemaining };
      }
      done.push(shard);
      remaining += shardRemaining;
      version = Math.max(version, shardVersion);
    }
    return { kind: created ? "created" : "updated", remaining, version };
  }

  private upsertShard(
    sale: SaleDefinition,
    shard: number,
    stock: number,
    shards: number,
    nowMs: number,
    secrets?: DrawSecrets,
  ): Promise<UpsertSaleReply> {
    return this.redis.upsertSale(
      saleKeys(sale.id, shard).sale,
      sale.name,
      stock,
      sale.perUserLimit,
      sale.startsAtMs,
      sale.endsAtMs,
      nowMs,
      sale.rateLimit?.burst ?? DEFAULT_RATE_LIMIT.burst,
      sale.rateLimit?.perSecond ?? DEFAULT_RATE_LIMIT.perSecond,
      shards,
      sale.holdSeconds ?? 0,
      sale.price ? String(sale.price.amount) : "",
      sale.price?.currency ?? "",
      sale.draw ? "draw" : "",
      sale.draw?.entriesOpenAtMs ?? 0,
      sale.draw?.entriesCloseAtMs ?? 0,
      secrets?.seed.toString("hex") ?? "",
      secrets?.salt.toString("hex") ?? "",
      secrets?.commitment ?? "",
    );
  }

  /**
   * Applies an operator's controls to every shard of the sale, all of them in
   * one script call per shard hash (shard 0 last, as upsertSale writes it);
   * false when the sale does not exist. `nowMs` is the end a closeNow sets.
   */
  async applyControls(saleId: string, controls: SaleControls, nowMs: number): Promise<boolean> {
    const shards = await this.shardCount(saleId);
    const paused = controls.paused === undefined ? "" : controls.paused ? "1" : "0";
    for (let shard = shards - 1; shard >= 0; shard--) {
      const [code] = await this.redis.saleControl(
        saleKeys(saleId, shard).sale,
        paused,
        controls.closeNow ? String(nowMs) : "",
        controls.perUserLimit === undefined ? "" : String(controls.perUserLimit),
        controls.rateLimit === undefined ? "" : String(controls.rateLimit.burst),
        controls.rateLimit === undefined ? "" : String(controls.rateLimit.perSecond),
      );
      if (codeOf("saleControl", code) === "not_found") return false;
    }
    return true;
  }

  /** The sale as one: stock and remaining summed over its shards. */
  async getSale(saleId: string, nowMs: number): Promise<Sale | null> {
    const [first, ...others] = await readEveryShard(
      saleHashOfShard(this.redis, saleId),
      (hash) => hash,
    );
    return saleFromHash(saleId, mergeShardHashes(first, others), nowMs);
  }
}

/**
 * New per-shard stock totals for a sale total of `stock`: what each shard has
 * sold stays, and the units still to sell are spread evenly. Null when the
 * total is below what is already sold.
 */
export function splitStock(
  stock: number,
  shards: Array<{ stock: number; remaining: number }>,
): number[] | null {
  const sold = shards.map((s) => s.stock - s.remaining);
  const unsold = stock - sold.reduce((a, b) => a + b, 0);
  if (unsold < 0) return null;
  const base = Math.floor(unsold / shards.length);
  const extra = unsold % shards.length;
  return sold.map((soldOnShard, shard) => soldOnShard + base + (shard < extra ? 1 : 0));
}
