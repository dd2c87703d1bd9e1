import { type IntegrationEvent, publishQuietly, saleEventsDue } from "./integration-events.js";
import type { EventLedger, RecentSalesIndex } from "./ports.js";
import { type IssueKind, type ReconcileDeps, reconcileSale } from "./reconcile.js";
import type { Sale } from "./sale.js";

/**
 * The scheduled repair (lambdas/handlers/repair-orders.ts): reconcile of the
 * open and recently ended sales, repairing without a person what is safe to
 * repair, with the same rules as `reconcile --repair`:
 *
 * - a reservation older than the grace period with no row is confirmed and
 *   written as its row (the policy is to finish the order, never to release
 *   it: a buyer who got a 2xx must get the order, and a buy cut between its
 *   reservation and its send, whose client saw a 5xx or nothing, is finished
 *   as the buyer's retry with the same Idempotency-Key would have finished it);
 * - a confirmation without a row is written;
 * - a row Redis lost is restored into Redis (the row is the truth).
 *
 * Safe to run twice at once: one run holds a Redis lock (a random token, SET
 * NX PX, released only by its holder), and each repair is idempotent per order
 * (the confirm script answers already_confirmed, the insert is ON CONFLICT DO
 * NOTHING), so even a run that outlives its lock does nothing twice. Bounded:
 * at most `maxSales` sales and `maxRepairs` orders per run; the rest is the
 * backlog the next run (a minute later) takes.
 *
 * It also sends the sale events (SaleOpened, SaleSoldOut, SaleClosed;
 * docs/events.md) of the sales it visits, each once per sale: claimed in the
 * EventLedger before the publish, marked sent after it, the claim dropped
 * when the publish failed, so a later run sends it (at least once, never lost).
 */

export interface RepairLock {
  /** The lock's token when this run got it, null when another run holds it. */
  acquire(ttlMs: number): Promise<string | null>;
  release(token: string): Promise<void>;
}

export interface AutoRepairDeps extends ReconcileDeps {
  index: RecentSalesIndex;
  lock: RepairLock;
  /** With `events`: which sale events were sent. Without either, no sale events. */
  eventLedger?: EventLedger;
}

/** How long a claim on a sale event lives if its run dies before marking it sent. */
export const EVENT_CLAIM_MS = 60_000;
/** How long a sent mark outlives the sale's end (or its opening, for a sale without an end). */
export const EVENT_MARK_MARGIN_MS = 30 * 86_400_000;

export interface AutoRepairOptions {
  graceMs: number;
  /** Sales ended longer ago than this are left to the manual reconcile. */
  endedWithinMs: number;
  maxSales: number;
  maxRepairs: number;
  /** How long the lock lives if its run dies: the function's timeout. */
  lockTtlMs: number;
}

/** Orders without their row: what the scheduled repair exists for (found, repaired, backlog). */
export const REPAIRABLE: readonly IssueKind[] = ["STALE_RESERVATION", "CONFIRMED_WITHOUT_ROW"];

export interface AutoRepairReport {
  /** "locked": another run holds the lock, this one did nothing. */
  outcome: "done" | "locked";
  salesChecked: number;
  /** Orders needing repair that were found (stale reservations, confirmations and rows without their other half). */
  staleFound: number;
  repaired: number;
  /** Rows Redis had lost, restored into Redis from the row. */
  restored: number;
  /** Found but left: over this run's bound, or their repair failed (the next run retries). */
  backlog: number;
  /** Reservations still within the grace period. */
  inFlight: number;
  /** Issues only a person can settle (DLQ, oversold, unpersistable, restore rejected), by kind. */
  forAPerson: Partial<Record<IssueKind, number>>;
  /** Sales whose reconcile failed (a store unreachable); retried next run. */
  failedSales: string[];
  /** Sale events sent this run, and those whose publish failed (the next run sends them). */
  eventsSent: number;
  eventsFailed: number;
  durationMs: number;
}

