import { randomUUID } from "node:crypto";
import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerResponse,
  STATUS_CODES,
} from "node:http";
import type { AddressInfo } from "node:net";
import type { Duplex } from "node:stream";
import type {
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyResultV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from "aws-lambda";
import { resolveScopes } from "../lambdas/http/scopes.js";
import { HTTP_ROUTES, type HttpRouteDefinition } from "../lambdas/registry.js";
import { apiGatewayEvent, joinHeaderValues, requestBody, traceId } from "./apigw-event.js";
import { authorizeRoute, type Claims, type LocalJwtSettings } from "./auth.js";
import { type GatewaySettings, stackGatewaySettings, TokenBucket } from "./gateway.js";
import { type GatewayStatus, gatewayResponse } from "./gateway-responses.js";
import { invocationTraceHeader, withinInvocation } from "./invoke-store.js";
import { lambdaContext } from "./lambda-context.js";

/**
 * Plays API Gateway (HTTP API) in front of the handlers, with the stack's
 * settings: the request-size quotas (431, 413), the route match (404, no 405),
 * the stage throttle (429), the JWT authorizer (401, 403), then the v2 event,
 * the handler under its function timeout, and its result written back as the
 * HTTP response (500 when the function fails). Every answer the gateway makes
 * itself is `{"message": ...}`, as in AWS; the API's own errors come from the
 * handlers as `{"error": {code, message}}`.
 */

export type HttpLambda = (
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
  context: Context,
) => Promise<APIGatewayProxyResultV2>;

interface CompiledRoute extends HttpRouteDefinition {
  method: string;
  pattern: RegExp;
  parameterNames: string[];
}

function compile(route: HttpRouteDefinition): CompiledRoute {
  const [method, template] = route.routeKey.split(" ") as [string, string];
  const parameterNames: string[] = [];
  const source = template
    .split("/")
    .map((segment) => {
      const parameter = /^\{(\w+)\}$/.exec(segment);
      if (!parameter?.[1]) return segment.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      parameterNames.push(parameter[1]);
      return "([^/]+)";
    })
    .join("/");
  return { ...route, method, pattern: new RegExp(`^${source}/?$`), parameterNames };
}

/** Loads each route's handler module, as Lambda would load the function's bundle. */
export async function loadRouteHandlers(
  routes: readonly HttpRouteDefinition[] = HTTP_ROUTES,
): Promise<Map<string, HttpLambda>> {
  const handlers = new Map<string, HttpLambda>();
  for (const route of routes) {
    // Loaded lazily, as Lambda loads a function's bundle at cold start. The
    // name comes from lambdas/registry.ts, never from a request.
    if (!/^[a-z][a-z0-9-]*$/.test(route.handler)) {
      throw new Error(`Route ${route.routeKey}: handler name "${route.handler}" is not kebab-case`);
    }
    const entry = new URL(`../lambdas/handlers/${route.handler}.ts`, import.meta.url).href;
    const module = (await import(/* @vite-ignore */ entry)) as { handler: unknown };
    handlers.set(route.handler, module.handler as HttpLambda);
  }
  return handlers;
}

function sendJson(
  response: ServerResponse,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
) {
  response.writeHead(status, { "content-type": "application/json; charset=utf-8", ...headers });
  response.end(JSON.stringify({ error: { code, message } }));
}

/** An answer API Gateway makes itself (`{"message": ...}`), with its request id header. */
function sendGateway(
  response: ServerResponse,
  status: GatewayStatus,
  requestId: string,
  headers: Record<string, string> = {},
) {
  const reply = gatewayResponse(status, headers);
  response.writeHead(reply.statusCode, { ...reply.headers, "apigw-requestid": requestId });
  response.end(reply.body);
}

export interface HttpHostOptions {
  handlers: Map<string, HttpLambda>;
  jwt: LocalJwtSettings;
  routes?: readonly HttpRouteDefinition[];
  /** Limits, stage throttle and function timeout; default: the stack's (cdk.json, lib/config.ts). */
  gateway?: Partial<GatewaySettings>;
}

export function createHttpHost(options: HttpHostOptions): Server {
  const gateway: GatewaySettings = { ...stackGatewaySettings(), ...options.gateway };
  // The admin routes require the configured admin scope, as the stage's JWT authorizer does.
  const routes = (options.routes ?? HTTP_ROUTES)
    .map((route) => ({ ...route, scopes: resolveScopes(route.scopes, gateway.adminScope) }))
    .map(compile);
  const stageThrottle = new TokenBucket(gateway.throttleRateLimit, gateway.throttleBurstLimit);

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const url = requestTarget(request.url ?? "/");
    const method = request.method ?? "GET";
    if (requestLineAndHeaderBytes(request) > gateway.maxRequestLineAndHeaderBytes) {
      request.resume();
      return sendGateway(response, 431, requestId);
    }
    if (Number(request.headers["content-length"] ?? 0) > gateway.maxPayloadBytes) {
      request.resume();
      return sendGateway(response, 413, requestId);
    }
    let matched: { route: CompiledRoute; params: Record<string, string> } | undefined;
    for (const route of routes) {
      // Only METHOD and path select a route: another method on a known path is no route
      // at all (404), as in the HTTP API, which has no 405.
      if (route.method !== method) continue;
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      const params = decodeParameters(route.parameterNames, match);
      if (params === null) {
        request.resume();
        return sendJson(response, 400, "INVALID_REQUEST", "Malformed percent-encoding in the path");
      }
      matched = { route, params };
      break;
    }
    if (!matched) {
      request.resume();
      return sendGateway(response, 404, requestId);
    }

    const body = await readBody(request, gateway.maxPayloadBytes);
    if (body === null) return sendGateway(response, 413, requestId);
    if (!stageThrottle.take()) return sendGateway(response, 429, requestId);

    const { route, params } = matched;
    let authorizer: { claims: Claims; scopes: string[] | null } | undefined;
    if (route.authorization === "jwt") {
      const verdict = await authorizeRoute(request.headers.authorization, route, options.jwt);
      if (!verdict.allowed) {
        response.writeHead(verdict.response.statusCode, {
          ...verdict.response.headers,
          "apigw-requestid": requestId,
        });
        response.end(verdict.response.body);
        return;
      }
      authorizer = verdict;
    }

    const handler = options.handlers.get(route.handler);
    if (!handler) return sendGateway(response, 500, requestId);
    const headers = joinHeaderValues(request.headersDistinct);
    const sourceIp = request.socket.remoteAddress;
    headers["x-forwarded-for"] ??= (sourceIp ?? "127.0.0.1").replace(/^::ffff:(?=\d+\.)/, "");
    headers["x-forwarded-port"] ??= String(request.socket.localPort ?? "");
    headers["x-forwarded-proto"] ??= "http";
    headers["x-amzn-trace-id"] ??= traceId();
    const event = apiGatewayEvent({
      routeKey: route.routeKey,
      method,
      path: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      ...requestBody(body, headers["content-type"]),
      pathParameters: route.parameterNames.length > 0 ? params : undefined,
      claims: authorizer?.claims,
      scopes: authorizer?.scopes,
      sourceIp,
    });
    const invocation = await invoke(
      handler,
      event,
      lambdaContext(route.handler, gateway.functionTimeoutMs, gateway.functionMemoryMb),
      gateway.functionTimeoutMs,
      invocationTraceHeader(headers["x-amzn-trace-id"]),
    );
    const result = "result" in invocation ? integrationResponse(invocation.result) : null;
    if (!result) {
      // The function failed (threw, timed out, or answered what payload 2.0 cannot render):
      // API Gateway answers 500 {"message":"Internal Server Error"} (http-api-troubleshooting-lambda).
      logHostError(
        "error" in invocation ? invocation.error : "the function's response is malformed",
        route.handler,
        requestId,
      );
      return sendGateway(response, 500, requestId);
    }
    response.writeHead(result.statusCode, { ...result.headers, "apigw-requestid": requestId });
    response.end(result.body);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      // Whatever fails in the gateway itself is its 500; keep the host alive.
      logHostError(String(error), "local host", "");
      if (!response.headersSent) sendGateway(response, 500, randomUUID());
      else response.end();
    });
  });
  server.on("clientError", answerMalformedRequest);
  return server;
}

