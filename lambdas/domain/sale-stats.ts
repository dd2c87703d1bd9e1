import type { CounterSnapshot, OrderRows, QueueDepthsProbe, SaleCounters } from "./ports.js";
import type { SaleStatsView, StatsSource } from "./sale-stats-view.js";
import {
  counterDelta,
  type LatencySummary,
  latencySummary,
  outcomes,
  perSecond,
} from "./stats-counters.js";

/**
 * The live view of one sale for the dashboard (GET /admin/sales/{saleId}/stats):
 * its stock, the counters reserve-8.lua and the buy containers keep, the
 * orders queue and its DLQ, and the order rows in Postgres.
 *
 * Rates and windowed percentiles are computed here, on the server: each call
 * stores a snapshot of the cumulative counters in a short shared history and
 * compares the new snapshot with the newest one at least `windowMs` old, so
 * every container and every viewer see the same rates.
 */

export interface SaleStatsDeps {
  counters: SaleCounters;
  orderRows: OrderRows;
  queueDepths: QueueDepthsProbe;
  now: () => number;
  /** Deadline for each optional source (Postgres, SQS); past it the source is reported unavailable. */
  sourceTimeoutMs?: number;
}

export interface SaleStatsOptions {
  /** Rates and windowed percentiles cover at least this much time (default 1 s). */
  windowMs?: number;
}

export const DEFAULT_WINDOW_MS = 1_000;
const DEFAULT_SOURCE_TIMEOUT_MS = 1_500;

/** Settles `promise` within `ms`, else rejects; the work itself is not cancelled. */
function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** The sale's live view; null when the sale does not exist (nothing is written then). */
export async function saleStats(
  deps: SaleStatsDeps,
  saleId: string,
  options: SaleStatsOptions = {},
): Promise<SaleStatsView | null> {
  const nowMs = deps.now();
  const windowMs = options.windowMs ?? DEFAULT_WINDOW_MS;
  const timeoutMs = deps.sourceTimeoutMs ?? DEFAULT_SOURCE_TIMEOUT_MS;
  // Redis is required; Postgres and SQS are shown as unavailable when they fail,
  // so the stock and the rates keep updating while, say, the database is down.
  const [current, baseline, persisted, queues] = await Promise.all([
    deps.counters.read(saleId, nowMs),
    deps.counters.baseline(saleId, nowMs - windowMs),
    withDeadline(deps.orderRows.countOfSale(saleId), timeoutMs).catch(() => null),
    withDeadline(deps.queueDepths(), timeoutMs).catch(() => null),
  ]);
  if (current === null) return null;
  const { sale, counters } = current;

  const snapshot: CounterSnapshot = {
    at: nowMs,
    counters,
    persistedUnits: persisted?.units ?? null,
  };
  await deps.counters.record(saleId, snapshot);

  let rates: SaleStatsView["rates"] = null;
  let windowLatency: LatencySummary | null = null;
  let entriesPerSecond: number | null = null;
  if (baseline !== null && nowMs > baseline.at) {
    const seconds = (nowMs - baseline.at) / 1000;
    const delta = counterDelta(baseline.counters, counters);
    entriesPerSecond = Math.round(((delta.entered ?? 0) / seconds) * 100) / 100;
    const persistedRate =
      persisted !== null && baseline.persistedUnits !== null
        ? Math.round((Math.max(0, persisted.units - baseline.persistedUnits) / seconds) * 100) / 100
        : null;
    rates = {
      windowSeconds: Math.round(seconds * 1000) / 1000,
      ...perSecond(outcomes(delta), seconds),
      persistedUnits: persistedRate,
    };
    windowLatency = latencySummary(delta);
  }

  const unavailable: StatsSource[] = [];
  if (persisted === null) unavailable.push("postgres");
  if (queues === null) unavailable.push("queues");
  return {
    saleId,
    name: sale.name,
    status: sale.status,
    ...(sale.paused && { paused: true as const }),
    perUserLimit: sale.perUserLimit,
    rateLimit: sale.rateLimit,
    endsAt: sale.endsAt,
    at: new Date(nowMs).toISOString(),
    stock: sale.stock,
    remaining: sale.remaining,
    sold: sale.sold,
    totals: outcomes(counters),
    rates,
    latency: { window: windowLatency, total: latencySummary(counters) },
    orders: {
      soldUnits: sale.sold,
      persistedRows: persisted?.rows ?? null,
      persistedUnits: persisted?.units ?? null,
      inFlightUnits: persisted === null ? null : sale.sold - persisted.units,
    },
    holds:
      sale.holdSeconds === undefined
        ? null
        : {
            holdSeconds: sale.holdSeconds,
            held: sale.held ?? 0,
            paid: sale.paid ?? 0,
            expiredUnits: sale.expiredUnits ?? 0,
          },
    draw:
      sale.draw === undefined
        ? null
        : {
            state: sale.draw.state,
            entriesCloseAt: sale.draw.entriesCloseAt,
            entries: sale.draw.entries,
            entriesPerSecond,
            winners: sale.draw.winners ?? 0,
            awarded: counters["draw:awarded"] ?? 0,
            alternates: counters["draw:alternates"] ?? 0,
            passedOver: counters["draw:passed_over"] ?? 0,
          },
    queues,
    unavailable,
  };
}
