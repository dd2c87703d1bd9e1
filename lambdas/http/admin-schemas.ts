import * as z from "zod";

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

/** POST /admin/sales/{saleId}/controls: an operator's switch on a running sale. */
export const saleControlsRequestSchema = z
  .object({
    paused: z.boolean().meta({
      description:
        "true: buys answer 409 SALE_PAUSED from the next request on, on every container; false: buying resumes.",
    }),
  })
  .strict();
