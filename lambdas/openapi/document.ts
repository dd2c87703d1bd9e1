import * as z from "zod";
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiPathsObject,
  type ZodOpenApiResponseObject,
  type ZodOpenApiResponsesObject,
} from "zod-openapi";
import { OUTCOMES, type OutcomeCode } from "../domain/outcomes.js";
import { orderIdSchema, saleIdSchema } from "../domain/sale.js";
import {
  recentSalesQuerySchema,
  reconcileRequestSchema,
  redriveRequestSchema,
  saleControlsRequestSchema,
  saleStatsQuerySchema,
} from "../http/admin-schemas.js";
import { MAX_BODY_BYTES, MAX_WEBHOOK_BODY_BYTES } from "../http/http-handler.js";
import {
  buyRequestSchema,
  drawEntriesQuerySchema,
  entryRequestSchema,
  idempotencyKeySchema,
  saleDefinitionSchema,
} from "../http/schemas.js";
import { ADMIN_ROLE, resolveScopes } from "../http/scopes.js";
import { HTTP_ROUTES, type HttpRouteDefinition } from "../registry.js";
import {
  buyAcceptedSchema,
  drawEntriesPageSchema,
  drawRequestedSchema,
  type ErrorCodes,
  entryAcceptedSchema,
  entryViewSchema,
  errorEnvelopeSchema,
  gatewayErrorSchema,
  orderViewSchema,
  paymentReceiptSchema,
  publishedDrawSchema,
  recentSalesSchema,
  reconcileReportSchema,
  redriveResultSchema,
  saleSchema,
  saleStatsViewSchema,
} from "./response-schemas.js";

/**
 * The API described once: an OpenAPI 3.1 document built from the registry's
 * routes (lambdas/registry.ts), the zod schemas the handlers validate with
 * (requests) and the response schemas (./response-schemas.ts), with each
 * route's errors taken from the outcomes table (lambdas/domain/outcomes.ts).
 * Served by the `openapi` function at GET /openapi.json; only that function
 * imports this module, so zod-openapi stays out of every other bundle.
 *
 * Every route of HTTP_ROUTES needs an entry in ROUTE_DOCS: building the
 * document throws otherwise, so a new route cannot be left undescribed.
 */

/** The API's version in the document (the contract's, not the package's). */
export const API_VERSION = "1.0.0";

const SECURITY_SCHEME = "bearerAuth";

type SuccessResponses = Record<`${1 | 2 | 3}${string}`, ZodOpenApiResponseObject>;

interface RouteDoc {
  summary: string;
  description: string;
  tags: string[];
  requestParams?: ZodOpenApiOperationObject["requestParams"];
  /** A JSON body the route reads; absent: none (it is then not parsed beyond the size check). */
  body?: { schema: z.ZodType; description: string; required: boolean };
  success: SuccessResponses;
  /** The outcomes (error codes) the function itself may answer with, beyond the common ones. */
  errors: readonly OutcomeCode[];
}

// --- parameters and headers

const saleIdParam = saleIdSchema.meta({
  description: "The sale's id: 1-64 characters of A-Z, a-z, 0-9, _ or -.",
  example: "black-friday-tv",
});
const orderIdParam = orderIdSchema.meta({
  description: "The order id the buy answered with (`<saleId>.<uuid>`).",
  example: "black-friday-tv.0b9f3a1e-7c2d-4f7e-9a55-2f1d0c3b4a5e",
});

const retryAfter = z
  .string()
  .regex(/^\d+$/)
  .meta({ description: "Seconds to wait before retrying.", example: "1" });

const etagHeader = z.string().meta({ description: "Strong validator of the body (a digest)." });

// --- responses shared by several routes

const json = (schema: z.ZodType) => ({ "application/json": { schema } });

const notModified: ZodOpenApiResponseObject = {
  description: "Not modified: the client's copy (If-None-Match) is current.",
  headers: z.object({ etag: etagHeader }),
};

/** Error statuses API Gateway itself may answer on a route, with its own `{ "message" }` body. */
function gatewayStatuses(route: HttpRouteDefinition, hasBody: boolean): Set<number> {
  const statuses = new Set([429, 500, 503]);
  if (route.authorization === "jwt") statuses.add(401);
  if (route.scopes.length > 0) statuses.add(403);
  if (hasBody) statuses.add(413);
  return statuses;
}