function logHostError(error: string, functionName: string, requestId: string): void {
  process.stderr.write(
    `${JSON.stringify({ level: "ERROR", message: "local host error", function: functionName, requestId, error })}\n`,
  );
}

type Invocation = { result: unknown } | { error: string };

/**
 * Runs the handler as Lambda runs the function: past its timeout the caller
 * gets the function error Lambda reports ("Task timed out after N seconds").
 * Lambda then stops the execution environment; locally the handler's promise
 * is left to settle in the background (it cannot be stopped in-process).
 */
async function invoke(
  handler: HttpLambda,
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
  context: Context,
  timeoutMs: number,
  traceHeader: string,
): Promise<Invocation> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Invocation>((resolve) => {
    timer = setTimeout(
      () => resolve({ error: `Task timed out after ${(timeoutMs / 1000).toFixed(2)} seconds` }),
      timeoutMs,
    );
  });
  const ran = Promise.resolve()
    .then(() => withinInvocation(context, traceHeader, () => handler(event, context)))
    .then(
      (result): Invocation => ({ result }),
      (error: unknown): Invocation => ({
        error: error instanceof Error ? (error.stack ?? error.message) : String(error),
      }),
    );
  try {
    return await Promise.race([ran, timedOut]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * API Gateway's rules for a payload 2.0 response: a structured result (with a
 * `statusCode`), or any other JSON value as a 200 JSON body. A structured
 * result it cannot render (a status that is not an HTTP status, a body that
 * is not a string, headers or cookies of the wrong type, a broken base64
 * body) is a malformed response: null here, a 500 for the client.
 */
function integrationResponse(
  result: unknown,
): { statusCode: number; headers: Record<string, string | string[]>; body: Buffer } | null {
  if (typeof result !== "object" || result === null || !("statusCode" in result)) {
    let text: string | undefined;
    try {
      text = JSON.stringify(result ?? null);
    } catch {
      return null;
    }
    return {
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: Buffer.from(text ?? "null"),
    };
  }
  const structured = result as APIGatewayProxyStructuredResultV2;
  const { statusCode, body = "", isBase64Encoded = false, cookies = [] } = structured;
  const rawHeaders: unknown = structured.headers ?? {};
  if (!Number.isInteger(statusCode) || (statusCode as number) < 100 || (statusCode as number) > 599)
    return null;
  if (typeof body !== "string" || typeof isBase64Encoded !== "boolean") return null;
  if (!Array.isArray(cookies) || !cookies.every((cookie) => typeof cookie === "string"))
    return null;
  if (typeof rawHeaders !== "object" || rawHeaders === null || Array.isArray(rawHeaders))
    return null;
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(rawHeaders)) {
    if (!["string", "number", "boolean"].includes(typeof value)) return null;
    headers[name] = String(value);
  }
  if (cookies.length > 0) headers["set-cookie"] = cookies;
  if (isBase64Encoded && !/^[A-Za-z0-9+/]*={0,2}$/.test(body.replace(/\s/g, ""))) return null;
  return {
    statusCode: statusCode as number,
    headers,
    body: isBase64Encoded ? Buffer.from(body, "base64") : Buffer.from(body),
  };
}

