// LocalStack REST API only: esbuild aliases `flash-sale-route-handler` to the
// handler module of this function (see lib/constructs/functions.ts).
import { handler as routeHandler } from "flash-sale-route-handler";
import { HTTP_ROUTES } from "../../lambdas/registry.js";
import { localJwtSettings } from "../../local/auth.js";
import { restAdapter } from "./rest-adapter.js";

export const handler = restAdapter(routeHandler, { routes: HTTP_ROUTES, jwt: localJwtSettings() });