/** The error codes every route of this kind may answer, besides its own. */
function commonErrors(route: HttpRouteDefinition, doc: RouteDoc): OutcomeCode[] {
  const codes: OutcomeCode[] = ["INTERNAL_ERROR"];
  // Every function parses a body when one is sent, so these two apply to all.
  codes.push("MALFORMED_JSON", "PAYLOAD_TOO_LARGE");
  if (route.authorization === "jwt") codes.push("UNAUTHORIZED", "INVALID_IDENTITY");
  if (route.scopes.length > 0) codes.push("FORBIDDEN");
  if (route.routeKey.includes("{") || doc.body || doc.requestParams?.query) {
    codes.push("INVALID_REQUEST");
  }
  return codes;
}

const STATUS_TEXT: Record<number, string> = {
  400: "The request is invalid",
  401: "No valid identity",
  403: "A required scope is missing",
  404: "Not found",
  409: "Refused by the sale's rules or state",
  413: "Request body too large",
  429: "Too many requests",
  500: "Internal error; nothing was changed",
  503: "A dependency is unavailable; retry after the pause",
};

const GATEWAY_TEXT: Record<number, string> = {
  401: 'API Gateway\'s JWT authorizer answers `{ "message": "Unauthorized" }` for a missing, expired or wrongly signed token; the function answers `UNAUTHORIZED` / `INVALID_IDENTITY` for a token without a usable `sub`.',
  403: 'API Gateway answers `{ "message": "Forbidden" }` when the token lacks a required scope.',
  413: `API Gateway answers \`{ "message": "Request Entity Too Large" }\` past its own payload limit; the function refuses bodies over ${MAX_BODY_BYTES} bytes with \`PAYLOAD_TOO_LARGE\`.`,
  429: 'Stage throttling: API Gateway answers `{ "message": "Too Many Requests" }` (no Retry-After).',
  500: 'API Gateway answers `{ "message": "Internal Server Error" }` when the function itself fails.',
  503: 'API Gateway answers `{ "message": "Service Unavailable" }` when the function times out.',
};

function errorResponses(route: HttpRouteDefinition, doc: RouteDoc): ZodOpenApiResponsesObject {
  const codes = [...new Set([...commonErrors(route, doc), ...doc.errors])];
  const byStatus = new Map<number, OutcomeCode[]>();
  for (const code of codes) {
    const status = OUTCOMES[code].status;
    byStatus.set(status, [...(byStatus.get(status) ?? []), code]);
  }
  const gateway = gatewayStatuses(route, doc.body !== undefined);
  for (const status of gateway) if (!byStatus.has(status)) byStatus.set(status, []);

  const responses: ZodOpenApiResponsesObject = {};
  for (const status of [...byStatus.keys()].sort((a, b) => a - b)) {
    const statusCodes = byStatus.get(status) ?? [];
    const envelope =
      statusCodes.length > 0 ? errorEnvelopeSchema(statusCodes as unknown as ErrorCodes) : null;
    const schema =
      envelope && gateway.has(status)
        ? z.union([envelope, gatewayErrorSchema])
        : (envelope ?? gatewayErrorSchema);
    const lines = statusCodes.map((code) => `\`${code}\`: ${OUTCOMES[code].message}.`);
    const gatewayText = gateway.has(status) ? GATEWAY_TEXT[status] : undefined;
    if (gatewayText) lines.push(gatewayText);
    const headers: Record<string, z.ZodType> = {};
    if (status === 429 || status === 503) headers["retry-after"] = retryAfter.optional();
    if (statusCodes.includes("UNAUTHORIZED")) {
      headers["www-authenticate"] = z
        .literal("Bearer")
        .optional()
        .meta({ description: "Sent with `UNAUTHORIZED`." });
    }
    const response: ZodOpenApiResponseObject = {
      description: `${STATUS_TEXT[status] ?? "Error"}. ${lines.join(" ")}`,
      content: json(schema),
    };
    if (Object.keys(headers).length > 0) response.headers = z.object(headers);
    responses[`${status}` as `4${string}`] = response;
  }
  return responses;
}

// --- the routes