export async function autoRepair(
  deps: AutoRepairDeps,
  options: AutoRepairOptions,
): Promise<AutoRepairReport> {
  const started = deps.now();
  const report: AutoRepairReport = {
    outcome: "done",
    salesChecked: 0,
    staleFound: 0,
    repaired: 0,
    restored: 0,
    backlog: 0,
    inFlight: 0,
    forAPerson: {},
    failedSales: [],
    eventsSent: 0,
    eventsFailed: 0,
    durationMs: 0,
  };
  const token = await deps.lock.acquire(options.lockTtlMs);
  if (token === null) return { ...report, outcome: "locked" };
  try {
    const entries = await deps.index.newest(options.maxSales);
    let budget = options.maxRepairs;
    const claimed: Array<{ event: IntegrationEvent; keepMs: number }> = [];
    for (const entry of entries) {
      const nowMs = deps.now();
      const sale = await deps.reservations.getSale(entry.id, nowMs);
      if (!sale) continue;
      const endsAtMs = sale.endsAt ? Date.parse(sale.endsAt) : 0;
      if (sale.status === "ended" && nowMs - endsAtMs > options.endedWithinMs) continue;
      report.salesChecked++;
      claimed.push(...(await claimSaleEvents(deps, sale, entry.createdAtMs, nowMs, options)));
      try {
        const result = await reconcileSale(deps, entry.id, {
          repair: budget > 0,
          graceMs: options.graceMs,
          requireEmptyQueues: false,
          maxRepairs: budget,
        });
        report.inFlight += result.inFlight;
        for (const issue of result.issues) {
          if (REPAIRABLE.includes(issue.kind)) {
            report.staleFound++;
            if (issue.repaired) {
              report.repaired++;
              budget--;
            } else report.backlog++;
          } else if (issue.kind === "ROW_WITHOUT_RESERVATION" && issue.repaired) {
            report.restored++;
            budget--;
          } else {
            report.forAPerson[issue.kind] = (report.forAPerson[issue.kind] ?? 0) + 1;
          }
        }
      } catch {
        report.failedSales.push(entry.id);
      }
    }
    const sent = await sendClaimed(deps, claimed);
    report.eventsSent = sent;
    report.eventsFailed = claimed.length - sent;
  } finally {
    await deps.lock.release(token).catch(() => undefined); // it expires on its own
  }
  report.durationMs = deps.now() - started;
  return report;
}

/** Claims the sale's due events not sent yet; a ledger that cannot be reached claims none (the next run retries). */
async function claimSaleEvents(
  deps: AutoRepairDeps,
  sale: Sale,
  createdAtMs: number,
  nowMs: number,
  options: AutoRepairOptions,
): Promise<Array<{ event: IntegrationEvent; keepMs: number }>> {
  const ledger = deps.eventLedger;
  if (!ledger || !deps.events) return [];
  const endsAtMs = sale.endsAt ? Date.parse(sale.endsAt) : nowMs;
  // Past the last run that visits the sale (it ended endedWithinMs ago), with a margin.
  const keepMs = Math.max(endsAtMs - nowMs, 0) + options.endedWithinMs + EVENT_MARK_MARGIN_MS;
  const claimed: Array<{ event: IntegrationEvent; keepMs: number }> = [];
  for (const event of saleEventsDue(sale, nowMs, createdAtMs)) {
    try {
      if (await ledger.claim(event.detail.eventId, EVENT_CLAIM_MS)) claimed.push({ event, keepMs });
    } catch {
      break; // Redis unreachable: this sale's events wait for the next run
    }
  }
  return claimed;
}

/** One publish for all claimed events; marks the sent ones, releases the others. Returns how many were sent. */
async function sendClaimed(
  deps: AutoRepairDeps,
  claimed: Array<{ event: IntegrationEvent; keepMs: number }>,
): Promise<number> {
  const ledger = deps.eventLedger;
  if (!ledger || claimed.length === 0) return 0;
  const failed = await publishQuietly(
    deps,
    claimed.map((c) => c.event),
  );
  await Promise.all(
    claimed.map(({ event, keepMs }) => {
      const id = event.detail.eventId;
      // A mark or release that fails leaves the claim to expire: sent again later, not lost.
      return (failed.has(id) ? ledger.release(id) : ledger.markSent(id, keepMs)).catch(
        () => undefined,
      );
    }),
  );
  return claimed.length - failed.size;
}
