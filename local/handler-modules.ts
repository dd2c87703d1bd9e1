/**
 * The handler modules the local host serves, loaded lazily as Lambda loads a
 * function's bundle at cold start. Keys are the `handler` names of
 * lambdas/registry.ts.
 */
export const HANDLER_MODULES: Record<string, () => Promise<{ handler: unknown }>> = {
  buy: () => import("../lambdas/handlers/buy.js"),
  "get-sale": () => import("../lambdas/handlers/get-sale.js"),
  "upsert-sale": () => import("../lambdas/handlers/upsert-sale.js"),
  "get-order": () => import("../lambdas/handlers/get-order.js"),
  "admin-reconcile": () => import("../lambdas/handlers/admin-reconcile.js"),
  "admin-redrive": () => import("../lambdas/handlers/admin-redrive.js"),
  "admin-sales": () => import("../lambdas/handlers/admin-sales.js"),
  "admin-sale-stats": () => import("../lambdas/handlers/admin-sale-stats.js"),
  dashboard: () => import("../lambdas/handlers/dashboard.js"),
};
