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
  Context,
} from "aws-lambda";
import { HTTP_ROUTES, type HttpRouteDefinition } from "../lambdas/registry.js";
import { apiGatewayEvent } from "./apigw-event.js";
import { type LocalJwtSettings, verifyBearer } from "./auth.js";
import { lambdaContext } from "./lambda-context.js";

/**
 * Plays API Gateway (HTTP API) in front of the handlers: matches the route,
 * runs the JWT authorizer's checks, builds the v2 event, invokes the handler
 * and writes its result back as the HTTP response.
 */

export type HttpLambda = (
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
  context: Context,
) => Promise<APIGatewayProxyResultV2>;

/** API Gateway's own payload limit is 10 MB; past this the host answers 413 itself. */
const MAX_REQUEST_BYTES = 1024 * 1024;

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

export interface HttpHostOptions {
  handlers: Map<string, HttpLambda>;
  jwt: LocalJwtSettings;
  routes?: readonly HttpRouteDefinition[];
}

export function createHttpHost(options: HttpHostOptions): Server {
  const routes = (options.routes ?? HTTP_ROUTES).map(compile);

  async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const url = requestTarget(request.url ?? "/");
    const method = request.method ?? "GET";
    let matched: { route: CompiledRoute; params: Record<string, string> } | undefined;
    let pathMatched = false;
    for (const route of routes) {
      const match = route.pattern.exec(url.pathname);
      if (!match) continue;
      pathMatched = true;
      if (route.method !== method) continue;
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
      if (pathMatched)
        return sendJson(
          response,
          405,
          "METHOD_NOT_ALLOWED",
          `${method} is not allowed on ${url.pathname}`,
        );
      return sendJson(response, 404, "NOT_FOUND", `No route for ${method} ${url.pathname}`);
    }

    const body = await readBody(request);
    if (body === null)
      return sendJson(
        response,
        413,
        "PAYLOAD_TOO_LARGE",
        `Request body exceeds ${MAX_REQUEST_BYTES} bytes`,
      );

    const { route, params } = matched;
    let claims: Awaited<ReturnType<typeof verifyBearer>> = null;
    if (route.authorization === "jwt") {
      claims = await verifyBearer(request.headers.authorization, options.jwt);
      if (!claims) {
        return sendJson(response, 401, "UNAUTHORIZED", "A valid bearer token is required", {
          "www-authenticate": "Bearer",
        });
      }
      const granted = new Set(String(claims.scope ?? "").split(" "));
      const missing = route.scopes.filter((scope) => !granted.has(scope));
      if (missing.length > 0) {
        return sendJson(
          response,
          403,
          "FORBIDDEN",
          `This operation requires the ${missing.join(" ")} scope`,
        );
      }
    }

    const handler = options.handlers.get(route.handler);
    if (!handler) return sendJson(response, 500, "INTERNAL_ERROR", "Route has no handler");
    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(request.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(",") : value;
    }
    const event = apiGatewayEvent({
      routeKey: route.routeKey,
      method,
      path: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      body: body.length > 0 ? body.toString("utf8") : undefined,
      pathParameters: route.parameterNames.length > 0 ? params : undefined,
      claims: claims ?? undefined,
      sourceIp: request.socket.remoteAddress,
    });
    const result = await handler(event, lambdaContext(route.handler));
    writeResult(response, result);
  }

  const server = createServer((request, response) => {
    handle(request, response).catch((error: unknown) => {
      // A handler that throws is a 500 in API Gateway too; keep the host alive.
      process.stderr.write(
        `${JSON.stringify({ level: "ERROR", message: "local host error", error: String(error) })}\n`,
      );
      if (!response.headersSent) sendJson(response, 500, "INTERNAL_ERROR", "Internal Server Error");
      else response.end();
    });
  });
  server.on("clientError", answerMalformedRequest);
  return server;
}

/**
 * Requests Node's HTTP parser refuses (a raw non-ASCII byte in the path,
 * headers over its 16 KiB limit, a broken request line) get the same JSON
 * error body as every other error, instead of Node's bare `400 Bad Request`.
 * Found by the fault suite's fuzzing.
 */
function answerMalformedRequest(error: NodeJS.ErrnoException, socket: Duplex): void {
  if (!socket.writable || error.code === "ECONNRESET") {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === "HPE_HEADER_OVERFLOW"
      ? [431, "HEADERS_TOO_LARGE", "Request headers are too large"]
      : error.code === "ERR_HTTP_REQUEST_TIMEOUT"
        ? [408, "REQUEST_TIMEOUT", "The request was not received in time"]
        : [400, "INVALID_REQUEST", "Malformed HTTP request"];
  const body = JSON.stringify({ error: { code, message } });
  // A response to HEAD has no body (its content-length still describes the GET's).
  const raw = (error as { rawPacket?: Buffer }).rawPacket;
  const head = raw?.toString("latin1", 0, 5) === "HEAD ";
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\n` +
      "content-type: application/json; charset=utf-8\r\n" +
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

function readBody(request: IncomingMessage): Promise<Buffer | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    request.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_REQUEST_BYTES) tooLarge = true;
      else chunks.push(chunk);
    });
    request.on("end", () => resolve(tooLarge ? null : Buffer.concat(chunks)));
    request.on("error", reject);
  });
}

/** API Gateway's rules for payload 2.0: a structured result, or any other value as a 200 JSON body. */
function writeResult(response: ServerResponse, result: APIGatewayProxyResultV2): void {
  if (typeof result !== "object" || result === null || !("statusCode" in result)) {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify(result));
    return;
  }
  const headers: Record<string, string | string[]> = {
    ...(result.headers as Record<string, string>),
  };
  if (result.cookies?.length) headers["set-cookie"] = result.cookies;
  response.writeHead(result.statusCode ?? 200, headers);
  const body = result.body ?? "";
  response.end(result.isBase64Encoded ? Buffer.from(body, "base64") : body);
}

export async function listen(server: Server, port: number, host = "127.0.0.1"): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}
