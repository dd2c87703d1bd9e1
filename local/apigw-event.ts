import { randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";

/**
 * Builds API Gateway HTTP API (payload format 2.0) events, as API Gateway
 * hands them to a Lambda behind a JWT authorizer. Used by the local host for
 * real HTTP requests and by tests that call handlers directly.
 */

export interface EventInput {
  routeKey: string;
  method: string;
  path: string;
  rawQueryString?: string;
  headers?: Record<string, string>;
  body?: string;
  pathParameters?: Record<string, string>;
  /** Verified JWT claims; omitted for an unauthenticated request. */
  claims?: Record<string, string | number | boolean | string[]>;
  scopes?: string[];
  sourceIp?: string;
}

export function apiGatewayEvent(input: EventInput): APIGatewayProxyEventV2WithJWTAuthorizer {
  const now = Date.now();
  const headers = Object.fromEntries(
    Object.entries(input.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
  );
  const event = {
    version: "2.0",
    queryStringParameters: queryParameters(input.rawQueryString ?? ""),
    routeKey: input.routeKey,
    rawPath: input.path,
    rawQueryString: input.rawQueryString ?? "",
    headers,
    pathParameters: input.pathParameters,
    body: input.body,
    isBase64Encoded: false,
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName: headers.host ?? "127.0.0.1",
      domainPrefix: "local",
      http: {
        method: input.method,
        path: input.path,
        protocol: "HTTP/1.1",
        sourceIp: input.sourceIp ?? "127.0.0.1",
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: input.routeKey,
      stage: "$default",
      time: new Date(now).toUTCString(),
      timeEpoch: now,
      authorizer: input.claims
        ? {
            principalId: "",
            integrationLatency: 0,
            jwt: { claims: input.claims, scopes: input.scopes ?? [] },
          }
        : undefined,
    },
  };
  return event as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
}

/** As API Gateway v2 does: absent without a query string, repeated names joined with commas. */
function queryParameters(raw: string): Record<string, string> | undefined {
  if (raw === "") return undefined;
  const parameters: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(raw)) {
    parameters[name] = name in parameters ? `${parameters[name]},${value}` : value;
  }
  return parameters;
}
