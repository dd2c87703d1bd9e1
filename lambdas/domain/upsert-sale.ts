import { commitmentOf, newSeed } from "./draw.js";
import {
  HoldOnShardedSaleError,
  ModeImmutableError,
  ShardsImmutableError,
  StockBelowSoldError,
} from "./errors.js";
import type { Logger, RecentSalesIndex, SaleDefinition, SaleStore } from "./ports.js";
import type { Sale } from "./sale.js";

export interface UpsertSaleDeps {
  reservations: SaleStore;
  recentSales: RecentSalesIndex;
  logger: Logger;
}

/**
 * Creates a sale, or restocks/reschedules it: `stock` is the sale's total and
 * units already sold stay sold. The sale is also recorded in the dashboard's
 * list of recent sales, a convenience whose failure fails nothing.
 */
export async function upsertSale(
  deps: UpsertSaleDeps,
  definition: SaleDefinition,
  nowMs: number,
): Promise<{ created: boolean; sale: Sale }> {
  // A draw's seed is picked before its first entry and only its commitment is
  // shown until the draw; the salt hides buyer ids in the published list. The
  // store writes them only if this call creates the sale.
  const seed = newSeed();
  const secrets = definition.draw
    ? { seed, salt: newSeed(), commitment: commitmentOf(seed) }
    : undefined;
  const outcome = await deps.reservations.upsertSale(definition, nowMs, secrets);
  if (outcome.kind === "stock_below_sold") {
    throw new StockBelowSoldError(definition.id, outcome.sold);
  }
  if (outcome.kind === "shards_immutable") {
    throw new ShardsImmutableError(definition.id, outcome.shards);
  }
  if (outcome.kind === "mode_immutable") throw new ModeImmutableError(definition.id, outcome.mode);
  if (outcome.kind === "hold_on_sharded") {
    throw new HoldOnShardedSaleError(definition.id, outcome.shards);
  }
  await deps.recentSales.remember(definition.id, nowMs).catch((error: unknown) =>
    deps.logger.warn("could not record the sale in the recent-sales list", {
      saleId: definition.id,
      error: error instanceof Error ? error.message : String(error),
    }),
  );
  const sale = await deps.reservations.getSale(definition.id, nowMs);
  if (sale === null) throw new Error(`sale ${definition.id} vanished right after its upsert`);
  return { created: outcome.kind === "created", sale };
}
