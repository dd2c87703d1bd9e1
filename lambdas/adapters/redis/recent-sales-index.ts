import type { RecentSalesIndex } from "../../domain/ports.js";
import type { RedisClient } from "./scripts.js";

/**
 * The sales an operator can pick on the dashboard: a sorted set of sale ids
 * scored by when the sale was first recorded (its creation, for sales created
 * since this existed). It is a global key, outside every sale's hash slot,
 * and only the admin path touches it: the buy path never does.
 */

export const RECENT_SALES_KEY = "sales:recent";

/** The set keeps the newest this many ids; older ones fall off (the sales themselves stay). */
export const RECENT_SALES_CAP = 200;

export class RedisRecentSalesIndex implements RecentSalesIndex {
  constructor(private readonly redis: RedisClient) {}

  /**
   * Records a sale in the list, keeping its first time (ZADD NX, so a restock
   * does not move it), and trims the list to its cap. One MULTI round trip.
   */
  async remember(saleId: string, nowMs: number): Promise<void> {
    await this.redis
      .multi()
      .zadd(RECENT_SALES_KEY, "NX", nowMs, saleId)
      .zremrangebyrank(RECENT_SALES_KEY, 0, -(RECENT_SALES_CAP + 1))
      .exec();
  }

  async newest(limit: number): Promise<Array<{ id: string; createdAtMs: number }>> {
    const flat = await this.redis.zrevrange(RECENT_SALES_KEY, 0, limit - 1, "WITHSCORES");
    const entries: Array<{ id: string; createdAtMs: number }> = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      entries.push({ id: flat[i] as string, createdAtMs: Number(flat[i + 1]) });
    }
    return entries;
  }
}
