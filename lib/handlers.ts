import { existsSync } from "node:fs";
import { join } from "node:path";
import {
  CONSUMER_HANDLER,
  DASHBOARD_HANDLER,
  FUNCTIONS,
  type FunctionAccess,
  type FunctionKind,
  HTTP_ROUTES,
  type HttpRouteDefinition,
  MIGRATE_HANDLER,
  NO_ACCESS,
} from "../lambdas/registry.js";

/**
 * Which functions the stack deploys, and what each may touch: the functions
 * of lambdas/registry.ts, one per handler, with the routes it serves.
 */

export { CONSUMER_HANDLER, DASHBOARD_HANDLER, MIGRATE_HANDLER };
export type HandlerKind = FunctionKind;
export type HandlerAccess = FunctionAccess;

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

/**
 * A handler the registry does not list (a test's extra route) gets Redis; one
 * behind the `admin` scope also the database and the queue statistics.
 */
function defaultHttpAccess(routes: HttpRouteDefinition[]): HandlerAccess {
  const admin = routes.some((route) => route.scopes.includes("admin"));
  return { ...NO_ACCESS, redis: true, database: admin, queueStats: admin };
}

export interface CatalogOptions {
  projectRoot: string;
  /** Routes to serve instead of the registry's (tests). */
  routes?: readonly HttpRouteDefinition[];
  /** Entry files to use instead of lambdas/handlers/<name>.ts (tests use stubs). */
  entryOverrides?: Record<string, string>;
}

export function handlerCatalog(options: CatalogOptions): HandlerSpec[] {
  const routes = options.routes ?? HTTP_ROUTES;
  const entryOf = (name: string) =>
    options.entryOverrides?.[name] ??
    join(options.projectRoot, "lambdas", "handlers", `${name}.ts`);
  const registered = new Map(FUNCTIONS.map((fn) => [fn.name, fn]));

  const byHandler = new Map<string, HttpRouteDefinition[]>();
  for (const route of routes) {
    if (!/^[a-z][a-z0-9-]*$/.test(route.handler)) {
      throw new Error(`Route ${route.routeKey}: handler name "${route.handler}" is not kebab-case`);
    }
    byHandler.set(route.handler, [...(byHandler.get(route.handler) ?? []), route]);
  }

  const specs: HandlerSpec[] = [];
  const add = (name: string, kind: HandlerKind, served: HttpRouteDefinition[]) => {
    const entry = entryOf(name);
    if (!existsSync(entry)) {
      const what = served[0] ? `Route ${served[0].routeKey}` : `Function ${name}`;
      throw new Error(
        `${what} needs ${entry}, which does not exist (lambdas/registry.ts and the handlers must agree)`,
      );
    }
    const access = registered.get(name)?.access ?? defaultHttpAccess(served);
    specs.push({ name, kind, entry, routes: served, access });
  };
  for (const [name, served] of byHandler) add(name, "http", served);
  for (const fn of FUNCTIONS) if (fn.kind !== "http") add(fn.name, fn.kind, []);
  return specs;
}
