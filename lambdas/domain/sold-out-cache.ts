import type { RefusalReason } from "./errors.js";

type CachedRefusal = Extract<RefusalReason, "SOLD_OUT" | "SALE_ENDED">;

interface Flag {
  reason: CachedRefusal;
  version: number;
  expiresAtMs: number;
}

/**
 * What a buy container has learned about sales that cannot sell: once Redis
 * says SOLD_OUT (or SALE_ENDED), the container refuses further buys for that
 * sale from memory for `ttlMs`, so a storm of late buyers costs no Redis call.
 *
 * Stock can come back (a restock, or a reservation released after a failed
 * send); both bump the sale's version in Redis. A flag therefore never lives
 * longer than `ttlMs`: the first buy after it expires asks Redis again, and a
 * reply carrying a newer version clears the flag at once. A unit that came
 * back becomes buyable from a warm container at most `ttlMs` later.
 */
export class SoldOutCache {
  private readonly flags = new Map<string, Flag>();

  constructor(
    private readonly ttlMs: number,
    private readonly now: () => number,
    private readonly maxSales = 1_000,
  ) {}

  /** The cached refusal for this sale, if one is still fresh. */
  refusal(saleId: string): CachedRefusal | undefined {
    const flag = this.flags.get(saleId);
    if (flag === undefined) return undefined;
    if (this.now() >= flag.expiresAtMs) {
      this.flags.delete(saleId);
      return undefined;
    }
    return flag.reason;
  }

  remember(saleId: string, reason: CachedRefusal, version: number): void {
    if (this.ttlMs <= 0) return;
    if (this.flags.size >= this.maxSales && !this.flags.has(saleId)) {
      // Oldest first: Map keeps insertion order.
      const oldest = this.flags.keys().next().value;
      if (oldest !== undefined) this.flags.delete(oldest);
    }
    this.flags.set(saleId, { reason, version, expiresAtMs: this.now() + this.ttlMs });
  }

  /** Any reply from Redis for the sale: a newer version means stock may be back. */
  observe(saleId: string, version: number): void {
    const flag = this.flags.get(saleId);
    if (flag !== undefined && version > flag.version) this.flags.delete(saleId);
  }
}
