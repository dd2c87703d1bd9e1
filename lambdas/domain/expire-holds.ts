import type { HoldLedger, Logger, OrderEventQueue } from "./ports.js";

export interface ExpireHoldsDeps {
  holds: HoldLedger;
  events: OrderEventQueue;
  now: () => number;
  logger: Logger;
}

export interface SweepReport {
  sales: number;
  /** Holds expired (or found already settled) in this sweep. */
  expired: number;
  /** History events handed to the queue. */
  delivered: number;
  /** How long past its end the oldest hold this sweep expired had been waiting (0: none due). */
  lagMs: number;
  /** Sales whose sweep failed (the others were swept). */
  failures: number;
}

/** Holds expired per script call: bounded work per Redis call. */
export const EXPIRE_BATCH = 500;
/** Calls per sale per sweep, so one huge backlog cannot starve the other sales. */
const MAX_ROUNDS = 20;

/**
 * The sweeper: for every sale with a hold, expire the holds whose time is up
 * (lua/expire-holds-6.lua; the reserve script does the same for the sales
 * buyers are touching) and send the sale's history events (expired, paid,
 * refund_due) to the queue, for Postgres. Run every few seconds by the local
 * stack and once a minute by EventBridge Scheduler in AWS. Each sale's failure
 * stays its own: the others are still swept, and the failed one next time.
 */
export async function sweepHolds(deps: ExpireHoldsDeps): Promise<SweepReport> {
  const report: SweepReport = { sales: 0, expired: 0, delivered: 0, lagMs: 0, failures: 0 };
  const sales = await deps.holds.salesWithHolds();
  report.sales = sales.length;
  for (const saleId of sales) {
    try {
      for (let round = 0; round < MAX_ROUNDS; round++) {
        const nowMs = deps.now();
        const { due, oldestDueAtMs, more } = await deps.holds.expireDue(
          saleId,
          nowMs,
          EXPIRE_BATCH,
        );
        report.expired += due;
        if (oldestDueAtMs !== null) {
          report.lagMs = Math.max(report.lagMs, nowMs - oldestDueAtMs);
        }
        if (!more) break;
      }
      report.delivered += await deps.holds.drainEvents(saleId, (events) =>
        deps.events.sendEvents(events),
      );
    } catch (error) {
      report.failures++;
      deps.logger.error("sweeping the sale's holds failed; the next sweep retries", {
        saleId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return report;
}
