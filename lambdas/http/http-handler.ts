import type { APIGatewayProxyResultV2, Context } from "aws-lambda";
import { readOriginVerifySecret } from "../platform/config.js";
import { functionChain } from "../platform/function-chain.js";
import { authenticated } from "./authenticated.js";
import { httpErrors, jsonBody, originVerified } from "./middleware.js";
import type { HttpEvent } from "./request.js";

/**
 * Bodies above this are refused with 413 before parsing. Here rather than in
 * schemas.ts, so a function that validates no body does not bundle the schemas.
 */
export const MAX_BODY_BYTES = 4 * 1024;

/** A payment provider's webhook event can be far larger than an API request (Stripe's reach tens of KB). */
export const MAX_WEBHOOK_BODY_BYTES = 256 * 1024;

/** Read once per container: the edge's origin header value, when the stack has an edge. */
const ORIGIN_SECRET = readOriginVerifySecret();

export type HttpRoute = (event: HttpEvent, context: Context) => Promise<APIGatewayProxyResultV2>;

/**
 * The middleware chain every HTTP handler shares: log context and the X-Ray
 * segment (functionChain), error rendering, the edge's origin header (when
 * the stack has an edge), identity (unless the route is public), then the
 * size-limited JSON body.
 */
export function httpHandler(
  route: HttpRoute,
  options: { public?: boolean; maxBodyBytes?: number } = {},
) {
  const chain = functionChain<HttpEvent, APIGatewayProxyResultV2>().use(httpErrors());
  if (ORIGIN_SECRET !== undefined) chain.use(originVerified(ORIGIN_SECRET));
  if (!options.public) chain.use(authenticated());
  return chain.use(jsonBody(options.maxBodyBytes ?? MAX_BODY_BYTES)).handler(route);
}
