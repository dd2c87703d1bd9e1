import * as z from "zod";
import type { RedriveResult } from "../adapters/sqs/redrive.js";
import type { OrderView } from "../domain/order-status.js";
import { type OutcomeCode, REFUSAL_REASONS, type RefusalReason } from "../domain/outcomes.js";
import type { PaymentReceipt } from "../domain/payments.js";
import type { ReconcileReport } from "../domain/reconcile.js";
import { MAX_SHARDS, type Sale } from "../domain/sale.js";
import type { RecentSale, SaleStatsView } from "../domain/sale-stats-view.js";

/**
 * The API's response bodies as zod schemas, for the OpenAPI document only
 * (lambdas/openapi/document.ts): no handler imports this file, so none of
 * it reaches a hot-path bundle. Each schema is checked at compile time to be
 * exactly the TypeScript type the handler returns (see `Same` at the end), so
 * the two cannot drift: a field added to a type and not here fails
 * `npm run typecheck`.
 */

/** An instant as the API writes it (`Date.prototype.toISOString`). */
const isoInstant = z.string().meta({ format: "date-time", example: "2026-11-25T10:00:00.000Z" });

export const moneySchema = z
  .object({
    amount: z.number().int().min(0).meta({ description: "Minor units (cents).", example: 4999 }),
    currency: z.string().meta({ description: "ISO 4217, lower case.", example: "eur" }),
  })
  .meta({ id: "Money", description: "An amount of money in minor units." });

export const saleStatusSchema = z.enum(["scheduled", "open", "sold_out", "ended"]).meta({
  id: "SaleStatus",
  description:
    "Derived from the clock and the stock: `scheduled` before startsAt, `ended` from endsAt on, `sold_out` when nothing remains, else `open`.",
});

const hex64 = z.string().regex(/^[0-9a-f]{64}$/);
const drawStateSchema = z.enum(["open", "frozen", "drawn"]);

export const saleSchema = z
  .object({
    id: z.string().meta({ example: "black-friday-tv" }),
    name: z.string().meta({ example: "Black Friday TV" }),
    stock: z.number().int().min(0).meta({ description: "The sale's total units (not a delta)." }),
    remaining: z.number().int().meta({ description: "stock - sold." }),
    sold: z.number().int().min(0).meta({ description: "Units held by accepted orders." }),
    perUserLimit: z.number().int().min(1),
    startsAt: isoInstant.nullable().meta({ description: "Start of the window; null: open now." }),
    endsAt: isoInstant.nullable().meta({ description: "End of the window; null: no end." }),
    status: saleStatusSchema,
    rateLimit: z
      .object({ burst: z.number().int().min(0), perSecond: z.number().min(0) })
      .meta({ description: "Each buyer's token bucket for this sale (burst 0: no limit)." }),
    shards: z
      .number()
      .int()
      .min(1)
      .max(MAX_SHARDS)
      .meta({ description: "Stock shards (1 = unsharded)." }),
    price: moneySchema
      .optional()
      .meta({ description: "Price of one unit; absent when the sale has none." }),
    holdSeconds: z.number().int().min(1).max(3600).optional().meta({
      description:
        "Seconds a buyer has to pay before the units go back on sale; absent: no hold (an accepted buy is a sale).",
    }),
    held: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: "Sales with a hold: units held awaiting payment." }),
    paid: z
      .number()
      .int()
      .min(0)
      .optional()
      .meta({ description: "Sales with a hold: units paid (sold = held + paid)." }),
    expiredUnits: z.number().int().min(0).optional().meta({
      description:
        "Sales with a hold: units whose hold expired unpaid and went back on sale (cumulative).",
    }),
    paused: z.literal(true).optional().meta({
      description:
        "Present while an operator has paused buying: buys answer 409 SALE_PAUSED. Absent otherwise.",
    }),
    mode: z.literal("draw").optional().meta({
      description: "Present for a draw (docs/draws.md): buys answer 409 DRAW_SALE; enter instead.",
    }),
    draw: z
      .object({
        entriesOpenAt: isoInstant.nullable(),
        entriesCloseAt: isoInstant.nullable(),
        commitment: hex64.meta({
          description: "sha256 of the draw's secret seed, fixed at creation before any entry.",
        }),
        state: drawStateSchema,
        entries: z.number().int().min(0),
        winners: z.number().int().min(0).optional(),
        drawnAt: isoInstant.optional(),
      })
      .optional()
      .meta({ description: "A draw's public state; absent for a first-come sale." }),
  })
  .meta({ id: "Sale", description: "A sale's definition and live stock." });

export const entryAcceptedSchema = z
  .object({
    entryId: z.uuid(),
    quantity: z.number().int().min(1),
    enteredAt: isoInstant,
    status: z.literal("entered"),
  })
  .meta({
    id: "EntryAccepted",
    description: "The buyer's entry in a draw (the first one, on a repeat).",
  });

