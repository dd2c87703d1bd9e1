import type { IntegrationEvent } from "./integration-events.js";
import type { HoldTerms, Order, OrderEvent, OrderRecord, OrderRow } from "./order.js";
import type { EntryRefusalReason, RefusalReason } from "./outcomes.js";
import type { Money, Sale } from "./sale.js";
import type { RawCounters } from "./stats-counters.js";

/**
 * What the use cases need from the outside world, and nothing about how it is
 * done. lambdas/adapters implements each port (Redis, Postgres, SQS); the
 * handlers, the local host, the scripts and the tests wire them in.
 */

/** The structured logger the use cases write to (Powertools' Logger in the functions). */
export interface Logger {
  debug(message: string, ...extra: Array<Record<string, unknown>>): void;
  info(message: string, ...extra: Array<Record<string, unknown>>): void;
  warn(message: string, ...extra: Array<Record<string, unknown>>): void;
  error(message: string, ...extra: Array<Record<string, unknown>>): void;
}

/**
 * Counters for operators (CloudWatch metrics through Powertools' EMF in the functions: a log
 * line, no call). `name` is one of METRIC_NAMES (lambdas/adapters/metrics/emf-metrics.ts).
 */
export interface MetricsSink {
  count(name: string, value?: number): void;
}

// --- the sale store: sales, reservations and orders (Redis, through the Lua scripts)

export interface ReserveRequest {
  saleId: string;
  userId: string;
  quantity: number;
  nowMs: number;
  orderId: string;
  idempotencyKey: string | undefined;
}

export type ReserveOutcome =
  | {
      kind: "accepted";
      orderId: string;
      remaining: number;
      version: number;
      replayed: boolean;
      /** A new hold (sale with holdSeconds): when it ends and what is due. */
      hold?: HoldTerms;
    }
  | {
      kind: "refused";
      reason: RefusalReason;
      remaining: number;
      version: number;
      /** Not counted in the sale's live counters by the store (the caller must count it). */
      uncounted?: boolean;
    }
  | { kind: "rate_limited"; retryAfterMs: number }
  | { kind: "not_found" };

export type ReleaseOutcome = "released" | "already_released" | "unknown_order" | "confirmed";

export interface ConfirmRequest extends Order {
  nowMs: number;
  /**
   * Where the order's data comes from: a queue message (checked against the
   * sale before an order the store lost is restored) or a persisted row (the
   * truth: its units are sold, and restoring it counts them whatever the stock).
   */
  source: "message" | "row";
}

export type ConfirmOutcome =
  | "confirmed"
  | "already_confirmed"
  | "restored"
  | "restored_oversold"
  | "released"
  | "sale_unknown"
  | "mismatch"
  | "restore_rejected";

/** Why the store refused to restore an order from its message. */
export type RestoreRejection = "OVER_LIMIT" | "OVER_STOCK";

/** An order the consumer could not restore, kept for reconcile. */
export interface RejectedRestore extends Order {
  reason: RestoreRejection;
  atMs: number;
}

export interface SaleDefinition {
  id: string;
  name: string;
  stock: number;
  perUserLimit: number;
  startsAtMs: number;
  endsAtMs: number;
  /** Buy requests per buyer: burst, then perSecond; burst 0 turns the limit off. Defaults apply when absent. */
  rateLimit?: { burst: number; perSecond: number };
  /** Stock shards, fixed when the sale is created (default 1). */
  shards?: number;
  /** Price of one unit. Required with a hold. */
  price?: Money;
  /** Seconds a buyer has to pay (0 or absent: no hold). Only for unsharded sales. */
  holdSeconds?: number;
  /** A draw (docs/draws.md): its entry window; absent for a first-come sale. */
  draw?: { entriesOpenAtMs: number; entriesCloseAtMs: number };
}

/** A draw's secrets, picked once when the sale is created (lambdas/domain/draw.ts). */
export interface DrawSecrets {
  seed: Buffer;
  salt: Buffer;
  commitment: string;
}

export type UpsertSaleOutcome =
  | { kind: "created" | "updated"; remaining: number; version: number }
  | { kind: "stock_below_sold"; sold: number }
  | { kind: "shards_immutable"; shards: number }
  | { kind: "hold_on_sharded"; shards: number }
  | { kind: "mode_immutable"; mode: "first_come" | "draw" };

