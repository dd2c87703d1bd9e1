/**
 * The HTTP API's routes, shared by the CDK stack (API Gateway routes and
 * their functions) and the local host (which serves the same handlers).
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

export const HTTP_ROUTES: readonly HttpRouteDefinition[] = [
  { routeKey: "POST /sales", handler: "upsert-sale", authorization: "jwt", scopes: ["admin"] },
  { routeKey: "GET /sales/{saleId}", handler: "get-sale", authorization: "none", scopes: [] },
  { routeKey: "POST /sales/{saleId}/buy", handler: "buy", authorization: "jwt", scopes: [] },
  { routeKey: "GET /orders/{orderId}", handler: "get-order", authorization: "jwt", scopes: [] },
  {
    routeKey: "POST /admin/sales/{saleId}/reconcile",
    handler: "admin-reconcile",
    authorization: "jwt",
    scopes: ["admin"],
  },
  {
    routeKey: "POST /admin/redrive",
    handler: "admin-redrive",
    authorization: "jwt",
    scopes: ["admin"],
  },
  // The live dashboard: its data (admin) and the static page (public; it holds no data).
  { routeKey: "GET /admin/sales", handler: "admin-sales", authorization: "jwt", scopes: ["admin"] },
  {
    routeKey: "GET /admin/sales/{saleId}/stats",
    handler: "admin-sale-stats",
    authorization: "jwt",
    scopes: ["admin"],
  },
  { routeKey: "GET /dashboard", handler: "dashboard", authorization: "none", scopes: [] },
  { routeKey: "GET /dashboard/{file}", handler: "dashboard", authorization: "none", scopes: [] },
];
