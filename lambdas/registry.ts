/**
 * Every function of the system, in one place: its handler module, what kind
 * of trigger calls it, the HTTP routes it serves and what it may touch. The
 * CDK stack (lib/handlers.ts: functions, routes, grants, environment), the
 * local host (local/http-host.ts: which module serves which route) and the
 * LocalStack adapter all read it, so a new function is one entry here plus
 * its file in lambdas/handlers/.
 */

export interface HttpRouteDefinition {
  /** API Gateway route key: METHOD and path template. */
  routeKey: string;
  /** Handler module under lambdas/handlers/ (file name without extension). */
  handler: string;
  /** "jwt": API Gateway's JWT authorizer guards the route; "none": public. */
  authorization: "jwt" | "none";
  /** OAuth scopes the JWT authorizer requires, beyond a valid token. */
  scopes: readonly string[];
}

/** "schedule": invoked on a timer (EventBridge Scheduler in AWS, a timer in the local stack). */
export type FunctionKind = "http" | "consumer" | "migrate" | "schedule";

/** What a function is given: environment variables, grants and network paths follow from it. */
export interface FunctionAccess {
  /** REDIS_URL + REDIS_AUTH_SECRET_ARN, read on the AUTH secret, a path to the cache. */
  redis: boolean;
  /** DATABASE_* + read on the database secret, a path to the RDS Proxy. */
  database: boolean;
  /** ORDERS_QUEUE_URL + sqs:SendMessage on the orders queue. */
  sendOrders: boolean;
  /** ORDERS_QUEUE_URL + ORDERS_DLQ_URL + sqs:GetQueueAttributes on both queues. */
  queueStats: boolean;
  /**
   * Moving DLQ messages back: ORDERS_QUEUE_URL + ORDERS_DLQ_URL, sqs:ReceiveMessage and
   * sqs:DeleteMessage on the DLQ, sqs:SendMessage on the orders queue (no queue statistics).
   */
  redrive: boolean;
  /**
   * The payment provider's webhook signing secret: PAYMENT_WEBHOOK_SECRET_ARN + read on
   * that secret (PAYMENT_WEBHOOK_SECRET off AWS).
   */
  paymentWebhookSecret: boolean;
  /** EVENT_BUS_NAME + events:PutEvents on the integration events' bus (docs/events.md). */
  publishEvents: boolean;
}

export interface FunctionDefinition {
  /** File name under lambdas/handlers/ without extension; also the function's construct id. */
  name: string;
  kind: FunctionKind;
  routes: ReadonlyArray<Omit<HttpRouteDefinition, "handler">>;
  access: FunctionAccess;
}

export const NO_ACCESS: FunctionAccess = {
  redis: false,
  database: false,
  sendOrders: false,
  queueStats: false,
  redrive: false,
  paymentWebhookSecret: false,
  publishEvents: false,
};

const jwt = (routeKey: string, ...scopes: string[]) => ({
  routeKey,
  authorization: "jwt" as const,
  scopes,
});
const open = (routeKey: string) => ({ routeKey, authorization: "none" as const, scopes: [] });

export const CONSUMER_HANDLER = "consume-orders";
/** Serves the live dashboard's static files; its bundle carries them (`__DASHBOARD_FILES__`). */
export const DASHBOARD_HANDLER = "dashboard";
export const MIGRATE_HANDLER = "migrate";
/** Serves GET /openapi.json; the only function that bundles the document builder (zod-openapi). */
export const OPENAPI_HANDLER = "openapi";
/** Expires due holds and sends their history; runs every minute in AWS, every few seconds locally. */
export const EXPIRE_HOLDS_HANDLER = "expire-holds";
/** How often the schedule runs the sweeper in AWS (EventBridge Scheduler's finest rate). */
export const EXPIRE_HOLDS_RATE_MINUTES = 1;
/** Finishes orders left without a row (stale reservations, confirmations); every minute in AWS. */
export const REPAIR_ORDERS_HANDLER = "repair-orders";
export const REPAIR_ORDERS_RATE_MINUTES = 1;
/** Freezes, draws and awards the draws (docs/draws.md); every minute in AWS, every 2 s locally. */
export const RUN_DRAWS_HANDLER = "run-draws";
export const RUN_DRAWS_RATE_MINUTES = 1;
/** A draw over a million entries holds them in memory twice over (Redis scan, rows): 2 GB. */
export const RUN_DRAWS_MEMORY_MB = 2048;

