import { randomBytes, randomUUID } from "node:crypto";
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";

/**
 * Builds API Gateway HTTP API (payload format 2.0) events, as API Gateway
 * hands them to a Lambda behind a JWT authorizer
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-develop-integrations-lambda.html).
 * Used by the local host for real HTTP requests and by tests that call
 * handlers directly.
 */

export interface EventInput {
  routeKey: string;
  method: string;
  path: string;
  rawQueryString?: string;
  /** Header values; a repeated header is given joined with "," (see joinHeaderValues). */
  headers?: Record<string, string>;
  body?: string;
  /** The body is base64 (the request's content type is not text, see requestBody). */
  isBase64Encoded?: boolean;
  pathParameters?: Record<string, string>;
  /** Verified JWT claims; omitted for an unauthenticated request. */
  claims?: Record<string, string | number | boolean | string[]>;
  /** The token's scopes for a route with authorization scopes; null for one without. */
  scopes?: string[] | null;
  sourceIp?: string;
}

export function apiGatewayEvent(input: EventInput): APIGatewayProxyEventV2WithJWTAuthorizer {
  const now = Date.now();
  const headers: Record<string, string> = {};
  let cookies: string[] | undefined;
  for (const [name, value] of Object.entries(input.headers ?? {})) {
    const lower = name.toLowerCase();
    // Payload 2.0 moves the Cookie header(s) to `cookies`, one entry per cookie.
    if (lower === "cookie") {
      const split = value
        .split(/[;,]/)
        .map((cookie) => cookie.trim())
        .filter(Boolean);
      if (split.length > 0) cookies = [...(cookies ?? []), ...split];
      continue;
    }
    headers[lower] = lower in headers ? `${headers[lower]},${value}` : value;
  }
  const sourceIp = (input.sourceIp ?? "127.0.0.1").replace(/^::ffff:(?=\d+\.)/, "");
  const domainName = headers.host ?? "127.0.0.1";
  const event = {
    version: "2.0",
    routeKey: input.routeKey,
    rawPath: input.path,
    rawQueryString: input.rawQueryString ?? "",
    ...(cookies ? { cookies } : {}),
    headers,
    queryStringParameters: queryParameters(input.rawQueryString ?? ""),
    pathParameters: input.pathParameters,
    body: input.body,
    isBase64Encoded: input.body !== undefined && (input.isBase64Encoded ?? false),
    requestContext: {
      accountId: "000000000000",
      apiId: "local",
      domainName,
      domainPrefix: domainName.split(".")[0] ?? domainName,
      http: {
        method: input.method,
        path: input.path,
        protocol: "HTTP/1.1",
        sourceIp,
        userAgent: headers["user-agent"] ?? "",
      },
      requestId: randomUUID(),
      routeKey: input.routeKey,
      stage: "$default",
      time: clfTime(now),
      timeEpoch: now,
      authorizer: input.claims
        ? {
            principalId: "",
            integrationLatency: 0,
            jwt: { claims: input.claims, scopes: input.scopes ?? null },
          }
        : undefined,
    },
  };
  return event as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
}

/** Header values as payload 2.0 has them: a repeated header's values joined with "," (no space). */
export function joinHeaderValues(
  headers: Record<string, string | string[] | undefined>,
): Record<string, string> {
  const joined: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    joined[name] = Array.isArray(value) ? value.join(name === "cookie" ? "; " : ",") : value;
  }
  return joined;
}

/**
 * The request body as API Gateway's HTTP API hands it over: a UTF-8 string
 * for text content types (`text/*`, `application/json`, `application/xml`,
 * `application/javascript`), base64 with `isBase64Encoded` for everything
 * else, including no content type and `application/x-www-form-urlencoded`.
 * AWS documents only "if the content type of the request is binary, the body
 * is base64-encoded"; the split is the one measured on a live HTTP API
 * (https://github.com/ministackorg/ministack/pull/766).
 */
export function requestBody(
  bytes: Buffer,
  contentType: string | undefined,
): { body?: string; isBase64Encoded: boolean } {
  if (bytes.length === 0) return { isBase64Encoded: false };
  const type = (contentType ?? "").split(";", 1)[0]?.trim().toLowerCase() ?? "";
  const text =
    type.startsWith("text/") ||
    type === "application/json" ||
    type === "application/xml" ||
    type === "application/javascript";
  return text
    ? { body: bytes.toString("utf8"), isBase64Encoded: false }
    : { body: bytes.toString("base64"), isBase64Encoded: true };
}

/**
 * Random bits for trace ids and their parents, drawn 3 KB at a time: randomBytes
 * per request was a system call each, 6.5% of the local host's CPU on a
 * sold-out storm.
 */
const RANDOM_POOL_BYTES = 3072;
let randomPool = Buffer.alloc(0);
let randomPoolOffset = 0;

/** `bytes` random bytes as hex, from the pool. */
export function pooledRandomHex(bytes: number): string {
  if (randomPoolOffset + bytes > randomPool.length) {
    randomPool = randomBytes(RANDOM_POOL_BYTES);
    randomPoolOffset = 0;
  }
  const hex = randomPool.toString("hex", randomPoolOffset, randomPoolOffset + bytes);
  randomPoolOffset += bytes;
  return hex;
}

/** A trace id header as API Gateway adds it: `Root=1-<epoch hex>-<96 random bits>`. */
export function traceId(nowMs = Date.now()): string {
  return `Root=1-${Math.floor(nowMs / 1000).toString(16)}-${pooledRandomHex(12)}`;
}

const MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/** `requestContext.time` as API Gateway writes it: `12/Mar/2020:19:03:58 +0000`; one format per second. */
let clfSecond = Number.NaN;
let clfText = "";
function clfTime(nowMs: number): string {
  const second = Math.floor(nowMs / 1000);
  if (second === clfSecond) return clfText;
  const date = new Date(second * 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  clfSecond = second;
  clfText = `${two(date.getUTCDate())}/${MONTHS[date.getUTCMonth()]}/${date.getUTCFullYear()}:${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())} +0000`;
  return clfText;
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
