/** Resolved at bundle time by esbuild's --alias to one of lambdas/handlers/*.ts. */
declare module "flash-sale-route-handler" {
  import type { HttpApiHandler } from "./rest-adapter.js";
  export const handler: HttpApiHandler;
}
