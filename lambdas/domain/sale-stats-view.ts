import type { SaleStatus } from "./sale.js";
import type { LatencySummary, OutcomeCounts } from "./stats-counters.js";

/**
 * The dashboard endpoints' response shapes: types only, no I/O, so the page
 * (lambdas/dashboard/dashboard.js, type-checked against this file) and the
 * handlers share one contract.
 */

/** GET /admin/sales: `{ sales: RecentSale[] }`, newest first. */
export interface RecentSale {
  id: string;
  name: string;
  status: SaleStatus;
  stock: number;
  remaining: number;
  sold: number;
  /** When the sale was first recorded in the list (ISO 8601). */
  createdAt: string;
}

export type StatsSource = "postgres" | "queues";

/** GET /admin/sales/{saleId}/stats */
export interface SaleStatsView {
  saleId: string;
  name: string;
  status: SaleStatus;
  /** Present (true) while an operator has paused buying. */
  paused?: true;
  /** The settings an operator can change on a running sale (POST /admin/sales/{saleId}/controls). */
  perUserLimit: number;
  rateLimit: { burst: number; perSecond: number };
  /** When the sale ends (ISO 8601), null for no end. */
  endsAt: string | null;
  /** Server time of this snapshot (ISO 8601). */
  at: string;
  stock: number;
  remaining: number;
  sold: number;
  /** Cumulative counts since the sale was created. */
  totals: OutcomeCounts;
  /** Per second over the last window; null until a previous snapshot exists (first call). */
  rates: (OutcomeCounts & { windowSeconds: number; persistedUnits: number | null }) | null;
  /** Buy-path latency: over the last window, and since the sale began. */
  latency: { window: LatencySummary | null; total: LatencySummary | null };
  orders: {
    /** Units held by accepted orders (stock - remaining): what Postgres must end up with. */
    soldUnits: number;
    persistedRows: number | null;
    persistedUnits: number | null;
    /** soldUnits - persistedUnits: accepted but not yet a row (in the queue, or in the consumer). */
    inFlightUnits: number | null;
  };
  /** Sales with a hold: units held awaiting payment, paid, and returned to stock when their hold expired (cumulative); null without a hold. */
  holds: { holdSeconds: number; held: number; paid: number; expiredUnits: number } | null;
  /** Draws (docs/draws.md): the draw's state, its entries and their rate, and its awards; null for a first-come sale. */
  draw: {
    state: "open" | "frozen" | "drawn";
    entriesCloseAt: string | null;
    entries: number;
    /** Entries accepted per second over the window; null until a previous snapshot exists. */
    entriesPerSecond: number | null;
    /** Entries the draw itself made winners (0 before the draw). */
    winners: number;
    /** Held orders the draw gave, winners and alternates. */
    awarded: number;
    /** Awards past the draw's winners: units of unpaid winners passed on in drawn order. */
    alternates: number;
    /** Entries passed over because their quantity did not fit in the units left. */
    passedOver: number;
  } | null;
  /** Messages in the orders queue and in its DLQ (whole queues: every sale shares them). */
  queues: { orders: number; dlq: number } | null;
  /** Sources that failed or missed their deadline; their fields above are null. */
  unavailable: StatsSource[];
}
