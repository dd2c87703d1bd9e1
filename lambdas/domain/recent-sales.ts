import type { RedisReservations } from "../adapters/redis/sale-store.js";
import type { RedisClient } from "../adapters/redis/scripts.js";
import type { RecentSale } from "./sale-stats-view.js";

/**
 * The sales an operator can pick on the dashboard: a sorted set of sale ids
 * scored by when the sale was first recorded (its creation, for sales created
 * since this existed). It is a global key, outside every sale's hash slot,
 * and only the admin path touches it: the buy path never does.
 */

export const RECENT_SALES_KEY = "sales:recent";

/** The set keeps the newest this many ids; older ones fall off (the sales themselves stay). */
export const RECENT_SALES_CAP = 200;

/**
 * Records a sale in the list, keeping its first time (ZADD NX, so a restock
 * does not move it), and trims the list to its cap. One MULTI round trip.
 */
export async function rememberSale(
  redis: RedisClient,
  saleId: string,
  nowMs: number,
): Promise<void> {
  await redis
    .multi()
    .zadd(RECENT_SALES_KEY, "NX", nowMs, saleId)
    .zremrangebyrank(RECENT_SALES_KEY, 0, -(RECENT_SALES_CAP + 1))
    .exec();
}

/**
 * The newest `limit` sales, newest first, with their live stock. Ids whose
 * sale hash is gone are left out. Each sale is one HGETALL in its own slot,
 * sent together (auto-pipelined on one connection).
 */
export async function recentSales(
  deps: { redis: RedisClient; reservations: RedisReservations },
  limit: number,
  nowMs: number,
): Promise<RecentSale[]> {
  const flat = await deps.redis.zrevrange(RECENT_SALES_KEY, 0, limit - 1, "WITHSCORES");
  const entries: Array<{ id: string; createdAtMs: number }> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) {
    entries.push({ id: flat[i] as string, createdAtMs: Number(flat[i + 1]) });
  }
  const sales = await Promise.all(
    entries.map((entry) => deps.reservations.getSale(entry.id, nowMs)),
  );
  const result: RecentSale[] = [];
  entries.forEach((entry, i) => {
    const sale = sales[i];
    if (!sale) return;
    result.push({
      id: sale.id,
      name: sale.name,
      status: sale.status,
      stock: sale.stock,
      remaining: sale.remaining,
      sold: sale.sold,
      createdAt: new Date(entry.createdAtMs).toISOString(),
    });
  });
  return result;
}