export const entryViewSchema = z
  .object({
    entryId: z.uuid(),
    quantity: z.number().int().min(1),
    enteredAt: isoInstant,
    entryHash: hex64.optional().meta({
      description:
        "This entry in the published list: HMAC-SHA256(salt, saleId NUL userId); find it with `verify-draw --hash`.",
    }),
    result: z.enum(["pending", "won", "waiting", "not_won"]).meta({
      description:
        "pending: not drawn yet; won: a held order was awarded (pay it before expiresAt); waiting: drawn, not reached yet, units may come back from unpaid winners; not_won: the draw is over for this entry.",
    }),
    order: z
      .object({
        orderId: z.string(),
        quantity: z.number().int().min(1),
        payment: z.string(),
        expiresAt: isoInstant,
        amountDue: z.number().int().min(0),
        currency: z.string(),
      })
      .optional(),
  })
  .meta({ id: "EntryView", description: "The caller's entry in a draw and its result." });

const drawWinnerSchema = z.object({
  position: z.number().int().min(0),
  hash: hex64,
  quantity: z.number().int().min(1),
});

export const publishedDrawSchema = z
  .object({
    saleId: z.string(),
    procedure: z.string().meta({ example: "flash-sale-draw/v1" }),
    state: drawStateSchema,
    commitment: hex64,
    entriesOpenAt: isoInstant.nullable(),
    entriesCloseAt: isoInstant.nullable(),
    entries: z.number().int().min(0),
    seed: hex64.optional().meta({ description: "The revealed seed, once drawn." }),
    drawnAt: isoInstant.nullable().optional(),
    entriesDigest: hex64.optional(),
    stock: z.number().int().min(0).optional(),
    pageSize: z.number().int().min(1).optional(),
    pages: z.number().int().min(1).optional(),
    winners: z.array(drawWinnerSchema).optional(),
    awarded: z
      .object({
        cursor: z.number().int().min(0),
        held: z.number().int().min(0),
        paid: z.number().int().min(0),
        expired: z.number().int().min(0),
        remaining: z.number().int(),
      })
      .optional(),
  })
  .meta({
    id: "PublishedDraw",
    description:
      "A draw's commitment and window; once drawn also its revealed seed, entry list digest and size, pages and winners: all that `npm run verify-draw` needs.",
  });

export const drawEntriesPageSchema = z
  .object({
    page: z.number().int().min(0),
    pages: z.number().int().min(1),
    entries: z.string().meta({
      description:
        "Base64 of this page's packed records: 32 hash bytes + uint16 big-endian quantity each, in the list's (hash) order.",
    }),
  })
  .meta({ id: "DrawEntriesPage" });

export const drawRequestedSchema = z
  .object({
    saleId: z.string(),
    state: drawStateSchema,
    entries: z.number().int().min(0),
    frozenAt: isoInstant.nullable(),
  })
  .meta({ id: "DrawRequested", description: "The entries are closed; the runner draws." });

export const buyAcceptedSchema = z
  .object({
    orderId: z.string().meta({
      description: "`<saleId>.<uuid>`; poll GET /orders/{orderId}.",
      example: "black-friday-tv.0b9f3a1e-7c2d-4f7e-9a55-2f1d0c3b4a5e",
    }),
    status: z.literal("pending"),
  })
  .meta({
    id: "BuyAccepted",
    description:
      "The unit is reserved and the order is queued: it becomes exactly one order row. The same Idempotency-Key answers the same order again.",
  });

export const orderViewSchema = z
  .object({
    orderId: z.string(),
    saleId: z.string(),
    quantity: z.number().int().min(1),
    status: z
      .enum(["pending", "confirmed", "awaiting_payment", "paid", "expired", "refund_due"])
      .meta({
        description:
          "Sales without a hold: `pending` while reserved and queued, `confirmed` once its row exists. Sales with a hold: `awaiting_payment` until `expiresAt`, then `paid` (the payment arrived in time) or `expired` (the units went back on sale); `refund_due` when a payment arrived after the hold ended (the order stays expired; the money is to be refunded).",
      }),
    reservedAt: isoInstant,
    confirmedAt: isoInstant
      .nullable()
      .meta({ description: "When its row was written; null before." }),
    expiresAt: isoInstant
      .optional()
      .meta({ description: "Sales with a hold: when the hold ends (or ended)." }),
    amountDue: moneySchema
      .optional()
      .meta({ description: "Sales with a hold: what the order costs." }),
    paidAt: isoInstant.optional(),
    expiredAt: isoInstant.optional(),
  })
  .meta({ id: "OrderView", description: "The caller's own order." });

