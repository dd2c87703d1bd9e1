/**
 * Every answer the API gives other than a success, in one table: its code
 * (what clients see in `{ "error": { "code" } }`), its HTTP status, its
 * default message, and who counts it in the sale's live counters. The domain
 * errors (errors.ts), the HTTP mapping (lambdas/http/error-mapping.ts), the
 * counters (stats-counters.ts) and the refusal codes of the reserve script
 * (lambdas/adapters/redis/scripts.ts) are all derived from it.
 *
 * `counter`: the field of `{sale:<id>}:stats` the outcome increments
 * (`refused:<code>` for every refusal).
 * `countedBy`: "reserve-script" when lua/reserve-8.lua counts it in the same
 * call that decides it; "buy-container" when the buy container does (it
 * answered without Redis, or after Redis); absent when it is not counted.
 */
export interface OutcomeSpec {
  status: number;
  message: string;
  /** A refusal of a buy by the sale's rules (409): the reasons a client can act on. */
  refusal?: true;
  /** A refusal of a draw entry by the draw's rules (409), counted as `refused:<code>` by lua/enter-4.lua. */
  entryRefusal?: true;
  counter?: string;
  countedBy?: "reserve-script" | "buy-container";
}

/** A refusal by the sale's rules: 409, counted as `refused:<code>` by the reserve script. */
const refusal = (message: string) =>
  ({ status: 409, message, refusal: true, countedBy: "reserve-script" }) as const;

/** A refusal of an entry by the draw's rules: 409, counted as `refused:<code>` by the enter script. */
const entryRefusal = (message: string) => ({ status: 409, message, entryRefusal: true }) as const;

export const OUTCOMES = {
  INVALID_REQUEST: { status: 400, message: "The request is invalid" },
  MALFORMED_JSON: { status: 400, message: "Request body is not valid JSON" },
  UNAUTHORIZED: { status: 401, message: "A valid bearer token is required" },
  INVALID_IDENTITY: { status: 401, message: "The token's sub claim is not a usable buyer id" },
  FORBIDDEN: { status: 403, message: "This operation requires a scope the token lacks" },
  /** The edge's origin header is missing or wrong: the request came around CloudFront and WAF. */
  ORIGIN_NOT_ALLOWED: {
    status: 403,
    message: "Requests must come through the API's public endpoint",
  },
  SALE_NOT_FOUND: { status: 404, message: "The sale does not exist" },
  ORDER_NOT_FOUND: { status: 404, message: "The order does not exist" },
  NOT_FOUND: { status: 404, message: "Not found" },
  SOLD_OUT: refusal("The sale is sold out"),
  LIMIT_REACHED: refusal("This buyer has reached the per-user limit for the sale"),
  INSUFFICIENT_STOCK: refusal("Not enough units left for the quantity requested"),
  SALE_NOT_OPEN: refusal("The sale has not started yet"),
  SALE_ENDED: refusal("The sale has ended"),
  // 409, not 503: a pause is the sale's state, chosen by an operator, not a fault. A 503 would
  // be retried automatically by clients and SDKs (a retry storm for the length of the pause)
  // and would count as server errors in the 5xx alarm; the buyer reads GET /sales/{id} (paused).
  SALE_PAUSED: refusal("The sale is paused by its operator; try again later"),
  DRAW_SALE: refusal(
    "This sale is a draw: enter it with POST /sales/{saleId}/entries; winners are drawn at the close of entries",
  ),
  ENTRIES_NOT_OPEN: entryRefusal("The draw's entry window has not opened yet"),
  ENTRIES_CLOSED: entryRefusal("The draw's entry window is closed"),
  ENTRY_ABOVE_LIMIT: entryRefusal("The quantity is above the sale's per-user limit"),
  NOT_A_DRAW: entryRefusal("This sale is not a draw: buy it with POST /sales/{saleId}/buy"),
  ENTRY_NOT_FOUND: { status: 404, message: "This buyer has not entered the draw" },
  DRAW_NOT_FOUND: { status: 404, message: "The sale is not a draw" },
  DRAW_NOT_DRAWN: {
    status: 409,
    message: "The draw has not run yet; its entries are published when it has",
  },
  MODE_IMMUTABLE: {
    status: 409,
    message: "A sale's mode (first_come or draw) is fixed at creation",
  },
  STOCK_BELOW_SOLD: { status: 409, message: "Stock cannot go below the units already sold" },
  SHARDS_IMMUTABLE: { status: 409, message: "The shard count is fixed at creation" },
  HOLD_ON_SHARDED_SALE: {
    status: 409,
    message: "This sale is sharded, and a sale with a hold cannot be",
  },
  PAYMENT_SIGNATURE_INVALID: {
    status: 400,
    message: "The webhook's signature is missing or does not verify",
  },
  PAYMENT_EVENT_INVALID: {
    status: 400,
    message: "The payment event carries no usable order id, amount or currency",
  },
  ORDER_NOT_PAYABLE: { status: 409, message: "The order is not held for payment" },
  PAYMENT_MISMATCH: {
    status: 409,
    message: "The payment's amount or currency differ from what the order owes; recorded",
  },
  PAYMENT_SALE_MISMATCH: {
    status: 409,
    message: "The payment names another sale than the order's",
  },
  PAYLOAD_TOO_LARGE: { status: 413, message: "Request body is too large" },
  RATE_LIMITED: {
    status: 429,
    message: "Too many buy requests",
    counter: "rate_limited",
    countedBy: "reserve-script",
  },
  SERVICE_UNAVAILABLE: {
    status: 503,
    message: "A dependency is unavailable; please retry",
    counter: "errors:SERVICE_UNAVAILABLE",
    countedBy: "buy-container",
  },
  INTERNAL_ERROR: { status: 500, message: "Something went wrong; the request was not completed" },
} as const satisfies Record<string, OutcomeSpec>;

export type OutcomeCode = keyof typeof OUTCOMES;

/** Why a buy was refused by the sale's rules; the same names reach the client as error codes. */
export type RefusalReason = {
  [Code in OutcomeCode]: (typeof OUTCOMES)[Code] extends { refusal: true } ? Code : never;
}[OutcomeCode];

export const REFUSAL_REASONS = (Object.keys(OUTCOMES) as OutcomeCode[]).filter(
  (code): code is RefusalReason => (OUTCOMES[code] as OutcomeSpec).refusal === true,
);

/** Why an entry was refused by the draw's rules; the same names reach the client as error codes. */
export type EntryRefusalReason = {
  [Code in OutcomeCode]: (typeof OUTCOMES)[Code] extends { entryRefusal: true } ? Code : never;
}[OutcomeCode];

export const ENTRY_REFUSAL_REASONS = (Object.keys(OUTCOMES) as OutcomeCode[]).filter(
  (code): code is EntryRefusalReason => (OUTCOMES[code] as OutcomeSpec).entryRefusal === true,
);

/** The live-counter field of an outcome, if it is counted. */
export function counterOf(code: OutcomeCode): string | undefined {
  const spec: OutcomeSpec = OUTCOMES[code];
  return spec.refusal || spec.entryRefusal ? `refused:${code}` : spec.counter;
}