const ROUTE_DOCS: Record<string, RouteDoc> = {
  "POST /sales": {
    summary: "Create a sale, or restock / reschedule it",
    description:
      "Idempotent: `stock` is the sale's total, not a delta, so a retried call lands on the same state. Units already sold stay sold. `startsAt` / `endsAt` are ISO 8601 instants after the epoch with startsAt < endsAt; the window is [startsAt, endsAt). The shard count is fixed at creation.",
    tags: ["admin"],
    body: {
      schema: saleDefinitionSchema,
      description: "The sale's definition.",
      required: true,
    },
    success: {
      "200": { description: "Updated: the sale as it now is.", content: json(saleSchema) },
      "201": { description: "Created: the new sale.", content: json(saleSchema) },
    },
    errors: ["STOCK_BELOW_SOLD", "SHARDS_IMMUTABLE", "HOLD_ON_SHARDED_SALE", "MODE_IMMUTABLE"],
  },
  "GET /sales/{saleId}": {
    summary: "A sale's live state",
    description: "Public. Read in one Redis call; `remaining` is live.",
    tags: ["sales"],
    requestParams: { path: z.object({ saleId: saleIdParam }) },
    success: { "200": { description: "The sale.", content: json(saleSchema) } },
    errors: ["SALE_NOT_FOUND"],
  },
  "POST /sales/{saleId}/buy": {
    summary: "Buy units of a sale",
    description:
      "Reserves the units atomically (never oversells) and queues the order; a 202 always ends as exactly one order row. The buyer is the token's `sub`, never a field of the body. Each buyer has a token bucket per sale (the sale's `rateLimit`): past it, 429 with Retry-After. Send an `Idempotency-Key` to make retries safe: the same key answers the same order.",
    tags: ["sales"],
    requestParams: {
      path: z.object({ saleId: saleIdParam }),
      header: z.object({
        "Idempotency-Key": idempotencyKeySchema.optional().meta({
          description:
            "1-128 printable ASCII characters. A retry with the same key (same buyer and sale) answers the original order instead of buying again.",
          example: "4f1c2a9e-checkout-1",
        }),
      }),
    },
    body: {
      schema: buyRequestSchema,
      description: "Optional; an absent body buys one unit. Unknown fields are ignored.",
      required: false,
    },
    success: {
      "202": { description: "Accepted: reserved and queued.", content: json(buyAcceptedSchema) },
    },
    errors: [
      "SALE_NOT_FOUND",
      "SOLD_OUT",
      "LIMIT_REACHED",
      "INSUFFICIENT_STOCK",
      "SALE_NOT_OPEN",
      "SALE_ENDED",
      "SALE_PAUSED",
      "DRAW_SALE",
      "RATE_LIMITED",
      "SERVICE_UNAVAILABLE",
    ],
  },
  "POST /sales/{saleId}/entries": {
    summary: "Enter a draw",
    description:
      "Enters the caller (the token's `sub`) in a draw (docs/draws.md) during its entry window, once: a repeat, whatever its quantity, answers 200 with the first entry. One atomic Redis call and one SQS send, like a buy, with the same per-buyer token bucket. An entry racing the close is either in the frozen list or refused, never half in.",
    tags: ["draws"],
    requestParams: { path: z.object({ saleId: saleIdParam }) },
    body: {
      schema: entryRequestSchema,
      description: "Optional; an absent body enters for one unit. Unknown fields are ignored.",
      required: false,
    },
    success: {
      "201": { description: "Entered.", content: json(entryAcceptedSchema) },
      "200": {
        description: "Already entered: the first entry.",
        content: json(entryAcceptedSchema),
      },
    },
    errors: [
      "SALE_NOT_FOUND",
      "NOT_A_DRAW",
      "ENTRIES_NOT_OPEN",
      "ENTRIES_CLOSED",
      "ENTRY_ABOVE_LIMIT",
      "SALE_PAUSED",
      "RATE_LIMITED",
      "SERVICE_UNAVAILABLE",
    ],
  },
  "GET /sales/{saleId}/entries/me": {
    summary: "The caller's entry and its result",
    description:
      "The entry, its hash in the published list, and its result: pending until the draw, then won (with the held order to pay), waiting or not_won.",
    tags: ["draws"],
    requestParams: { path: z.object({ saleId: saleIdParam }) },
    success: { "200": { description: "The entry.", content: json(entryViewSchema) } },
    errors: ["SALE_NOT_FOUND", "ENTRY_NOT_FOUND"],
  },
  "GET /sales/{saleId}/draw": {
    summary: "A draw's public record",
    description:
      "Public. Before the draw: the commitment (sha256 of the secret seed, fixed at creation) and the window. After it: the revealed seed, the entry list's digest, size and pages, and the winners, so anyone can recompute the draw (`npm run verify-draw`).",
    tags: ["draws"],
    requestParams: { path: z.object({ saleId: saleIdParam }) },
    success: { "200": { description: "The draw.", content: json(publishedDrawSchema) } },
    errors: ["DRAW_NOT_FOUND"],
  },
  "GET /sales/{saleId}/draw/entries": {
    summary: "A page of a draw's entry list",
    description:
      "Public, cacheable (a drawn list never changes). 50,000 entries a page, as base64 of the packed records.",
    tags: ["draws"],
    requestParams: {
      path: z.object({ saleId: saleIdParam }),
      query: drawEntriesQuerySchema,
    },
    success: { "200": { description: "The page.", content: json(drawEntriesPageSchema) } },
    errors: ["DRAW_NOT_FOUND", "DRAW_NOT_DRAWN"],
  },
  "POST /admin/sales/{saleId}/draw": {
    summary: "Close a draw's entries now",
    description:
      "Admin. Freezes the entries (entriesCloseAt becomes now); the draw runner draws after its settle time, as at a scheduled close. A repeat changes nothing.",
    tags: ["admin"],
    requestParams: { path: z.object({ saleId: saleIdParam }) },
    success: { "202": { description: "Entries closed.", content: json(drawRequestedSchema) } },
    errors: ["DRAW_NOT_FOUND"],
  },
  "GET /orders/{orderId}": {
    summary: "The caller's own order",
    description:
      "`pending` while the order is reserved and queued, `confirmed` once its row exists. Someone else's order, an unknown one and a released one are all 404: a caller cannot learn that an order exists.",
    tags: ["orders"],
    requestParams: { path: z.object({ orderId: orderIdParam }) },
    success: { "200": { description: "The order.", content: json(orderViewSchema) } },
    errors: ["ORDER_NOT_FOUND"],
  },
  "POST /payments/webhook": {
    summary: "The payment provider's webhook (Stripe)",
    description: `Public: its only authority is the \`Stripe-Signature\` header (\`t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" with the endpoint's signing secret>\`), verified offline over the raw body; a signature older than 5 minutes is refused. Acts on \`payment_intent.succeeded\` with the order id in \`data.object.metadata.orderId\` (optionally the sale in \`metadata.saleId\`), the amount in \`amount_received\` (minor units) and \`currency\`; other event types are acknowledged and ignored. One atomic Redis call decides: a hold still running with the amount and currency due becomes \`paid\`; a payment after the hold ended is recorded as \`refund_due\` (the order is not brought back). Redelivered events are answered the same and change nothing. Bodies up to ${MAX_WEBHOOK_BODY_BYTES} bytes.`,
    tags: ["payments"],
    requestParams: {
      header: z.object({
        "stripe-signature": z.string().optional().meta({
          description: "`t=<timestamp>,v1=<signature>` as Stripe sends it.",
          example:
            "t=1796282716,v1=2ed4453b012fd49d288f9c2ca6f0506c131ce71c84bcaaab9a3367256eda34a8",
        }),
      }),
    },
    body: {
      schema: z
        .object({
          id: z.string(),
          type: z.string().meta({ example: "payment_intent.succeeded" }),
          data: z.object({ object: z.record(z.string(), z.unknown()) }),
        })
        .passthrough()
        .meta({ description: "A Stripe event, exactly as Stripe sent it." }),
      description: "The provider's event; verified byte for byte against the signature.",
      required: true,
    },
    success: {
      "200": { description: "Recorded (or ignored).", content: json(paymentReceiptSchema) },
    },
    errors: [
      "PAYMENT_SIGNATURE_INVALID",
      "PAYMENT_EVENT_INVALID",
      "ORDER_NOT_FOUND",
      "ORDER_NOT_PAYABLE",
      "PAYMENT_MISMATCH",
      "PAYMENT_SALE_MISMATCH",
    ],
  },
  "POST /admin/sales/{saleId}/reconcile": {
    summary: "Reconcile a sale: Redis vs Postgres vs the queues",
    description:
      "Compares what Redis says the sale sold with the order rows and what is still in the queues. With `repair: true` it repairs what can be repaired without overselling or losing an accepted order.",
    tags: ["admin"],
    requestParams: { path: z.object({ saleId: saleIdParam }) },
    body: {
      schema: reconcileRequestSchema,
      description: "Optional; an absent body is a dry run with a 300 s grace period.",
      required: false,
    },
    success: { "200": { description: "The report.", content: json(reconcileReportSchema) } },
    errors: ["SERVICE_UNAVAILABLE"],
  },
  "POST /admin/sales/{saleId}/controls": {
    summary:
      "Operator controls: pause or resume, close now, change the per-user limit or the rate limit",
    description:
      "Any of `paused`, `closeNow`, `perUserLimit`, `rateLimit` (at least one; unknown fields are refused; the ranges are those of `POST /sales`). The whole body is validated before anything is written (a 4xx changes nothing); then every field given is written in one script call per sale hash, on every shard. The reserve script reads these fields in its one call, so every container applies them from its next buy: a paused sale answers `409 SALE_PAUSED`; `closeNow` sets `endsAt` to the server's time of this request (an earlier end stays; a sale not started yet gets that `startsAt` too), so buys answer `409 SALE_ENDED`; a new `perUserLimit` keeps units already bought and refuses a buyer at or above it with `409 LIMIT_REACHED`; a new `rateLimit` replaces the buyer token bucket (`burst` 0 turns it off). Closing an ended sale changes nothing. There is no reopening here (`closeNow: false` is refused); redefining the sale with `POST /sales` sets its window again. Orders accepted before a control are unaffected (a replay still gets its order).",
    tags: ["admin"],
    requestParams: { path: z.object({ saleId: saleIdParam }) },
    body: {
      schema: saleControlsRequestSchema,
      description: "The controls to apply; absent fields stay as they are.",
      required: true,
    },
    success: { "200": { description: "The sale as it now is.", content: json(saleSchema) } },
    errors: ["SALE_NOT_FOUND"],
  },
  "POST /admin/redrive": {
    summary: "Move DLQ messages back to the orders queue",
    description:
      "Moves up to `max` messages per call (bounded so one call fits in API Gateway's timeout); call again while `moved` equals `max`. Messages that can never be persisted stay in the DLQ and are listed.",
    tags: ["admin"],
    body: {
      schema: redriveRequestSchema,
      description: "Optional; an absent body moves up to 200.",
      required: false,
    },
    success: { "200": { description: "What was moved.", content: json(redriveResultSchema) } },
    errors: ["SERVICE_UNAVAILABLE"],
  },
  "GET /admin/sales": {
    summary: "The most recently created sales",
    description: "Newest first, with their live stock (the dashboard's sale picker).",
    tags: ["admin"],
    requestParams: { query: recentSalesQuerySchema },
    success: {
      "200": {
        description: "The sales. Sent with `cache-control: no-store`.",
        content: json(recentSalesSchema),
      },
    },
    errors: [],
  },
  "GET /admin/sales/{saleId}/stats": {
    summary: "A sale's live numbers",
    description:
      "Totals, per-second rates over the window, buy-path latency, persisted orders and queue depths; polled by the dashboard about once a second. A source that fails or misses its deadline is listed in `unavailable` and its fields are null.",
    tags: ["admin"],
    requestParams: {
      path: z.object({ saleId: saleIdParam }),
      query: saleStatsQuerySchema,
    },
    success: {
      "200": {
        description: "The snapshot. Sent with `cache-control: no-store`.",
        content: json(saleStatsViewSchema),
      },
    },
    errors: ["SALE_NOT_FOUND"],
  },
  "GET /dashboard": {
    summary: "The live sale dashboard (HTML page)",
    description:
      "Public; the page holds no data: it reads GET /admin/sales and the stats route with the operator's admin token. `/dashboard/` redirects to `/dashboard`.",
    tags: ["dashboard"],
    success: {
      "200": {
        description: "The page.",
        headers: z.object({ etag: etagHeader }),
        content: { "text/html": { schema: z.string() } },
      },
      "301": {
        description: "`/dashboard/` is sent to `/dashboard` (the page's relative links).",
        headers: z.object({ location: z.string() }),
      },
      "304": notModified,
    },
    errors: [],
  },
  "GET /dashboard/{file}": {
    summary: "A file of the dashboard page",
    description: "Public; only the page's own files (HTML, CSS, JavaScript, SVG).",
    tags: ["dashboard"],
    requestParams: {
      path: z.object({
        file: z
          .string()
          .meta({ description: "A file name, e.g. dashboard.js", example: "dashboard.js" }),
      }),
    },
    success: {
      "200": {
        description: "The file.",
        headers: z.object({ etag: etagHeader }),
        content: {
          "text/html": { schema: z.string() },
          "text/css": { schema: z.string() },
          "text/javascript": { schema: z.string() },
          "image/svg+xml": { schema: z.string() },
        },
      },
      "304": notModified,
    },
    errors: ["NOT_FOUND"],
  },
  "GET /openapi.json": {
    summary: "This document",
    description: "Public. OpenAPI 3.1, generated from the schemas the handlers validate with.",
    tags: ["meta"],
    success: {
      "200": {
        description: "The OpenAPI document.",
        headers: z.object({ etag: etagHeader }),
        content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
      },
      "304": notModified,
    },
    errors: [],
  },
};

