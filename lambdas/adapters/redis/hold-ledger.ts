import { randomUUID } from "node:crypto";
import type { OrderEvent, OrderEventKind } from "../../domain/order.js";
import type { HoldLedger, PaymentAnomaly, PaymentRequest, PayOutcome } from "../../domain/ports.js";
import { HOLD_SALES_KEY, saleKeys } from "./keys.js";
import { codeOf, type RedisClient } from "./scripts.js";

/** Events sent per drain step: one SQS batch holds at most 10 messages; ten batches per step. */
const DRAIN_STEP = 100;
/** How long one sweeper may own a sale's outbox; a crashed one is replaced after this. */
const DRAIN_LOCK_MS = 30_000;

/**
 * Holds and payments of sales with a hold, in Redis: the pay and expiry
 * scripts (one atomic call each, so exactly one of them wins for an order)
 * and the sale's history outbox. Sales with a hold are unsharded, so every
 * key here is in shard 0's slot.
 */
export class RedisHoldLedger implements HoldLedger {
  constructor(private readonly redis: RedisClient) {}

  async pay(request: PaymentRequest): Promise<PayOutcome> {
    const k = saleKeys(request.saleId);
    const [code] = await this.redis.pay(
      k.sale,
      k.buyers,
      k.orders,
      k.idempotency,
      k.holds,
      k.events,
      k.anomalies,
      request.orderId,
      String(request.amount),
      request.currency,
      request.nowMs,
      request.reference,
    );
    return codeOf("pay", code);
  }

  async expireDue(
    saleId: string,
    nowMs: number,
    limit: number,
  ): Promise<{ due: number; oldestDueAtMs: number | null; more: boolean }> {
    const k = saleKeys(saleId);
    const [, due, , oldest, more] = await this.redis.expireHolds(
      k.sale,
      k.buyers,
      k.orders,
      k.idempotency,
      k.holds,
      k.events,
      nowMs,
      limit,
    );
    return { due, oldestDueAtMs: oldest === "" ? null : Number(oldest), more: more === 1 };
  }

  salesWithHolds(): Promise<string[]> {
    return this.redis.smembers(HOLD_SALES_KEY);
  }

  async drainEvents(
    saleId: string,
    deliver: (events: OrderEvent[]) => Promise<void>,
  ): Promise<number> {
    const k = saleKeys(saleId);
    const lock = `${k.sale}:drain-lock`;
    const token = randomUUID();
    // One drainer per sale: two would deliver the same events and then each trim them.
    if ((await this.redis.set(lock, token, "PX", DRAIN_LOCK_MS, "NX")) !== "OK") return 0;
    let delivered = 0;
    try {
      for (;;) {
        const raw = await this.redis.lrange(k.events, 0, DRAIN_STEP - 1);
        if (raw.length === 0) break;
        await deliver(raw.map((json) => eventFrom(saleId, json)));
        await this.redis.ltrim(k.events, raw.length, -1);
        delivered += raw.length;
        if (raw.length < DRAIN_STEP) break;
      }
    } finally {
      if ((await this.redis.get(lock)) === token) await this.redis.del(lock);
    }
    return delivered;
  }

  async anomalies(saleId: string): Promise<PaymentAnomaly[]> {
    const entries = await this.redis.hgetall(saleKeys(saleId).anomalies);
    return Object.entries(entries).map(([orderId, json]) => {
      const raw = JSON.parse(json) as {
        reason: "AMOUNT_MISMATCH";
        at: string;
        amount: string;
        currency: string;
        due: string;
        dueCurrency: string;
        reference: string;
      };
      return {
        orderId,
        reason: raw.reason,
        atMs: Number(raw.at),
        received: { amount: Number(raw.amount), currency: raw.currency },
        due: { amount: Number(raw.due), currency: raw.dueCurrency },
        reference: raw.reference,
      };
    });
  }
}

function eventFrom(saleId: string, json: string): OrderEvent {
  const raw = JSON.parse(json) as {
    event: OrderEventKind;
    orderId: string;
    at: string;
    amount?: string;
    currency?: string;
    reference?: string;
  };
  return {
    orderId: raw.orderId,
    saleId,
    event: raw.event,
    atMs: Number(raw.at),
    ...(raw.amount !== undefined && { amount: Number(raw.amount) }),
    ...(raw.currency !== undefined && { currency: raw.currency }),
    ...(raw.reference !== undefined && raw.reference !== "" && { reference: raw.reference }),
  };
}
