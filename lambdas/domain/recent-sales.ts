import type { RecentSalesIndex, SaleStore } from "./ports.js";
import type { RecentSale } from "./sale-stats-view.js";

/**
 * The newest `limit` sales, newest first, with their live stock. Ids whose
 * sale is gone are left out.
 */
export async function recentSales(
  deps: { index: RecentSalesIndex; reservations: SaleStore },
  limit: number,
  nowMs: number,
): Promise<RecentSale[]> {
  const entries = await deps.index.newest(limit);
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