function operationOf(route: HttpRouteDefinition, adminScope: string): ZodOpenApiOperationObject {
  const doc = ROUTE_DOCS[route.routeKey];
  if (!doc) {
    throw new Error(
      `Route ${route.routeKey} (lambdas/registry.ts) has no description in lambdas/openapi/document.ts ROUTE_DOCS`,
    );
  }
  const operation: ZodOpenApiOperationObject = {
    operationId: route.handler,
    summary: doc.summary,
    description: doc.description,
    tags: doc.tags,
    security:
      route.authorization === "jwt"
        ? [{ [SECURITY_SCHEME]: resolveScopes(route.scopes, adminScope) }]
        : [],
    responses: { ...doc.success, ...errorResponses(route, doc) },
  };
  if (doc.requestParams) operation.requestParams = doc.requestParams;
  if (doc.body) {
    operation.requestBody = {
      description: doc.body.description,
      required: doc.body.required,
      content: json(doc.body.schema),
    };
  }
  return operation;
}

/** `GET /sales/{saleId}` -> ["get", "/sales/{saleId}"] */
export function methodAndPath(routeKey: string): [string, string] {
  const [method, path] = routeKey.split(" ");
  if (!method || !path) throw new Error(`Malformed route key ${routeKey}`);
  return [method.toLowerCase(), path];
}

