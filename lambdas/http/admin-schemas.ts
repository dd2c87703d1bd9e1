import * as z from "zod";
import { perUserLimitSchema, rateLimitSchema } from "./schemas.js";

/**
 * Query strings and bodies of the admin routes, beside (not in) schemas.ts so
 * the buy bundle carries none of them. The OpenAPI document
 * (lambdas/openapi/document.ts) describes the API from these same schemas.
 */

/** GET /admin/sales */
export const recentSalesQuerySchema = z.object({
  limit: z.coerce.number().int().min(1).max(100).default(20),
});

/** GET /admin/sales/{saleId}/stats */
export const saleStatsQuerySchema = z.object({
  /** Seconds the rates and windowed percentiles cover at least. */
  window: z.coerce.number().int().min(1).max(60).default(1),
});

/** POST /admin/sales/{saleId}/reconcile: an absent body is a dry run with the default grace. */
export const reconcileRequestSchema = z
  .object({
    repair: z.boolean().default(false),
    graceSeconds: z.number().int().min(0).max(86_400).default(300),
  })
  .optional()
  .transform((body) => body ?? { repair: false, graceSeconds: 300 });

/**
 * Ten messages per loop, three SQS calls each: 200 messages is ~60 calls,
 * well inside the function's timeout and API Gateway's 30 s limit.
 */
export const MAX_REDRIVE_PER_CALL = 200;

/** POST /admin/redrive */
export const redriveRequestSchema = z
  .object({
    max: z.number().int().min(1).max(MAX_REDRIVE_PER_CALL).default(MAX_REDRIVE_PER_CALL),
  })
  .optional()
  .transform((body) => body ?? { max: MAX_REDRIVE_PER_CALL });

/**
 * POST /admin/sales/{saleId}/controls: an operator's controls on a running
 * sale, all applied together. At least one; unknown fields are refused. The
 * ranges are the sale definition's (schemas.ts).
 */
export const saleControlsRequestSchema = z
  .object({
    paused: z
      .boolean()
      .meta({
        description:
          "true: buys answer 409 SALE_PAUSED from the next request on, on every container; false: buying resumes.",
      })
      .optional(),
    closeNow: z
      .literal(true, { error: "closeNow must be true: a closed sale cannot be reopened here" })
      .meta({
        description:
          "true: the sale ends now (endsAt = the server's time of the request); buys answer 409 SALE_ENDED from the next request on. Closing an ended sale changes nothing. There is no reopening.",
      })
      .optional(),
    perUserLimit: perUserLimitSchema
      .meta({
        description:
          "The new most units per buyer, for buys from the next request on. Units already bought stay; a buyer at or above it is refused with 409 LIMIT_REACHED.",
      })
      .optional(),
    rateLimit: rateLimitSchema
      .strict()
      .meta({
        description:
          "The new per-buyer token bucket (burst 0 turns it off), from the next request on.",
      })
      .optional(),
  })
  .strict()
  .refine((controls) => Object.values(controls).some((value) => value !== undefined), {
    message: "give at least one of paused, closeNow, perUserLimit, rateLimit",
  });
