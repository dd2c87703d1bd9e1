import { type IntegrationEvent, orderConfirmed, publishQuietly } from "./integration-events.js";
import type { Order, OrderEvent } from "./order.js";
import {
  entryOf,
  eventOf,
  orderOf,
  PoisonMessageError,
  parseQueueMessage,
} from "./order-message.js";
import type {
  DrawEntryRecord,
  DrawRows,
  EventPublisher,
  Logger,
  MetricsSink,
  OrderRows,
  SaleStore,
} from "./ports.js";

export interface PersistDeps {
  reservations: SaleStore;
  orderRows: OrderRows;
  now: () => number;
  logger: Logger;
  metrics?: MetricsSink;
  /** OrderConfirmed for each new row (docs/events.md); a failed publish never fails a record. */
  events?: EventPublisher;
  /** Draw entries' rows (docs/draws.md). */
  drawRows?: DrawRows;
}

/** One entry per record, in record order: the shape @middy/sqs-partial-batch-failure reads. */
export type RecordResult = PromiseSettledResult<void>;

/**
 * What the use case needs of a queue message: its id (for logs), its body,
 * and the sender's X-Ray trace header when it sent one (SQS's AWSTraceHeader).
 */
export interface QueuedMessage {
  messageId: string;
  body: string;
  attributes?: { AWSTraceHeader?: string };
}

const ok: RecordResult = { status: "fulfilled", value: undefined };
const failed = (reason: unknown): RecordResult => ({ status: "rejected", reason });

/**
 * The consumer's use case for one SQS batch. Every record succeeds or fails
 * on its own: one bad record never takes its batch-mates with it.
 * 1. validate every record; a malformed one fails alone (it will reach the DLQ);
 * 2. confirm each order in Redis, so an order already released (its buyer got
 *    a 503) is dropped instead of persisted, a message that does not match its
 *    reservation fails, and an order Redis lost is restored only as far as the
 *    sale allows (otherwise it fails, to the DLQ, and reconcile names it);
 * 3. insert the rest in one statement; a row Postgres refuses for its data
 *    fails alone, while an outage fails them all and SQS delivers them again;
 * 4. publish OrderConfirmed for the rows that are new (not for duplicates), in
 *    one call; its failure is logged and counted, never a record's failure.
 */
export async function persistOrders(
  deps: PersistDeps,
  records: QueuedMessage[],
): Promise<RecordResult[]> {
  const results: RecordResult[] = new Array(records.length).fill(ok);
  const candidates: Array<{ index: number; messageId: string; order: Order }> = [];
  const events: Array<{ index: number; event: OrderEvent }> = [];
  const entries: Array<{ index: number; entry: DrawEntryRecord }> = [];
  records.forEach((record, index) => {
    try {
      const parsed = parseQueueMessage(record.body);
      if (parsed.kind === "entry") {
        entries.push({ index, entry: entryOf(parsed.message) });
        return;
      }
      if (parsed.kind === "event") {
        events.push({ index, event: eventOf(parsed.message) });
        return;
      }
      candidates.push({ index, messageId: record.messageId, order: orderOf(parsed.message) });
    } catch (error) {
      deps.logger.error("poison order message", {
        messageId: record.messageId,
        error: (error as Error).message,
      });
      results[index] = failed(error);
    }
  });

  // History events of held orders (paid, expired, refund_due): one idempotent
  // statement; they need no confirmation (the sweeper sends only what Redis decided).
  if (events.length > 0) {
    try {
      await deps.orderRows.recordEvents(events.map((e) => e.event));
    } catch (error) {
      deps.logger.error("order events insert failed; they will be retried", {
        error: (error as Error).message,
        events: events.length,
      });
      for (const { index } of events) results[index] = failed(error);
    }
  }

  if (entries.length > 0) await persistEntries(deps, entries, results);

  const nowMs = deps.now();
  const confirmations = await Promise.allSettled(
    candidates.map(({ order }) =>
      deps.reservations.confirm({ ...order, nowMs, source: "message" }),
    ),
  );

  const toInsert: typeof candidates = [];
  confirmations.forEach((confirmation, i) => {
    const candidate = candidates[i] as (typeof candidates)[number];
    if (confirmation.status === "rejected") {
      results[candidate.index] = failed(confirmation.reason);
      return;
    }
    const outcome = confirmation.value;
    const context = {
      orderId: candidate.order.orderId,
      saleId: candidate.order.saleId,
      messageId: candidate.messageId,
      outcome,
    };
    if (outcome === "released") {
      deps.logger.warn("order was released before it could be persisted; message dropped", context);
      return;
    }
    if (outcome === "mismatch" || outcome === "restore_rejected" || outcome === "sale_unknown") {
      deps.logger.error(REFUSED_CONFIRMATIONS[outcome], context);
      results[candidate.index] = failed(new PoisonMessageError(REFUSED_CONFIRMATIONS[outcome]));
      return;
    }
    if (outcome === "restored") {
      deps.logger.warn("order restored in Redis from its message", context);
    }
    toInsert.push(candidate);
  });

  let pendingEvents: IntegrationEvent[] = [];
  if (toInsert.length > 0) {
    try {
      const { inserted, refused } = await deps.orderRows.insert(toInsert.map((c) => c.order));
      for (const { order, error } of refused) {
        const candidate = toInsert.find((c) => c.order === order);
        if (!candidate) continue;
        deps.logger.error("Postgres refused the order's row; it fails alone", {
          orderId: order.orderId,
          saleId: order.saleId,
          messageId: candidate.messageId,
          error: error.message,
        });
        results[candidate.index] = failed(error);
      }
      deps.metrics?.count("OrdersPersisted", inserted.length);
      deps.metrics?.count("OrdersDuplicate", toInsert.length - inserted.length - refused.length);
      deps.logger.info("orders persisted", {
        received: records.length,
        inserted: inserted.length,
        duplicates: toInsert.length - inserted.length - refused.length,
        refused: refused.length,
        // Each new row with the trace of the buy that accepted it: the join from a
        // buy's log line (its xray_trace_id) to its row, here as in X-Ray.
        orders: newRows(toInsert, new Set(inserted), records),
      });
      if (deps.events && inserted.length > 0) {
        const persistedAtMs = deps.now();
        const byId = new Map(toInsert.map((c) => [c.order.orderId, c.order]));
        const confirmed = [...new Set(inserted)].flatMap((id) => {
          const order = byId.get(id);
          return order ? [orderConfirmed(order, persistedAtMs)] : [];
        });
        pendingEvents = confirmed; // published after the try: never a record's failure
      }
    } catch (error) {
      deps.logger.error("order insert failed; the batch will be retried", {
        error: (error as Error).message,
        orders: toInsert.length,
      });
      for (const { index } of toInsert) results[index] = failed(error);
    }
  }
  await publishQuietly(deps, pendingEvents);
  return results;
}