export interface SaleStore {
  reserve(request: ReserveRequest): Promise<ReserveOutcome>;
  release(saleId: string, orderId: string, userId: string): Promise<ReleaseOutcome>;
  confirm(request: ConfirmRequest): Promise<ConfirmOutcome>;
  getSale(saleId: string, nowMs: number): Promise<Sale | null>;
  /** `secrets`: a draw's seed and salt, used only if this call creates the sale. */
  upsertSale(
    sale: SaleDefinition,
    nowMs: number,
    secrets?: DrawSecrets,
  ): Promise<UpsertSaleOutcome>;
  /** An order of `userId` (null when the store has none). */
  getOrder(saleId: string, orderId: string, userId: string): Promise<OrderRecord | null>;
  listOrders(saleId: string): Promise<OrderRecord[]>;
  listRejectedRestores(saleId: string): Promise<RejectedRestore[]>;
}

// --- holds and payments (Redis, through lua/pay-7.lua and lua/expire-holds-6.lua)

export interface PaymentRequest {
  orderId: string;
  saleId: string;
  amount: number;
  currency: string;
  /** The provider's reference for the payment (e.g. the payment intent id). */
  reference: string;
  nowMs: number;
}

export type PayOutcome =
  | "paid"
  | "already_paid"
  | "refund_due"
  | "already_refund_due"
  | "unknown_order"
  | "not_payable"
  | "mismatch";

/** A payment that did not match its order, kept for reconcile. */
export interface PaymentAnomaly {
  orderId: string;
  reason: "AMOUNT_MISMATCH";
  atMs: number;
  received: Money;
  due: Money;
  reference: string;
}

export interface HoldLedger {
  /** Records a payment for a held order; exactly one of pay and expiry wins. */
  pay(request: PaymentRequest): Promise<PayOutcome>;
  /**
   * Expires up to `limit` holds of the sale that are due. `oldestDueAtMs`: the
   * oldest that was due when the call began (null: none); `more`: some are still due.
   */
  expireDue(
    saleId: string,
    nowMs: number,
    limit: number,
  ): Promise<{ due: number; oldestDueAtMs: number | null; more: boolean }>;
  /** The sales that have (or had) a hold. */
  salesWithHolds(): Promise<string[]>;
  /**
   * Hands the sale's history events (expired, paid, refund_due) to `deliver`,
   * oldest first, and drops them only once it has resolved; at most one drain
   * per sale at a time. Returns how many were delivered.
   */
  drainEvents(saleId: string, deliver: (events: OrderEvent[]) => Promise<void>): Promise<number>;
  anomalies(saleId: string): Promise<PaymentAnomaly[]>;
}

/**
 * A payment provider's webhook, verified: the raw body and its signature
 * header in, a typed event out (or PaymentSignatureError). The Stripe adapter
 * is lambdas/adapters/payments/stripe.ts.
 */
export interface PaymentProvider {
  verify(rawBody: string, signature: string | undefined): PaymentEvent;
}

export type PaymentEvent =
  | {
      kind: "payment_succeeded";
      /** The provider's event id (a redelivery has the same one). */
      eventId: string;
      /** The order id the storefront put in the payment's metadata; absent when it did not. */
      orderId: string | undefined;
      /** The sale id, when the metadata names one too. */
      saleId: string | undefined;
      amount: number;
      currency: string;
      /** The provider's payment reference (payment intent id). */
      reference: string;
    }
  /** An event of a kind this system does not act on (answered 2xx so the provider stops sending it). */
  | { kind: "ignored"; eventId: string; type: string };

/** Where the history events go on their way to Postgres (the orders queue). */
export interface OrderEventQueue {
  sendEvents(events: OrderEvent[]): Promise<void>;
}

// --- order rows (Postgres)

export interface InsertResult {
  /** Ids that are rows now and were not before. */
  inserted: string[];
  /** Orders the database refused for their own data, each with its error; the others are unaffected. */
  refused: Array<{ order: Order; error: Error }>;
}