export type OpenApiDocument = ReturnType<typeof createDocument>;

/**
 * The document for these routes (the registry's by default), with the admin routes requiring
 * `adminScope` (the stack's setting); throws on an undescribed route.
 */
export function buildOpenApiDocument(
  routes: readonly HttpRouteDefinition[] = HTTP_ROUTES,
  adminScope: string = ADMIN_ROLE,
): OpenApiDocument {
  const known = new Set(routes.map((route) => route.routeKey));
  const stale = Object.keys(ROUTE_DOCS).filter((key) => !known.has(key));
  if (routes === HTTP_ROUTES && stale.length > 0) {
    throw new Error(`ROUTE_DOCS describes routes the registry does not have: ${stale.join(", ")}`);
  }
  const paths: ZodOpenApiPathsObject = {};
  for (const route of routes) {
    const [method, path] = methodAndPath(route.routeKey);
    paths[path] = { ...paths[path], [method]: operationOf(route, adminScope) };
  }
  return createDocument({
    openapi: "3.1.0",
    info: {
      title: "Flash Sale Engine API",
      version: API_VERSION,
      description: [
        "Flash sales that never oversell: a buy reserves its units in one atomic Redis call and queues the order; every accepted (202) buy ends as exactly one order row.",
        "",
        'Errors of the functions have the body `{ "error": { "code", "message" } }`; clients switch on `code` (each response lists the codes it can carry). Refusals API Gateway answers itself keep its own body `{ "message" }` (see the GatewayError schema), including `{ "message": "Not Found" }` (404) for a path no route matches.',
        "",
        `Authentication: a bearer JWT verified by API Gateway's JWT authorizer. The buyer is the token's \`sub\`; admin routes need \`${adminScope}\` in the token's \`scope\` claim (space-separated, as in OAuth 2.0).`,
      ].join("\n"),
    },
    tags: [
      { name: "sales", description: "Reading sales and buying." },
      {
        name: "draws",
        description: "Draws: entries, the verifiable draw and its publication (docs/draws.md).",
      },
      { name: "orders", description: "A buyer's orders." },
      { name: "payments", description: "Payments, as the provider's signed webhook." },
      { name: "admin", description: `Operators: the \`${adminScope}\` scope.` },
      { name: "dashboard", description: "The live dashboard's static page." },
      { name: "meta", description: "This description." },
    ],
    paths,
    components: {
      securitySchemes: {
        [SECURITY_SCHEME]: {
          type: "http",
          scheme: "bearer",
          bearerFormat: "JWT",
          description: `A JWT from the identity provider (issuer and audience are the stack's). \`sub\`: the buyer id. \`scope\`: space-separated; admin routes require \`${adminScope}\`.`,
        },
      },
    },
  });
}
