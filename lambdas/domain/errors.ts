import {
  type EntryRefusalReason,
  OUTCOMES,
  type OutcomeCode,
  type RefusalReason,
} from "./outcomes.js";

/**
 * Domain errors: each is one row of the outcomes table (outcomes.ts) and
 * carries its code and HTTP status from there, as Powertools' and middy's
 * HTTP errors carry theirs. lambdas/http renders them in one place.
 */
export abstract class DomainError extends Error {
  abstract readonly code: OutcomeCode;

  constructor(message: string) {
    // A domain error is an answer, not a fault: nobody reads its stack, and
    // capturing one was 6% of a sold-out refusal's CPU. V8 reads the limit
    // when the error is created.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }

  get status(): number {
    return OUTCOMES[this.code].status;
  }
}

export type { RefusalReason };

export class SaleNotFoundError extends DomainError {
  readonly code = "SALE_NOT_FOUND";
  constructor(readonly saleId: string) {
    super(`Sale ${saleId} does not exist`);
  }
}

export class OrderNotFoundError extends DomainError {
  readonly code = "ORDER_NOT_FOUND";
  constructor(readonly orderId: string) {
    super(`Order ${orderId} does not exist`);
  }
}

/** A path under /dashboard/ that names none of the page's files. */
export class DashboardFileNotFoundError extends DomainError {
  readonly code = "NOT_FOUND";
  constructor(readonly file: string) {
    super(`The dashboard has no file ${file}`);
  }
}

export class PurchaseRefusedError extends DomainError {
  constructor(
    readonly code: RefusalReason,
    message: string = OUTCOMES[code].message,
    /** Not counted by the sale store in the live counters (answered from memory, or after a shard sweep). */
    readonly uncounted = false,
  ) {
    super(message);
  }
}

export class InvalidRequestError extends DomainError {
  readonly code = "INVALID_REQUEST";
}

export class MalformedJsonError extends DomainError {
  readonly code = "MALFORMED_JSON";
  constructor() {
    super(OUTCOMES.MALFORMED_JSON.message);
  }
}

export class PayloadTooLargeError extends DomainError {
  readonly code = "PAYLOAD_TOO_LARGE";
  constructor(readonly limitBytes: number) {
    super(`Request body exceeds ${limitBytes} bytes`);
  }
}

export class UnauthorizedError extends DomainError {
  readonly code = "UNAUTHORIZED";
  constructor() {
    super(OUTCOMES.UNAUTHORIZED.message);
  }
}

/** A verified token whose `sub` cannot be a buyer id (see buyer-id.ts): refused before any state changes. */
export class InvalidIdentityError extends DomainError {
  readonly code = "INVALID_IDENTITY";
  constructor(problem: string) {
    super(`The token's sub claim ${problem}`);
  }
}

export class ForbiddenError extends DomainError {
  readonly code = "FORBIDDEN";
  constructor(scope: string) {
    super(`This operation requires the ${scope} scope`);
  }
}

/** An HTTP request without the edge's origin header (lib/constructs/edge.ts). */
export class OriginNotAllowedError extends DomainError {
  readonly code = "ORIGIN_NOT_ALLOWED";
  constructor() {
    super(OUTCOMES.ORIGIN_NOT_ALLOWED.message);
  }
}

export class StockBelowSoldError extends DomainError {
  readonly code = "STOCK_BELOW_SOLD";
  constructor(
    readonly saleId: string,
    readonly sold: number,
  ) {
    super(`Sale ${saleId} has already sold ${sold} units; stock cannot go below that`);
  }
}

export class ShardsImmutableError extends DomainError {
  readonly code = "SHARDS_IMMUTABLE";
  constructor(
    readonly saleId: string,
    readonly shards: number,
  ) {
    super(`Sale ${saleId} has ${shards} stock shard(s); the shard count is fixed at creation`);
  }
}

/** An update gives a hold to a sale created with more than one stock shard. */
export class HoldOnShardedSaleError extends DomainError {
  readonly code = "HOLD_ON_SHARDED_SALE";
  constructor(
    readonly saleId: string,
    readonly shards: number,
  ) {
    super(
      `Sale ${saleId} has ${shards} stock shards; a sale with a hold cannot be sharded (holds need one shard)`,
    );
  }
}

/** Errors that tell the client when to try again (the Retry-After header). */
export interface RetryableError {
  readonly retryAfterSeconds: number;
}

export class RateLimitedError extends DomainError implements RetryableError {
  readonly code = "RATE_LIMITED";
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many buy requests; retry in ${retryAfterSeconds} s`);
  }
}

/** A dependency (queue, cache, database) is down; the client may retry after a pause. */
export class ServiceUnavailableError extends DomainError implements RetryableError {
  readonly code = "SERVICE_UNAVAILABLE";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}

/** The payment webhook's signature is missing, malformed, stale or wrong. */
export class PaymentSignatureError extends DomainError {
  readonly code = "PAYMENT_SIGNATURE_INVALID";
}

/** A verified payment event that names no usable order, amount or currency. */
export class PaymentEventInvalidError extends DomainError {
  readonly code = "PAYMENT_EVENT_INVALID";
}

/** A payment for an order that was never held for payment. */
export class OrderNotPayableError extends DomainError {
  readonly code = "ORDER_NOT_PAYABLE";
  constructor(readonly orderId: string) {
    super(`Order ${orderId} is not held for payment`);
  }
}

/** A payment whose amount or currency differ from what its order owes (recorded for reconcile). */
export class PaymentMismatchError extends DomainError {
  readonly code = "PAYMENT_MISMATCH";
  constructor(readonly orderId: string) {
    super(`The payment for order ${orderId} does not match the amount and currency due; recorded`);
  }
}

/** A payment event that names a sale other than its order's. */
export class PaymentSaleMismatchError extends DomainError {
  readonly code = "PAYMENT_SALE_MISMATCH";
  constructor(readonly orderId: string) {
    super(`The payment for order ${orderId} names another sale`);
  }
}

/** An entry refused by the draw's rules (window, limit, not a draw). */
export class EntryRefusedError extends DomainError {
  constructor(readonly code: EntryRefusalReason) {
    super(OUTCOMES[code].message);
  }
}

export class EntryNotFoundError extends DomainError {
  readonly code = "ENTRY_NOT_FOUND";
  constructor(readonly saleId: string) {
    super(`This buyer has no entry in the draw of sale ${saleId}`);
  }
}

/** GET /sales/{saleId}/draw of a sale that is not a draw. */
export class DrawNotFoundError extends DomainError {
  readonly code = "DRAW_NOT_FOUND";
  constructor(readonly saleId: string) {
    super(`Sale ${saleId} is not a draw`);
  }
}

/** The draw's entry list is asked for before the draw has run. */
export class DrawNotDrawnError extends DomainError {
  readonly code = "DRAW_NOT_DRAWN";
  constructor(readonly saleId: string) {
    super(`The draw of sale ${saleId} has not run yet; its entries are published when it has`);
  }
}

export class ModeImmutableError extends DomainError {
  readonly code = "MODE_IMMUTABLE";
  constructor(
    readonly saleId: string,
    readonly mode: string,
  ) {
    super(`Sale ${saleId} is a ${mode} sale; a sale's mode is fixed at creation`);
  }
}
