import {
  PurchaseRefusedError,
  RateLimitedError,
  SaleNotFoundError,
  ServiceUnavailableError,
} from "./errors.js";
import { counterOf } from "./outcomes.js";
import type {
  BuyCounters,
  Logger,
  MetricsSink,
  OrderQueue,
  ReleaseOutcome,
  ReserveOutcome,
  SaleStore,
} from "./ports.js";
import { newOrderId } from "./sale.js";
import type { SoldOutCache } from "./sold-out-cache.js";

export interface BuyCommand {
  saleId: string;
  userId: string;
  quantity: number;
  idempotencyKey: string | undefined;
}

export interface AcceptedBuy {
  orderId: string;
  remaining: number;
  replayed: boolean;
}

/** Seconds a client should wait before retrying after the queue refused an order. */
export const QUEUE_RETRY_AFTER_SECONDS = 1;

export interface PurchaseDeps {
  reservations: SaleStore;
  /** Refusals learned from Redis, answered from memory for a short time; see sold-out-cache.ts. */
  soldOut?: SoldOutCache;
  queue: OrderQueue;
  /** Counts the outcomes the sale store did not count itself (see outcomes.ts, countedBy). */
  counters?: BuyCounters;
  now: () => number;
  uuid: () => string;
  logger: Logger;
  metrics?: MetricsSink;
}

/**
 * The buy use case: one Lua call reserves (or refuses), one SQS send hands the
 * order over. If the send fails the reservation is released before answering,
 * so a refused client never leaves a unit locked away.
 */
export async function buy(deps: PurchaseDeps, command: BuyCommand): Promise<AcceptedBuy> {
  try {
    return await buyOnce(deps, command);
  } catch (error) {
    countWhatTheStoreDidNot(deps, command.saleId, error);
    throw error;
  }
}

/** The store counts its own refusals and rate limits; refusals from memory or after a shard sweep, and failed sends, it does not. */
function countWhatTheStoreDidNot(deps: PurchaseDeps, saleId: string, error: unknown): void {
  if (!deps.counters) return;
  const counted =
    (error instanceof PurchaseRefusedError && error.uncounted) ||
    error instanceof ServiceUnavailableError;
  const field = counted
    ? counterOf((error as PurchaseRefusedError | ServiceUnavailableError).code)
    : undefined;
  if (field !== undefined) deps.counters.count(saleId, field);
}

async function buyOnce(deps: PurchaseDeps, command: BuyCommand): Promise<AcceptedBuy> {
  // A request with an Idempotency-Key may be the retry of a buy that was
  // accepted: only Redis knows, and its answer (the original order) comes
  // before any refusal, so such a request never takes the memory shortcut.
  if (command.idempotencyKey === undefined) {
    const cached = deps.soldOut?.refusal(command.saleId);
    if (cached !== undefined) {
      throw new PurchaseRefusedError(cached, undefined, true);
    }
  }

  const nowMs = deps.now();
  const orderId = newOrderId(command.saleId, deps.uuid());
  let outcome: ReserveOutcome;
  try {
    outcome = await deps.reservations.reserve({
      saleId: command.saleId,
      userId: command.userId,
      quantity: command.quantity,
      nowMs,
      orderId,
      idempotencyKey: command.idempotencyKey,
    });
  } catch (redisError) {
    // Redis failed (timeout, failover) and the script may still have run: give
    // back whatever this request may have reserved (a no-op if nothing was),
    // and tell the buyer to retry, rather than answer 500.
    await releaseAfterFailure(deps, command, orderId, redisError);
    throw new ServiceUnavailableError(
      "The sale could not be reached; please retry",
      QUEUE_RETRY_AFTER_SECONDS,
    );
  }

  if (outcome.kind === "not_found") throw new SaleNotFoundError(command.saleId);
  if (outcome.kind === "rate_limited") {
    throw new RateLimitedError(Math.max(1, Math.ceil(outcome.retryAfterMs / 1000)));
  }
  if (outcome.kind === "refused") {
    if (outcome.reason === "SOLD_OUT" || outcome.reason === "SALE_ENDED") {
      deps.soldOut?.remember(command.saleId, outcome.reason, outcome.version);
    }
    throw new PurchaseRefusedError(outcome.reason, undefined, outcome.uncounted === true);
  }
  deps.soldOut?.observe(command.saleId, outcome.version);
  // A replay was enqueued by the original request; sending again would only add a duplicate.
  if (outcome.replayed) {
    return { orderId: outcome.orderId, remaining: outcome.remaining, replayed: true };
  }

  try {
    await deps.queue.send({
      orderId: outcome.orderId,
      saleId: command.saleId,
      userId: command.userId,
      quantity: command.quantity,
      reservedAtMs: nowMs,
      ...(outcome.hold && { hold: outcome.hold }),
    });
  } catch (sendError) {
    const released = await releaseAfterFailure(deps, command, outcome.orderId, sendError);
    // A send that timed out may still have been delivered; if the consumer has
    // already confirmed the order, it is accepted and must be reported so.
    if (released === "confirmed") {
      return { orderId: outcome.orderId, remaining: outcome.remaining, replayed: false };
    }
    throw new ServiceUnavailableError(
      "The order could not be queued; nothing was reserved, please retry",
      QUEUE_RETRY_AFTER_SECONDS,
    );
  }
  return { orderId: outcome.orderId, remaining: outcome.remaining, replayed: false };
}

async function releaseAfterFailure(
  deps: PurchaseDeps,
  { saleId, userId }: BuyCommand,
  orderId: string,
  sendError: unknown,
): Promise<ReleaseOutcome | "release_failed"> {
  try {
    const released = await deps.reservations.release(saleId, orderId, userId);
    deps.metrics?.count("BuyReleasedAfterFailedSend");
    deps.logger.warn("buy failed after its reservation; reservation released", {
      orderId,
      saleId,
      released,
      error: sendError instanceof Error ? sendError.message : String(sendError),
    });
    return released;
  } catch (releaseError) {
    // The unit stays reserved with no message: reconcile reports it as a stale
    // reservation and --repair persists it (the order's data is all in Redis).
    deps.logger.error("buy failed and the release failed too", {
      orderId,
      saleId,
      sendError: sendError instanceof Error ? sendError.message : String(sendError),
      releaseError: releaseError instanceof Error ? releaseError.message : String(releaseError),
    });
    return "release_failed";
  }
}