/** The size the HTTP API's 10,240-byte quota counts: the request line and the header values. */
function requestLineAndHeaderBytes(request: IncomingMessage): number {
  let bytes = Buffer.byteLength(
    `${request.method} ${request.url} HTTP/${request.httpVersion}`,
    "latin1",
  );
  for (let i = 1; i < request.rawHeaders.length; i += 2)
    bytes += Buffer.byteLength(request.rawHeaders[i] ?? "", "latin1");
  return bytes;
}

/**
 * Requests Node's HTTP parser refuses (a raw non-ASCII byte in the path,
 * headers over its 16 KiB limit, a broken request line) get a JSON body
 * instead of Node's bare `400 Bad Request`. Found by the fault suite's fuzzing.
 */
function answerMalformedRequest(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || error.code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  let status: number;
  let body: string;
  if (error.code === "HPE_HEADER_OVERFLOW") {
    // Past the HTTP API's 10,240-byte quota as well: the gateway's own answer.
    ({ statusCode: status, body } = gatewayResponse(431));
  } else {
    const [code, name, message] =
      error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "REQUEST_TIMEOUT", "The request was not received in time"]
        : [400, "INVALID_REQUEST", "Malformed HTTP request"];
    status = code;
    body = JSON.stringify({ error: { code: name, message } });
  }
  // A response to HEAD has no body (its content-length still describes the GET's).
  const raw = (error as { rawPacket?: Buffer }).rawPacket;
  const head = raw?.toString("latin1", 0, 5) === "HEAD ";
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      "content-type: application/json\r\n" +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${head ? "" : body}`,
  );
}

/**
 * The path and query of a request target, taken as sent: no dot-segment
 * resolution (so `/sales/../admin/...` matches no route) and no parsing that
 * can throw (`new URL("//", base)` does). Found by the fault suite's fuzzing.
 */
function requestTarget(target: string): { pathname: string; search: string } {
  const [beforeFragment = ""] = target.split("#", 1);
  const query = beforeFragment.indexOf("?");
  let pathname = query === -1 ? beforeFragment : beforeFragment.slice(0, query);
  const search = query === -1 ? "" : beforeFragment.slice(query);
  // Absolute form (`http://host/path`), which HTTP allows in a request line.
  const absolute = /^[a-z][a-z0-9+.-]*:\/\/[^/]*/i.exec(pathname);
  if (absolute) pathname = pathname.slice(absolute[0].length) || "/";
  return { pathname, search };
}

/** Path parameters, percent-decoded; null when the encoding is malformed. */
function decodeParameters(names: string[], match: RegExpExecArray): Record<string, string> | null {
  try {
    return Object.fromEntries(
      names.map((name, i) => [name, decodeURIComponent(match[i + 1] ?? "")]),
    );
  } catch {
    return null;
  }
}

function readBody(request: IncomingMessage, maxBytes: number): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on("end", () => resolve(tooLarge ? null : Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

/**
 * Pending connections the kernel may hold for the host (capped by
 * net.core.somaxconn): API Gateway takes a crowd arriving at once, so the
 * local one should not make the 512th buyer of a burst wait for a SYN retry.
 */
export const LISTEN_BACKLOG = 4096;

export async function listen(server: Server, port: number, host = "127.0.0.1"): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen({ port, host, backlog: LISTEN_BACKLOG }, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
