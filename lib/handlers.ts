import { existsSync } from "node:fs";
import { join } from "node:path";
import { HTTP_ROUTES, type HttpRouteDefinition } from "../lambdas/registry.js";

/**
 * Which functions the stack deploys, and what each may touch. HTTP functions
 * come from lambdas/registry.ts (one function per distinct handler, whatever
 * routes are added later); the order consumer and the migration function are
 * deployed only once their entry files exist.
 */

export type HandlerKind = "http" | "consumer" | "migrate";

/** What a function is given: environment variables, grants and network paths follow from it. */
export interface HandlerAccess {
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
}

export interface HandlerSpec {
  /** File name under lambdas/handlers/ without extension; also the function's construct id. */
  name: string;
  kind: HandlerKind;
  /** Absolute path of the entry file (exports `handler`). */
  entry: string;
  /** The HTTP routes it serves (empty for the consumer and the migration function). */
  routes: HttpRouteDefinition[];
  access: HandlerAccess;
}

export const CONSUMER_HANDLER = "consume-orders";
/** Serves the live dashboard's static files; its bundle carries them (`__DASHBOARD_FILES__`). */
export const DASHBOARD_HANDLER = "dashboard";
export const MIGRATE_HANDLER = "migrate";

const NONE: HandlerAccess = {
  redis: false,
  database: false,
  sendOrders: false,
  queueStats: false,
  redrive: false,
};

/**
 * Known handlers whose needs differ from the default rule. Everything else
 * that serves HTTP gets Redis; a handler behind the `admin` scope also gets
 * the database and queue statistics (the admin/reporting routes).
 */
const KNOWN_ACCESS: Record<string, HandlerAccess> = {
  buy: { ...NONE, redis: true, sendOrders: true },
  "get-sale": { ...NONE, redis: true },
  // Admin, but it only writes the sale's Redis hash.
  "upsert-sale": { ...NONE, redis: true },
  "get-order": { ...NONE, redis: true, database: true },
  // Admin: moves messages from the DLQ back to the orders queue and touches nothing else
  // (no Redis, no database, no GetQueueAttributes: lambdas/adapters/sqs/redrive.ts never asks).
  "admin-redrive": { ...NONE, redrive: true },
  // Admin: compares Redis, Postgres and the queue depths (the default admin rule, stated).
  "admin-reconcile": { ...NONE, redis: true, database: true, queueStats: true },
  // Admin: the recent-sales list and the sales' hashes live in Redis only.
  "admin-sales": { ...NONE, redis: true },
  // The page itself: static files, no data; its numbers come from admin-sale-stats.
  [DASHBOARD_HANDLER]: NONE,
  [CONSUMER_HANDLER]: { ...NONE, redis: true, database: true },
  [MIGRATE_HANDLER]: { ...NONE, database: true },
};

function defaultHttpAccess(routes: HttpRouteDefinition[]): HandlerAccess {
  const admin = routes.some((route) => route.scopes.includes("admin"));
  return { ...NONE, redis: true, database: admin, queueStats: admin };
}

export interface CatalogOptions {
  projectRoot: string;
  routes?: readonly HttpRouteDefinition[];
  /** Entry files to use instead of lambdas/handlers/<name>.ts (tests use stubs). */
  entryOverrides?: Record<string, string>;
}

export function handlerCatalog(options: CatalogOptions): HandlerSpec[] {
  const routes = options.routes ?? HTTP_ROUTES;
  const entryOf = (name: string) =>
    options.entryOverrides?.[name] ??
    join(options.projectRoot, "lambdas", "handlers", `${name}.ts`);

  const byHandler = new Map<string, HttpRouteDefinition[]>();
  for (const route of routes) {
    if (!/^[a-z][a-z0-9-]*$/.test(route.handler)) {
      throw new Error(`Route ${route.routeKey}: handler name "${route.handler}" is not kebab-case`);
    }
    byHandler.set(route.handler, [...(byHandler.get(route.handler) ?? []), route]);
  }

  const specs: HandlerSpec[] = [];
  for (const [name, served] of byHandler) {
    const entry = entryOf(name);
    if (!existsSync(entry)) {
      throw new Error(
        `Route ${served[0]?.routeKey} needs ${entry}, which does not exist (lambdas/registry.ts and the handlers must agree)`,
      );
    }
    specs.push({
      name,
      kind: "http",
      entry,
      routes: served,
      access: KNOWN_ACCESS[name] ?? defaultHttpAccess(served),
    });
  }

  for (const [name, kind] of [
    [CONSUMER_HANDLER, "consumer"],
    [MIGRATE_HANDLER, "migrate"],
  ] as const) {
    const entry = entryOf(name);
    if (existsSync(entry)) {
      specs.push({ name, kind, entry, routes: [], access: KNOWN_ACCESS[name] ?? NONE });
    }
  }
  return specs;
}
