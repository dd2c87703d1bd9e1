import type {
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyResult,
  APIGatewayProxyResultV2,
  Context,
} from "aws-lambda";
import type { HttpRouteDefinition } from "../../lambdas/registry.js";
import { apiGatewayEvent } from "../../local/apigw-event.js";
import { type LocalJwtSettings, verifyBearer } from "../../local/auth.js";

/**
 * LocalStack only. A REST API (v1) sends payload format 1.0 events; the
 * handlers are written for the HTTP API's 2.0 events behind a JWT authorizer.
 * This wrapper plays the HTTP API in between, as the local host does: it finds
 * the route, verifies the bearer token (HS256, LOCAL_JWT_SECRET) and the
 * route's scopes, builds the v2 event and turns the v2 result back into a v1
 * one. It is bundled around the real handler module; nothing in lambdas/
 * changes.
 */

export type HttpApiHandler = (
  event: APIGatewayProxyEventV2WithJWTAuthorizer,
  context: Context,
) => Promise<APIGatewayProxyResultV2>;

export type RestApiHandler = (
  event: APIGatewayProxyEvent,
  context: Context,
) => Promise<APIGatewayProxyResult>;

export interface RestAdapterOptions {
  routes: readonly HttpRouteDefinition[];
  jwt: LocalJwtSettings;
}

function errorResult(
  statusCode: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): APIGatewayProxyResult {
  return {
    statusCode,
    headers: { "content-type": "application/json; charset=utf-8", ...headers },
    body: JSON.stringify({ error: { code, message } }),
  };
}

function lowerCaseHeaders(event: APIGatewayProxyEvent): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(event.multiValueHeaders ?? {})) {
    if (values?.length) headers[name.toLowerCase()] = values.join(",");
  }
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined && headers[name.toLowerCase()] === undefined) {
      headers[name.toLowerCase()] = value;
    }
  }
  return headers;
}

function rawQueryString(event: APIGatewayProxyEvent): string {
  const query = new URLSearchParams();
  const multi = event.multiValueQueryStringParameters ?? {};
  for (const [name, values] of Object.entries(multi)) {
    for (const value of values ?? []) query.append(name, value);
  }
  for (const [name, value] of Object.entries(event.queryStringParameters ?? {})) {
    if (value !== undefined && !(name in multi)) query.append(name, value);
  }
  return query.toString();
}

function scopesOf(claims: Record<string, unknown>): Set<string> {
  return new Set(
    String(claims.scope ?? claims.scp ?? "")
      .replace(/^\[|\]$/g, "")
      .split(/[\s,]+/)
      .filter(Boolean),
  );
}

/** API Gateway's payload 2.0 rules: a structured result, or any other value as a 200 JSON body. */
function toRestResult(result: APIGatewayProxyResultV2): APIGatewayProxyResult {
  if (typeof result !== "object" || result === null || !("statusCode" in result)) {
    return {
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: JSON.stringify(result),
    };
  }
  const headers: Record<string, boolean | number | string> = { ...(result.headers ?? {}) };
  return {
    statusCode: result.statusCode ?? 200,
    headers,
    multiValueHeaders: result.cookies?.length ? { "set-cookie": result.cookies } : undefined,
    body: result.body ?? "",
    isBase64Encoded: result.isBase64Encoded ?? false,
  };
}

export function restAdapter(inner: HttpApiHandler, options: RestAdapterOptions): RestApiHandler {
  return async (event, context) => {
    const routeKey = `${event.httpMethod} ${event.resource}`;
    const route = options.routes.find((candidate) => candidate.routeKey === routeKey);
    if (!route) return errorResult(404, "NOT_FOUND", `No route for ${routeKey}`);

    const headers = lowerCaseHeaders(event);
    let claims: Awaited<ReturnType<typeof verifyBearer>> = null;
    if (route.authorization === "jwt") {
      claims = await verifyBearer(headers.authorization, options.jwt);
      if (!claims) {
        return errorResult(401, "UNAUTHORIZED", "A valid bearer token is required", {
          "www-authenticate": "Bearer",
        });
      }
      const granted = scopesOf(claims);
      const missing = route.scopes.filter((scope) => !granted.has(scope));
      if (missing.length > 0) {
        return errorResult(
          403,
          "FORBIDDEN",
          `This operation requires the ${missing.join(" ")} scope`,
        );
      }
    }

    const body =
      event.body === null || event.body === undefined
        ? undefined
        : event.isBase64Encoded
          ? Buffer.from(event.body, "base64").toString("utf8")
          : event.body;
    const pathParameters = Object.fromEntries(
      Object.entries(event.pathParameters ?? {}).filter(
        (entry): entry is [string, string] => entry[1] !== undefined,
      ),
    );
    const v2 = apiGatewayEvent({
      routeKey: route.routeKey,
      method: event.httpMethod,
      path: event.path,
      rawQueryString: rawQueryString(event),
      headers,
      body,
      pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : undefined,
      claims: claims ?? undefined,
      scopes: claims ? [...scopesOf(claims)] : undefined,
      sourceIp: event.requestContext?.identity?.sourceIp,
    });
    return toRestResult(await inner(v2, context));
  };
}