export interface OrderRows {
  /** Inserts idempotently on order id; a row refused for its own data fails alone, an outage throws. */
  insert(orders: Order[]): Promise<InsertResult>;
  find(orderId: string): Promise<OrderRow | null>;
  ofSale(saleId: string): Promise<OrderRow[]>;
  countOfSale(saleId: string): Promise<{ rows: number; units: number }>;
  /** Records history events idempotently (one per order and kind); an outage throws. */
  recordEvents(events: OrderEvent[]): Promise<void>;
  /** The order's history, oldest first. */
  eventsOf(orderId: string): Promise<OrderEvent[]>;
  /** Refunds due of a sale: late payments of expired holds. */
  refundsDue(saleId: string): Promise<OrderEvent[]>;
}

// --- the orders queue and its dead-letter queue (SQS)

export interface OrderQueue {
  send(order: Order): Promise<void>;
}

export interface QueueDepths {
  orders: number;
  dlq: number;
}

/** Messages visible plus in flight, per queue. */
export type QueueDepthsProbe = () => Promise<QueueDepths>;

// --- live counters and the dashboard's lists (Redis, outside the buy path's scripts)

/** The buy container's share of the live counters: what the store did not count itself. */
export interface BuyCounters {
  count(saleId: string, field: string, by?: number): void;
}

/** A snapshot of a sale's cumulative counters, kept briefly so rates can be computed. */
export interface CounterSnapshot {
  at: number;
  counters: RawCounters;
  persistedUnits: number | null;
}

export interface SaleCounters {
  /** The sale and its raw counters, read atomically per shard; null for an unknown sale. */
  read(saleId: string, nowMs: number): Promise<{ sale: Sale; counters: RawCounters } | null>;
  /** The newest snapshot taken at or before `atOrBeforeMs`, if the history has one. */
  baseline(saleId: string, atOrBeforeMs: number): Promise<CounterSnapshot | null>;
  record(saleId: string, snapshot: CounterSnapshot): Promise<void>;
}

export interface RecentSalesIndex {
  remember(saleId: string, nowMs: number): Promise<void>;
  /** The newest `limit` sale ids, newest first, with when each was first recorded. */
  newest(limit: number): Promise<Array<{ id: string; createdAtMs: number }>>;
}

// --- integration events (EventBridge in AWS, a file locally; docs/events.md)

/**
 * Where the integration events go. Resolves when every event was accepted;
 * otherwise rejects (EventsNotPublishedError names the events that were not,
 * after the publisher's own retry). Callers never let that fail their work
 * (publishQuietly in integration-events.ts).
 */
export interface EventPublisher {
  publish(events: IntegrationEvent[]): Promise<void>;
}

/**
 * Which sale events were sent (Redis keys with a TTL), so each goes out once:
 * claim before the publish, mark after it, release when it failed. A run that
 * dies between claim and mark leaves a claim that expires: the event is sent
 * again by a later run (a duplicate at worst, never lost).
 */
export interface EventLedger {
  /** True when this run may send the event: not sent yet and nobody holds a claim on it. */
  claim(eventId: string, claimMs: number): Promise<boolean>;
  /** Records the event as sent, for `keepMs`. */
  markSent(eventId: string, keepMs: number): Promise<void>;
  /** Drops this run's claim (its publish failed), so the next run tries again. */
  release(eventId: string): Promise<void>;
}

// --- draws (docs/draws.md): entries and the drawn order in Redis, the entries' rows and the record in Postgres

/** An accepted entry, as the enter script recorded it and its message carries it. */
export interface DrawEntryRecord {
  saleId: string;
  userId: string;
  entryId: string;
  quantity: number;
  enteredAtMs: number;
}

export interface EnterRequest {
  saleId: string;
  userId: string;
  quantity: number;
  nowMs: number;
  entryId: string;
}

export type EnterOutcome =
  | { kind: "entered" | "replayed"; entry: DrawEntryRecord }
  | { kind: "refused"; reason: EntryRefusalReason | "SALE_PAUSED" }
  | { kind: "rate_limited"; retryAfterMs: number }
  | { kind: "not_found" };

/** A draw's state as its sale hash holds it. */
export interface DrawSale {
  saleId: string;
  state: "open" | "frozen" | "drawn";
  entriesOpenAtMs: number;
  entriesCloseAtMs: number;
  commitment: string;
  entries: number;
  stock: number;
  remaining: number;
  held: number;
  paid: number;
  expiredUnits: number;
  frozenAtMs?: number;
  drawnAtMs?: number;
  /** Positions of the drawn order the award walk has passed, and how many there are. */
  cursor?: number;
  positions?: number;
  winners?: number;
}

