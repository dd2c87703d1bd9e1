import * as z from "zod";
import {
  MAX_HOLD_SECONDS,
  MAX_QUANTITY_PER_REQUEST,
  MAX_SHARDS,
  saleIdSchema,
} from "../domain/sale.js";

/** Request bodies and headers of the HTTP API, compiled once at import. */

/** An absent body means one unit. Unknown fields (e.g. a forged userId) are ignored. */
export const buyRequestSchema = z
  .object(
    {
      quantity: z
        .number({ error: "quantity must be a number" })
        .int("quantity must be a whole number")
        .min(1, "quantity must be at least 1")
        .max(MAX_QUANTITY_PER_REQUEST, `quantity must be at most ${MAX_QUANTITY_PER_REQUEST}`)
        .default(1),
    },
    { error: "body must be a JSON object" },
  )
  .optional()
  .transform((body) => body ?? { quantity: 1 });

export const idempotencyKeySchema = z
  .string()
  .regex(/^[\x21-\x7E]{1,128}$/, "Idempotency-Key must be 1-128 printable ASCII characters");

/** An instant after the epoch, as epoch ms: 0 means "no limit" in Redis, so nothing at or before it may stand for a date. */
const instant = z.iso
  .datetime({ offset: true, error: "must be an ISO 8601 date-time, e.g. 2026-11-25T10:00:00Z" })
  .transform((iso) => Date.parse(iso))
  .refine((ms) => ms > 0, "must be after 1970-01-01T00:00:00Z");

/** A buyer's most units per sale; the sale definition and the operator controls share it. */
export const perUserLimitSchema = z.number().int().min(1).max(MAX_QUANTITY_PER_REQUEST);

/** A buyer's token bucket per sale (burst 0 turns it off); stored as the sale fields rateBurst, ratePerSecond. */
export const rateLimitSchema = z.object({
  burst: z.number().int().min(0).max(10_000),
  perSecond: z.number().positive().max(10_000),
});

export const saleDefinitionSchema = z
  .object({
    id: saleIdSchema,
    name: z.string().trim().min(1).max(200),
    stock: z.number().int().min(0).max(100_000_000),
    perUserLimit: perUserLimitSchema,
    startsAt: instant.nullish(),
    endsAt: instant.nullish(),
    rateLimit: rateLimitSchema.optional(),
    shards: z.number().int().min(1).max(MAX_SHARDS).optional(),
    price: z
      .object({
        amount: z.number().int().min(0).max(1_000_000_000),
        currency: z
          .string()
          .regex(/^[A-Za-z]{3}$/, "currency must be an ISO 4217 code, e.g. eur")
          .transform((code) => code.toLowerCase()),
      })
      .optional(),
    holdSeconds: z.number().int().min(0).max(MAX_HOLD_SECONDS).optional(),
    mode: z
      .enum(["first_come", "draw"])
      .meta({
        description:
          "first_come (the default): buys take the stock in arrival order. draw: buyers enter during the entry window and the stock goes to winners drawn at its close (docs/draws.md); buys are refused with 409 DRAW_SALE.",
      })
      .optional(),
    entriesOpenAt: instant.nullish(),
    entriesCloseAt: instant.nullish(),
  })
  .refine((sale) => sale.startsAt == null || sale.endsAt == null || sale.endsAt > sale.startsAt, {
    message: "endsAt must be after startsAt",
    path: ["endsAt"],
  })
  .refine((sale) => !sale.holdSeconds || sale.price !== undefined, {
    message: "a sale with a hold needs a price: the amount each buyer must pay",
    path: ["price"],
  })
  .refine((sale) => !sale.holdSeconds || (sale.shards ?? 1) === 1, {
    message: "a sale with a hold cannot be sharded",
    path: ["holdSeconds"],
  })
  .refine((sale) => sale.mode !== "draw" || sale.entriesCloseAt != null, {
    message: "a draw needs entriesCloseAt: the end of its entry window, when the draw runs",
    path: ["entriesCloseAt"],
  })
  .refine(
    (sale) =>
      sale.entriesOpenAt == null ||
      sale.entriesCloseAt == null ||
      sale.entriesCloseAt > sale.entriesOpenAt,
    { message: "entriesCloseAt must be after entriesOpenAt", path: ["entriesCloseAt"] },
  )
  .refine((sale) => sale.mode === "draw" || (sale.entriesOpenAt ?? sale.entriesCloseAt) == null, {
    message: 'an entry window belongs to a draw: give mode "draw"',
    path: ["mode"],
  })
  .refine((sale) => sale.mode !== "draw" || (sale.holdSeconds ?? 0) > 0, {
    message:
      "a draw needs holdSeconds: the time each winner has to pay before an alternate is called",
    path: ["holdSeconds"],
  })
  .transform((sale) => ({
    id: sale.id,
    name: sale.name,
    stock: sale.stock,
    perUserLimit: sale.perUserLimit,
    startsAtMs: sale.startsAt ?? 0,
    endsAtMs: sale.endsAt ?? 0,
    rateLimit: sale.rateLimit,
    shards: sale.shards,
    ...(sale.price !== undefined && { price: sale.price }),
    ...(sale.holdSeconds !== undefined &&
      sale.holdSeconds > 0 && { holdSeconds: sale.holdSeconds }),
    ...(sale.mode === "draw" && {
      draw: {
        entriesOpenAtMs: sale.entriesOpenAt ?? 0,
        entriesCloseAtMs: sale.entriesCloseAt ?? 0,
      },
    }),
  }));

/** POST /sales/{saleId}/entries: an absent body means one unit. Unknown fields are ignored. */
export const entryRequestSchema = buyRequestSchema;

/** GET /sales/{saleId}/draw/entries */
export const drawEntriesQuerySchema = z.object({
  page: z.coerce.number().int().min(0).max(100_000).default(0),
});