/**
 * Draw entries' rows, in one statement per sale. The draw writes the row of
 * every entry it drew from Redis, so a message arriving after the draw finds
 * its row there (a duplicate). Only an entry the draw did not see (Redis lost
 * it before the draw and its message came too late) is refused: logged and
 * counted for the operator (EntriesAfterDraw), not retried.
 */
async function persistEntries(
  deps: PersistDeps,
  entries: Array<{ index: number; entry: DrawEntryRecord }>,
  results: RecordResult[],
): Promise<void> {
  if (!deps.drawRows) {
    for (const { index } of entries) results[index] = failed(new Error("no draw rows configured"));
    return;
  }
  try {
    const { inserted, late } = await deps.drawRows.insertEntries(entries.map((e) => e.entry));
    deps.metrics?.count("EntriesPersisted", inserted);
    if (late.length > 0) {
      deps.metrics?.count("EntriesAfterDraw", late.length);
      deps.logger.warn("entries arrived after their draw was recorded", {
        entries: late.map((e) => ({ saleId: e.saleId, entryId: e.entryId })),
      });
    }
    deps.logger.info("entries persisted", {
      received: entries.length,
      inserted,
      late: late.length,
    });
  } catch (error) {
    deps.logger.error("entry insert failed; the entries will be retried", {
      error: (error as Error).message,
      entries: entries.length,
    });
    for (const { index } of entries) results[index] = failed(error);
  }
}

/** The orders that became rows, each with its buy's trace id (the header's Root) when the message carried one. */
function newRows(
  candidates: Array<{ index: number; order: Order }>,
  inserted: Set<string>,
  records: QueuedMessage[],
): Array<{ orderId: string; traceId?: string }> {
  return candidates
    .filter(({ order }) => inserted.has(order.orderId))
    .map(({ index, order }) => {
      const traceId = traceRootOf(records[index]?.attributes?.AWSTraceHeader);
      return traceId === undefined
        ? { orderId: order.orderId }
        : { orderId: order.orderId, traceId };
    });
}

/** The `Root` of an X-Ray trace header (`Root=1-…;Parent=…;Sampled=…`): the trace's id. */
export function traceRootOf(header: string | undefined): string | undefined {
  const root = header?.split(";").find((field) => field.startsWith("Root="));
  return root === undefined ? undefined : root.slice("Root=".length);
}

/** Confirmations that mean the message must not become a row (yet): it fails, and after retries reaches the DLQ. */
const REFUSED_CONFIRMATIONS = {
  mismatch: "message does not match the order Redis recorded (buyer or quantity differ)",
  restore_rejected:
    "Redis had lost the order and the sale does not allow restoring it (per-user limit or stock); see reconcile",
  sale_unknown: "the order's sale is unknown to Redis; recreate the sale, then redrive",
} as const;
