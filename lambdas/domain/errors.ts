/**
 * Domain errors. Each carries a stable machine-readable code; lambdas/http
 * maps them to HTTP statuses in one place.
 */
export abstract class DomainError extends Error {
  abstract readonly code: string;

  constructor(message: string) {
    // A domain error is an answer, not a fault: nobody reads its stack, and
    // capturing one was 6% of a sold-out refusal's CPU. V8 reads the limit
    // when the error is created.
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 0;
    super(message);
    Error.stackTraceLimit = limit;
  }
}

/** Why a buy was refused; the same names reach the client as error codes. */
export type RefusalReason =
  | "SALE_NOT_OPEN"
  | "SALE_ENDED"
  | "SOLD_OUT"
  | "INSUFFICIENT_STOCK"
  | "LIMIT_REACHED";

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
    message: string,
    /** Not counted by Redis in the sale's live counters (answered from memory, or after a shard sweep). */
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
    super("Request body is not valid JSON");
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
    super("A valid bearer token is required");
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

export class RateLimitedError extends DomainError {
  readonly code = "RATE_LIMITED";
  constructor(readonly retryAfterSeconds: number) {
    super(`Too many buy requests; retry in ${retryAfterSeconds} s`);
  }
}

/** A dependency (queue, cache) is down; the client may retry after a pause. */
export class ServiceUnavailableError extends DomainError {
  readonly code = "SERVICE_UNAVAILABLE";
  constructor(
    message: string,
    readonly retryAfterSeconds: number,
  ) {
    super(message);
  }
}
