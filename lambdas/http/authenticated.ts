import type { MiddlewareObj } from "@middy/core";
import type { APIGatewayProxyResultV2 } from "aws-lambda";
import { callerId, type HttpEvent } from "./request.js";

/**
 * Refuses requests without a caller identity before anything else runs, as
 * API Gateway's JWT authorizer does in front of the function.
 */
export function authenticated(): MiddlewareObj<HttpEvent, APIGatewayProxyResultV2> {
  return {
    before: (request) => {
      callerId(request.event);
    },
  };
}