/** A held order the award walk made for an entry at `position` of the drawn order. */
export interface DrawAward {
  orderId: string;
  userId: string;
  quantity: number;
  position: number;
  reservedAtMs: number;
  hold: HoldTerms;
}

export interface DrawStore {
  enter(request: EnterRequest): Promise<EnterOutcome>;
  /** Takes back an entry whose message was not sent; "kept" once the entries are frozen. */
  leave(
    saleId: string,
    userId: string,
    entryId: string,
  ): Promise<"taken_back" | "kept" | "unknown_entry">;
  drawSale(saleId: string): Promise<DrawSale | null>;
  /** The buyer's entry and, once awarded, the held order it was given. */
  entryOf(
    saleId: string,
    userId: string,
  ): Promise<{ entry: DrawEntryRecord | null; award: OrderRecord | null }>;
  secrets(saleId: string): Promise<{ seed: Buffer; salt: Buffer } | null>;
  freeze(
    saleId: string,
    nowMs: number,
    early: boolean,
  ): Promise<"frozen" | "already_frozen" | "not_a_draw" | "still_open">;
  /** Every entry Redis holds, a page at a time. */
  scanEntries(saleId: string): AsyncIterable<DrawEntryRecord[]>;
  /** Writes the drawn order ("quantity\tuserId" per position) and installs it, once. */
  install(
    saleId: string,
    drawn: Iterable<string>,
    result: {
      drawnAtMs: number;
      digest: string;
      entries: number;
      winners: number;
      lastWinner: number;
    },
  ): Promise<"installed" | "already_drawn" | "not_frozen" | "incomplete">;
  /** One step of the award walk: at most `uuids.length` awards over at most `maxPositions` positions. */
  award(
    saleId: string,
    nowMs: number,
    maxPositions: number,
    uuids: string[],
  ): Promise<{ awards: DrawAward[]; cursor: number; positions: number; remaining: number }>;
  drawSaleIds(): Promise<string[]>;
  /** Takes a finished draw off the runner's work list. */
  forget(saleId: string): Promise<void>;
  /** A per-sale lock for the draw step (null: another runner holds it). */
  lock(saleId: string, ttlMs: number): Promise<string | null>;
  unlock(saleId: string, token: string): Promise<void>;
}

/** What a draw recorded, once and for good: the seed it revealed, the list it drew from, its winners. */
export interface DrawRecord {
  saleId: string;
  procedure: string;
  seed: Buffer;
  digest: string;
  entries: number;
  stock: number;
  winners: Array<{ position: number; hash: string; quantity: number }>;
  drawnAtMs: number;
}

export interface DrawRows {
  /**
   * Writes entries' rows (a duplicate is a no-op). Once the sale's draw is
   * recorded its rows are the drawn list: a row of a drawn entry is there
   * already (a duplicate), and one the draw did not see is not written but
   * comes back in `late`.
   */
  insertEntries(entries: DrawEntryRecord[]): Promise<{ inserted: number; late: DrawEntryRecord[] }>;
  /**
   * The draw, once per sale: under a lock that holds off entry inserts, reads
   * the sale's entry rows and, if no draw is recorded yet, records the one
   * `compute` makes from them, and in the same transaction writes the rows of
   * the drawn entries it took from Redis: `missingRows` (no row yet) and
   * `changedRows` (a row with other values), so the rows are then exactly the
   * drawn list. Returns the record (new or earlier), its packed entry list
   * and the rows it read (buyer and quantity only: no entry id or time).
   */
  drawOnce(
    saleId: string,
    compute: (rows: DrawEntryRecord[]) => {
      record: DrawRecord;
      packed: Buffer;
      missingRows: DrawEntryRecord[];
      changedRows: DrawEntryRecord[];
    },
  ): Promise<{ record: DrawRecord; packed: Buffer; rows: DrawEntryRecord[]; created: boolean }>;
  record(saleId: string): Promise<DrawRecord | null>;
  /** Bytes [offset, offset + length) of the recorded packed entry list (null: no draw). */
  packedSlice(saleId: string, offset: number, length: number): Promise<Buffer | null>;
}

/** Entries travel on the orders queue to the consumer, which writes their rows. */
export interface EntryQueue {
  sendEntry(entry: DrawEntryRecord): Promise<void>;
}