export const paymentReceiptSchema = z
  .object({
    received: z.literal(true),
    eventId: z.string().meta({ description: "The provider's event id." }),
    orderId: z
      .string()
      .nullable()
      .meta({ description: "The order paid; null for an ignored event." }),
    result: z.enum(["paid", "refund_due", "ignored"]).meta({
      description:
        "`paid`: the order is sold. `refund_due`: the hold had ended, the order stays expired and the payment is recorded for a refund. `ignored`: an event type this system does not act on.",
    }),
    duplicate: z
      .boolean()
      .meta({ description: "The outcome was already recorded (a redelivery); nothing changed." }),
  })
  .meta({ id: "PaymentReceipt", description: "The webhook's acknowledgement to the provider." });

const queueDepthsSchema = z
  .object({ orders: z.number().int().min(0), dlq: z.number().int().min(0) })
  .meta({
    id: "QueueDepths",
    description: "Messages (visible plus in flight) in the orders queue and its DLQ.",
  });

export const reconcileReportSchema = z
  .object({
    saleId: z.string(),
    redis: z
      .object({
        stock: z.number().int(),
        remaining: z.number().int(),
        sold: z.number().int(),
        reserved: z.number().int(),
        confirmed: z.number().int(),
        released: z.number().int(),
        unitsHeld: z.number().int(),
        payments: z
          .object({
            held: z.number().int(),
            paid: z.number().int(),
            expired: z.number().int(),
            refundDue: z.number().int(),
            cancelled: z.number().int(),
          })
          .optional()
          .meta({ description: "Sales with a hold: orders by payment state." }),
      })
      .nullable()
      .meta({ description: "What Redis holds for the sale; null when Redis has no such sale." }),
    postgres: z.object({ rows: z.number().int(), units: z.number().int() }),
    queues: queueDepthsSchema,
    inFlight: z.number().int().min(0).meta({
      description:
        "Reservations without a row that may still be on their way (queue not empty, or younger than the grace period).",
    }),
    issues: z.array(
      z.object({
        kind: z.enum([
          "OVERSOLD",
          "SOLD_COUNT_MISMATCH",
          "ROW_WITHOUT_RESERVATION",
          "CONFIRMED_WITHOUT_ROW",
          "STALE_RESERVATION",
          "DLQ_NOT_EMPTY",
          "SALE_MISSING_IN_REDIS",
          "RESTORE_REJECTED",
          "UNPERSISTABLE_ORDER",
        ]),
        orderId: z.string().optional(),
        detail: z.string(),
        repaired: z.boolean(),
      }),
    ),
    refundsDue: z
      .array(
        z.object({
          orderId: z.string(),
          amount: z.number().int(),
          currency: z.string(),
          reference: z.string(),
        }),
      )
      .meta({
        description:
          "Payments that arrived after their hold ended: the order stayed expired; refund each through the provider.",
      }),
    paymentAnomalies: z
      .array(
        z.object({
          orderId: z.string(),
          reason: z.string(),
          at: z.string().meta({ description: "When the webhook refused it (ISO 8601)." }),
          received: z.object({ amount: z.number().int(), currency: z.string() }),
          due: z.object({ amount: z.number().int(), currency: z.string() }),
          reference: z.string(),
        }),
      )
      .meta({
        description:
          "Payments the webhook refused for a wrong amount or currency (409 PAYMENT_MISMATCH): the money reached the provider; refund or correct each.",
      }),
    clean: z.boolean().meta({ description: "True when nothing is wrong after any repairs." }),
  })
  .meta({
    id: "ReconcileReport",
    description: "Redis, Postgres and the queues compared for one sale, after any repairs.",
  });

export const redriveResultSchema = z
  .object({
    moved: z.number().int().min(0),
    failed: z.number().int().min(0),
    skipped: z.number().int().min(0).meta({
      description: "Messages left in the DLQ because they can never be persisted.",
    }),
    skippedMessages: z
      .array(z.object({ messageId: z.string(), reason: z.string() }))
      .meta({ description: "The first few skipped messages, with why." }),
  })
  .meta({
    id: "RedriveResult",
    description: "Call again while `moved` equals the `max` asked for.",
  });

export const recentSaleSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    status: saleStatusSchema,
    stock: z.number().int(),
    remaining: z.number().int(),
    sold: z.number().int(),
    createdAt: isoInstant.meta({ description: "When the sale was first recorded in the list." }),
  })
  .meta({ id: "RecentSale" });

export const recentSalesSchema = z
  .object({ sales: z.array(recentSaleSchema).meta({ description: "Newest first." }) })
  .meta({ id: "RecentSales" });

const refusalCodes = REFUSAL_REASONS as unknown as readonly [RefusalReason, ...RefusalReason[]];

const outcomeCountsShape = {
  requests: z.number().min(0),
  accepted: z.number().min(0),
  units: z.number().min(0),
  replayed: z.number().min(0),
  rateLimited: z.number().min(0),
  refused: z.record(z.enum(refusalCodes), z.number().min(0)),
  errors: z.record(z.string(), z.number().min(0)),
};

