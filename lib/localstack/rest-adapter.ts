import type {
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyResult,
  APIGatewayProxyResultV2,
  Context,
} from "aws-lambda";
import type { HttpRouteDefinition } from "../../lambdas/registry.js";
import { apiGatewayEvent, requestBody } from "../../local/apigw-event.js";
import { authorizeRoute, type Claims, type LocalJwtSettings } from "../../local/auth.js";
import { type GatewayResponse, gatewayResponse } from "../../local/gateway-responses.js";

/**
 * LocalStack only. A REST API (v1) sends payload format 1.0 events; the
 * handlers are written for the HTTP API's 2.0 events behind a JWT authorizer.
 * This wrapper plays the HTTP API in between, as the local host does: it finds
 * the route, runs the same JWT authorizer checks (HS256, LOCAL_JWT_SECRET;
 * local/auth.ts) with the same refusals (`{"message": ...}`, as API Gateway
 * answers), builds the v2 event and turns the v2 result back into a v1 one. It is bundled around the real handler module; nothing in lambdas/
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

function gatewayResult(reply: GatewayResponse): APIGatewayProxyResult {
  return { statusCode: reply.statusCode, headers: reply.headers, body: reply.body };
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
    if (!route) return gatewayResult(gatewayResponse(404));

    const headers = lowerCaseHeaders(event);
    let authorizer: { claims: Claims; scopes: string[] | null } | undefined;
    if (route.authorization === "jwt") {
      const verdict = await authorizeRoute(headers.authorization, route, options.jwt);
      if (!verdict.allowed) return gatewayResult(verdict.response);
      authorizer = verdict;
    }

    const bytes =
      event.body === null || event.body === undefined
        ? Buffer.alloc(0)
        : Buffer.from(event.body, event.isBase64Encoded ? "base64" : "utf8");
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
      ...requestBody(bytes, headers["content-type"]),
      pathParameters: Object.keys(pathParameters).length > 0 ? pathParameters : undefined,
      claims: authorizer?.claims,
      scopes: authorizer?.scopes,
      sourceIp: event.requestContext?.identity?.sourceIp,
    });
    return toRestResult(await inner(v2, context));
  };
}
