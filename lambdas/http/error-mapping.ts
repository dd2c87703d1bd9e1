import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import {
  DashboardFileNotFoundError,
  DomainError,
  ForbiddenError,
  InvalidIdentityError,
  InvalidRequestError,
  MalformedJsonError,
  OrderNotFoundError,
  PayloadTooLargeError,
  PurchaseRefusedError,
  RateLimitedError,
  SaleNotFoundError,
  ServiceUnavailableError,
  ShardsImmutableError,
  StockBelowSoldError,
  UnauthorizedError,
} from "../domain/errors.js";
import { errorBody, json } from "./responses.js";

/** The one place that decides which HTTP status a domain error becomes. */
export function statusOf(error: DomainError): number {
  if (error instanceof InvalidRequestError || error instanceof MalformedJsonError) return 400;
  if (error instanceof UnauthorizedError || error instanceof InvalidIdentityError) return 401;
  if (error instanceof ForbiddenError) return 403;
  if (
    error instanceof SaleNotFoundError ||
    error instanceof OrderNotFoundError ||
    error instanceof DashboardFileNotFoundError
  ) {
    return 404;
  }
  if (
    error instanceof PurchaseRefusedError ||
    error instanceof StockBelowSoldError ||
    error instanceof ShardsImmutableError
  ) {
    return 409;
  }
  if (error instanceof PayloadTooLargeError) return 413;
  if (error instanceof RateLimitedError) return 429;
  if (error instanceof ServiceUnavailableError) return 503;
  return 400;
}

export function domainErrorResponse(error: DomainError): APIGatewayProxyStructuredResultV2 {
  const headers: Record<string, string> = {};
  if (error instanceof ServiceUnavailableError || error instanceof RateLimitedError) {
    headers["retry-after"] = String(error.retryAfterSeconds);
  }
  if (error instanceof UnauthorizedError) headers["www-authenticate"] = "Bearer";
  return json(statusOf(error), errorBody(error.code, error.message), headers);
}

export const INTERNAL_ERROR_RESPONSE = json(
  500,
  errorBody("INTERNAL_ERROR", "Something went wrong; the request was not completed"),
);

export { DomainError };