const outcomeCountsSchema = z.object(outcomeCountsShape).meta({ id: "OutcomeCounts" });

const latencySummarySchema = z
  .object({ count: z.number().int().min(0), p50Ms: z.number(), p99Ms: z.number() })
  .meta({ id: "LatencySummary" });

export const saleStatsViewSchema = z
  .object({
    saleId: z.string(),
    name: z.string(),
    status: saleStatusSchema,
    paused: z
      .literal(true)
      .optional()
      .meta({ description: "Present while an operator has paused buying." }),
    perUserLimit: z.number().int().min(1),
    rateLimit: z.object({ burst: z.number().int().min(0), perSecond: z.number() }),
    endsAt: isoInstant.nullable().meta({ description: "When the sale ends; null for no end." }),
    at: isoInstant.meta({ description: "Server time of this snapshot." }),
    stock: z.number().int(),
    remaining: z.number().int(),
    sold: z.number().int(),
    totals: outcomeCountsSchema,
    rates: z
      .object({
        ...outcomeCountsShape,
        windowSeconds: z.number(),
        persistedUnits: z.number().nullable(),
      })
      .nullable()
      .meta({ description: "Per second over the last window; null on the first call." }),
    latency: z.object({
      window: latencySummarySchema.nullable(),
      total: latencySummarySchema.nullable(),
    }),
    orders: z.object({
      soldUnits: z.number().int(),
      persistedRows: z.number().int().nullable(),
      persistedUnits: z.number().int().nullable(),
      inFlightUnits: z.number().int().nullable(),
    }),
    holds: z
      .object({
        holdSeconds: z.number().int(),
        held: z.number().int(),
        paid: z.number().int(),
        expiredUnits: z.number().int(),
      })
      .nullable()
      .meta({
        description:
          "Sales with a hold: units held awaiting payment, paid, and returned to stock when their hold expired; null without a hold.",
      }),
    draw: z
      .object({
        state: drawStateSchema,
        entriesCloseAt: isoInstant.nullable(),
        entries: z.number().int(),
        entriesPerSecond: z.number().nullable(),
        winners: z.number().int(),
        awarded: z.number().int(),
        alternates: z.number().int(),
        passedOver: z.number().int(),
      })
      .nullable()
      .meta({
        description:
          "Draws: state, entries and entries per second over the window, winners drawn, awards, alternates called (units of unpaid winners passed on in drawn order), entries passed over; null for a first-come sale.",
      }),
    queues: queueDepthsSchema.nullable(),
    unavailable: z.array(z.enum(["postgres", "queues"])).meta({
      description: "Sources that failed or missed their deadline; their fields above are null.",
    }),
  })
  .meta({ id: "SaleStatsView", description: "A sale's live numbers for the dashboard." });

/** Which error codes a route may answer with: the outcomes table's codes. */
export type ErrorCodes = readonly [OutcomeCode, ...OutcomeCode[]];

/** `{ "error": { "code", "message" } }`, with the codes this response can carry. */
export function errorEnvelopeSchema(codes: ErrorCodes) {
  return z.object({
    error: z.object({
      code: z.enum(codes),
      message: z.string().meta({ description: "For people; clients switch on `code`." }),
    }),
  });
}

/** The body API Gateway itself answers with (authorizer refusals, throttling, unknown routes). */
export const gatewayErrorSchema = z
  .object({ message: z.string().meta({ example: "Unauthorized" }) })
  .meta({
    id: "GatewayError",
    description:
      "Answered by API Gateway before any function runs: `Unauthorized` (401, JWT authorizer), `Forbidden` (403, a required scope is missing), `Not Found` (404, no such route), `Request Entity Too Large` (413), `Too Many Requests` (429, stage throttling), `Internal Server Error` / `Service Unavailable` (500/503, the function failed or timed out).",
  });

// --- compile-time checks: each schema is exactly its TypeScript type.

/** Each assignable to the other: a field missing, extra, optional or typed otherwise on either side fails. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type Holds<T extends true> = T;

export type ResponseSchemasMatchTypes = [
  Holds<Same<z.output<typeof saleSchema>, Omit<Sale, "version">>>,
  Holds<Same<z.output<typeof orderViewSchema>, OrderView>>,
  Holds<Same<z.output<typeof paymentReceiptSchema>, { received: true } & PaymentReceipt>>,
  Holds<Same<z.output<typeof reconcileReportSchema>, ReconcileReport>>,
  Holds<Same<z.output<typeof redriveResultSchema>, RedriveResult>>,
  Holds<Same<z.output<typeof recentSaleSchema>, RecentSale>>,
  Holds<Same<z.output<typeof saleStatsViewSchema>, SaleStatsView>>,
];
