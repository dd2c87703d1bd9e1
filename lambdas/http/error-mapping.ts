import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { DomainError, type RetryableError } from "../domain/errors.js";
import { OUTCOMES } from "../domain/outcomes.js";
import { errorBody, json } from "./responses.js";

/**
 * The one place a domain error becomes an HTTP response: the status the
 * error carries (from the outcomes table), the error envelope, and the
 * headers its kind implies.
 */
export function domainErrorResponse(error: DomainError): APIGatewayProxyStructuredResultV2 {
  const headers: Record<string, string> = {};
  if ("retryAfterSeconds" in error) {
    headers["retry-after"] = String((error as DomainError & RetryableError).retryAfterSeconds);
  }
  if (error.code === "UNAUTHORIZED") headers["www-authenticate"] = "Bearer";
  return json(error.status, errorBody(error.code, error.message), headers);
}

export const INTERNAL_ERROR_RESPONSE = json(
  OUTCOMES.INTERNAL_ERROR.status,
  errorBody("INTERNAL_ERROR", OUTCOMES.INTERNAL_ERROR.message),
);

export { DomainError };