export const FUNCTIONS: readonly FunctionDefinition[] = [
  {
    name: "upsert-sale",
    kind: "http",
    routes: [jwt("POST /sales", "admin")],
    // Admin, but it only writes the sale's hashes and the recent-sales list.
    access: { ...NO_ACCESS, redis: true },
  },
  {
    name: "get-sale",
    kind: "http",
    routes: [open("GET /sales/{saleId}")],
    access: { ...NO_ACCESS, redis: true },
  },
  {
    name: "buy",
    kind: "http",
    routes: [jwt("POST /sales/{saleId}/buy")],
    access: { ...NO_ACCESS, redis: true, sendOrders: true },
  },
  {
    name: "get-order",
    kind: "http",
    routes: [jwt("GET /orders/{orderId}")],
    access: { ...NO_ACCESS, redis: true, database: true },
  },
  {
    name: "admin-reconcile",
    kind: "http",
    routes: [jwt("POST /admin/sales/{saleId}/reconcile", "admin")],
    // Compares Redis, Postgres and the queue depths.
    access: { ...NO_ACCESS, redis: true, database: true, queueStats: true },
  },
  {
    name: "admin-sale-controls",
    kind: "http",
    routes: [jwt("POST /admin/sales/{saleId}/controls", "admin")],
    // Pause/resume: a flag in the sale's hash(es), nothing else.
    access: { ...NO_ACCESS, redis: true },
  },
  {
    name: "admin-redrive",
    kind: "http",
    routes: [jwt("POST /admin/redrive", "admin")],
    // Moves messages from the DLQ back to the orders queue and touches nothing else
    // (no Redis, no database, no GetQueueAttributes: lambdas/adapters/sqs/redrive.ts never asks).
    access: { ...NO_ACCESS, redrive: true },
  },
  // The live dashboard: its data (admin) and the static page (public; it holds no data).
  {
    name: "admin-sales",
    kind: "http",
    routes: [jwt("GET /admin/sales", "admin")],
    // The recent-sales list and the sales' hashes live in Redis only.
    access: { ...NO_ACCESS, redis: true },
  },
  {
    name: "admin-sale-stats",
    kind: "http",
    routes: [jwt("GET /admin/sales/{saleId}/stats", "admin")],
    access: { ...NO_ACCESS, redis: true, database: true, queueStats: true },
  },
  {
    name: DASHBOARD_HANDLER,
    kind: "http",
    routes: [open("GET /dashboard"), open("GET /dashboard/{file}")],
    access: NO_ACCESS,
  },
  // The API's OpenAPI 3.1 document (lambdas/openapi/document.ts), public: it is the contract, no data.
  {
    name: OPENAPI_HANDLER,
    kind: "http",
    routes: [open("GET /openapi.json")],
    access: NO_ACCESS,
  },
  // Payments: the provider's signed webhook (public: the signature is its only authority).
  {
    name: "payment-webhook",
    kind: "http",
    routes: [open("POST /payments/webhook")],
    // Only the pay script in Redis; the payment's history reaches Postgres through the sweeper.
    access: { ...NO_ACCESS, redis: true, paymentWebhookSecret: true },
  },
  {
    name: EXPIRE_HOLDS_HANDLER,
    kind: "schedule",
    routes: [],
    // The expiry script and the sales' history outboxes in Redis; the events go to the orders queue.
    access: { ...NO_ACCESS, redis: true, sendOrders: true },
  },
  {
    name: REPAIR_ORDERS_HANDLER,
    kind: "schedule",
    routes: [],
    // Reconcile's sources (Redis, the rows, the queue depths) and its repairs (Redis scripts, row inserts);
    // it sends the sale events (and OrderConfirmed for the rows it writes).
    access: { ...NO_ACCESS, redis: true, database: true, queueStats: true, publishEvents: true },
  },
  // Draws (docs/draws.md): entries like buys, the draw's public record, the runner.
  {
    name: "enter-draw",
    kind: "http",
    routes: [jwt("POST /sales/{saleId}/entries")],
    // As the buy: the enter script in Redis, the entry's message to the orders queue.
    access: { ...NO_ACCESS, redis: true, sendOrders: true },
  },
  {
    name: "my-entry",
    kind: "http",
    routes: [jwt("GET /sales/{saleId}/entries/me")],
    access: { ...NO_ACCESS, redis: true },
  },
  {
    name: "get-draw",
    kind: "http",
    routes: [open("GET /sales/{saleId}/draw"), open("GET /sales/{saleId}/draw/entries")],
    // The state in Redis, the record (seed, list, winners) in Postgres.
    access: { ...NO_ACCESS, redis: true, database: true },
  },
  {
    name: "admin-draw",
    kind: "http",
    routes: [jwt("POST /admin/sales/{saleId}/draw", "admin")],
    // Freezes the entries; the runner draws.
    access: { ...NO_ACCESS, redis: true },
  },
  {
    name: RUN_DRAWS_HANDLER,
    kind: "schedule",
    routes: [],
    // Entries and the drawn order in Redis, entry rows and the record in Postgres, awards to the queue.
    access: { ...NO_ACCESS, redis: true, database: true, sendOrders: true },
  },
  {
    name: CONSUMER_HANDLER,
    kind: "consumer",
    routes: [],
    // OrderConfirmed for each new row.
    access: { ...NO_ACCESS, redis: true, database: true, publishEvents: true },
  },
  { name: MIGRATE_HANDLER, kind: "migrate", routes: [], access: { ...NO_ACCESS, database: true } },
];

/** The HTTP API's routes, each with the function that serves it. */
export const HTTP_ROUTES: readonly HttpRouteDefinition[] = FUNCTIONS.flatMap((fn) =>
  fn.routes.map((route) => ({ ...route, handler: fn.name })),
);
