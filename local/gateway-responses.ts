/**
 * The answers API Gateway's HTTP API makes itself, without invoking a
 * function: a JSON `{"message": ...}` body, never the API's own
 * `{"error": {code, message}}`. Shared by the local host and the LocalStack
 * REST adapter (which plays the HTTP API inside the function).
 */

/** A response API Gateway makes itself: `{"message": ...}`, never the API's `{"error": ...}`. */
export interface GatewayResponse {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

const MESSAGES = {
  401: "Unauthorized",
  403: "Forbidden",
  404: "Not Found",
  413: "Request Entity Too Large",
  429: "Too Many Requests",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
} as const;

export type GatewayStatus = keyof typeof MESSAGES;

export function gatewayResponse(
  statusCode: GatewayStatus,
  headers: Record<string, string> = {},
): GatewayResponse {
  return {
    statusCode,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify({ message: MESSAGES[statusCode] }),
  };
}
