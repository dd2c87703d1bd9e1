import { entryHash } from "./draw.js";
import {
  EntryNotFoundError,
  EntryRefusedError,
  PurchaseRefusedError,
  RateLimitedError,
  SaleNotFoundError,
  ServiceUnavailableError,
} from "./errors.js";
import type { OrderRecord } from "./order.js";
import type {
  DrawEntryRecord,
  DrawSale,
  DrawStore,
  EntryQueue,
  Logger,
  MetricsSink,
} from "./ports.js";
import { QUEUE_RETRY_AFTER_SECONDS } from "./purchase.js";

export interface EnterDeps {
  draws: DrawStore;
  queue: EntryQueue;
  now: () => number;
  uuid: () => string;
  logger: Logger;
  metrics?: MetricsSink;
}

export interface EnterCommand {
  saleId: string;
  userId: string;
  quantity: number;
}

/**
 * The entry use case, shaped like a buy: one Lua call enters (or refuses, or
 * answers the buyer's first entry), one SQS send hands the entry to the
 * consumer, which writes its row. If the send fails the entry is taken back
 * before answering 503, unless the entries were frozen meanwhile: then it is
 * in the draw already, and the buyer is told so.
 */
export async function enterDraw(
  deps: EnterDeps,
  command: EnterCommand,
): Promise<{ entry: DrawEntryRecord; replayed: boolean }> {
  const nowMs = deps.now();
  const entryId = deps.uuid();
  let outcome: Awaited<ReturnType<DrawStore["enter"]>>;
  try {
    outcome = await deps.draws.enter({ ...command, nowMs, entryId });
  } catch (error) {
    // The script may have run: take back what this request may have entered.
    await leaveAfterFailure(deps, command, entryId, error);
    throw new ServiceUnavailableError("The draw could not be reached; please retry", 1);
  }
  if (outcome.kind === "not_found") throw new SaleNotFoundError(command.saleId);
  if (outcome.kind === "rate_limited") {
    throw new RateLimitedError(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)));
  }
  if (outcome.kind === "refused") {
    if (outcome.reason === "SALE_PAUSED") throw new PurchaseRefusedError("SALE_PAUSED");
    throw new EntryRefusedError(outcome.reason);
  }
  if (outcome.kind === "replayed") return { entry: outcome.entry, replayed: true };

  try {
    await deps.queue.sendEntry(outcome.entry);
  } catch (sendError) {
    const left = await leaveAfterFailure(deps, command, entryId, sendError);
    if (left === "kept") return { entry: outcome.entry, replayed: false };
    throw new ServiceUnavailableError(
      "The entry could not be queued; it was not recorded, please retry",
      QUEUE_RETRY_AFTER_SECONDS,
    );
  }
  return { entry: outcome.entry, replayed: false };
}

async function leaveAfterFailure(
  deps: EnterDeps,
  { saleId, userId }: EnterCommand,
  entryId: string,
  cause: unknown,
): Promise<string> {
  try {
    const left = await deps.draws.leave(saleId, userId, entryId);
    deps.metrics?.count("EntriesTakenBack");
    deps.logger.warn("entry failed after the enter script; entry taken back", {
      saleId,
      entryId,
      left,
      error: cause instanceof Error ? cause.message : String(cause),
    });
    return left;
  } catch (leaveError) {
    // The entry stays in Redis without a message: it is in the draw (Redis is
    // one of the draw's two sources), the buyer got a 503 and will be told
    // their entry by GET /sales/{id}/entries/me or the replay of a new entry.
    deps.logger.error("entry failed and taking it back failed too", {
      saleId,
      entryId,
      error: cause instanceof Error ? cause.message : String(cause),
      leaveError: leaveError instanceof Error ? leaveError.message : String(leaveError),
    });
    return "leave_failed";
  }
}

/** What GET /sales/{saleId}/entries/me answers. */
export interface EntryView {
  entryId: string;
  quantity: number;
  enteredAt: string;
  /** The entry as the published list shows it: HMAC-SHA256(salt, saleId NUL userId), hex. */
  entryHash?: string;
  /**
   * pending: not drawn yet; won: the draw gave this entry a held order (pay it
   * within the hold); waiting: drawn, not awarded yet, and units may still come
   * back from unpaid winners; not_won: the draw is over for this entry.
   */
  result: "pending" | "won" | "waiting" | "not_won";
  order?: {
    orderId: string;
    quantity: number;
    payment: string;
    expiresAt: string;
    amountDue: number;
    currency: string;
  };
}

export async function entryView(
  draws: DrawStore,
  saleId: string,
  userId: string,
): Promise<EntryView> {
  const [sale, { entry, award }, secrets] = await Promise.all([
    draws.drawSale(saleId),
    draws.entryOf(saleId, userId),
    draws.secrets(saleId),
  ]);
  if (sale === null) throw new SaleNotFoundError(saleId);
  if (entry === null) throw new EntryNotFoundError(saleId);
  const view: EntryView = {
    entryId: entry.entryId,
    quantity: entry.quantity,
    enteredAt: new Date(entry.enteredAtMs).toISOString(),
    result: resultOf(sale, award),
  };
  if (secrets) view.entryHash = entryHash(secrets.salt, saleId, userId).toString("hex");
  if (award?.hold) {
    view.order = {
      orderId: award.orderId,
      quantity: award.quantity,
      payment: award.payment?.state ?? "held",
      expiresAt: new Date(award.hold.expiresAtMs).toISOString(),
      amountDue: award.hold.amount,
      currency: award.hold.currency,
    };
  }
  return view;
}

function resultOf(sale: DrawSale, award: OrderRecord | null): EntryView["result"] {
  if (sale.state !== "drawn") return "pending";
  if (award) return "won";
  // Units may still come back while holds run and the walk has positions left.
  const walkLeft = (sale.cursor ?? 0) < (sale.positions ?? 0);
  return walkLeft && (sale.held > 0 || sale.remaining > 0) ? "waiting" : "not_won";
}
