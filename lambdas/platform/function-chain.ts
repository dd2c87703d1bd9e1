import { injectLambdaContext } from "@aws-lambda-powertools/logger/middleware";
import middy from "@middy/core";
import { logger } from "./logger.js";
import { tracingMiddleware } from "./tracing.js";

/**
 * The start of every function's middy chain: the invocation's log context
 * (request id, cold start) and, in AWS, its X-Ray segment. HTTP handlers,
 * the consumer and the scheduled functions add their own middlewares after.
 */
export function functionChain<Event, Result>() {
  const chain = middy<Event, Result>().use(injectLambdaContext(logger, { resetKeys: true }));
  const tracing = tracingMiddleware();
  if (tracing) chain.use(tracing);
  return chain;
}
