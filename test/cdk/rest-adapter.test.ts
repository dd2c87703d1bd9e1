import type {
  APIGatewayProxyEvent,
  APIGatewayProxyEventV2WithJWTAuthorizer,
  APIGatewayProxyResultV2,
} from "aws-lambda";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { HTTP_ROUTES } from "../../lambdas/registry.js";
import { type HttpApiHandler, restAdapter } from "../../lib/localstack/rest-adapter.js";
import { localJwtSettings, signLocalToken } from "../../local/auth.js";
import { lambdaContext } from "../../local/lambda-context.js";

const jwt = localJwtSettings({});

/** A REST API (payload 1.0) proxy event as API Gateway v1 / LocalStack sends it. */
function restEvent(input: {
  method: string;
  resource: string;
  path: string;
  headers?: Record<string, string>;
  body?: string;
  base64?: boolean;
  pathParameters?: Record<string, string>;
  query?: Record<string, string[]>;
}): APIGatewayProxyEvent {
  const headers = input.headers ?? {};
  return {
    httpMethod: input.method,
    resource: input.resource,
    path: input.path,
    headers,
    multiValueHeaders: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, [v]])),
    body: input.body ?? null,
    isBase64Encoded: input.base64 ?? false,
    pathParameters: input.pathParameters ?? null,
    queryStringParameters: input.query
      ? Object.fromEntries(Object.entries(input.query).map(([k, v]) => [k, v.at(-1) ?? ""]))
      : null,
    multiValueQueryStringParameters: input.query ?? null,
    stageVariables: null,
    requestContext: {
      identity: { sourceIp: "10.1.2.3" },
    } as APIGatewayProxyEvent["requestContext"],
  };
}

/** Records the v2 event the handler receives and answers with a fixed v2 result. */
function recordingHandler(result: APIGatewayProxyResultV2) {
  const seen: APIGatewayProxyEventV2WithJWTAuthorizer[] = [];
  const handler: HttpApiHandler = async (event) => {
    seen.push(event);
    return result;
  };
  return { handler, seen };
}

const context = lambdaContext("rest-adapter-test");

describe("restAdapter (LocalStack REST API -> HTTP API handler)", () => {
  it("hands a public route's request over as a v2 event and returns the v2 result as v1", async () => {
    const { handler, seen } = recordingHandler({
      statusCode: 200,
      headers: { "content-type": "application/json" },
      body: '{"ok":true}',
      cookies: ["a=1"],
    });
    const adapted = restAdapter(handler, { routes: HTTP_ROUTES, jwt });
    const result = await adapted(
      restEvent({
        method: "GET",
        resource: "/sales/{saleId}",
        path: "/sales/drop-1",
        headers: { Host: "api.local", "X-Trace": "t1" },
        pathParameters: { saleId: "drop-1" },
        query: { a: ["1", "2"], b: ["x y"] },
      }),
      context,
    );
    expect(result).toEqual({
      statusCode: 200,
      headers: { "content-type": "application/json" },
      multiValueHeaders: { "set-cookie": ["a=1"] },
      body: '{"ok":true}',
      isBase64Encoded: false,
    });
    expect(seen[0]).toMatchObject({
      version: "2.0",
      routeKey: "GET /sales/{saleId}",
      rawPath: "/sales/drop-1",
      rawQueryString: "a=1&a=2&b=x+y",
      headers: { host: "api.local", "x-trace": "t1" },
      pathParameters: { saleId: "drop-1" },
      requestContext: { http: { method: "GET", sourceIp: "10.1.2.3" } },
    });
    expect(seen[0]?.requestContext.authorizer).toBeUndefined();
  });

  it("verifies the bearer token of a JWT route and passes its claims like the JWT authorizer", async () => {
    const { handler, seen } = recordingHandler({ statusCode: 202, body: "{}" });
    const adapted = restAdapter(handler, { routes: HTTP_ROUTES, jwt });
    const token = await signLocalToken({ sub: "alice" }, jwt);
    const result = await adapted(
      restEvent({
        method: "POST",
        resource: "/sales/{saleId}/buy",
        path: "/sales/drop-1/buy",
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: Buffer.from('{"quantity":2}').toString("base64"),
        base64: true,
        pathParameters: { saleId: "drop-1" },
      }),
      context,
    );
    expect(result.statusCode).toBe(202);
    expect(seen[0]).toMatchObject({ body: '{"quantity":2}', isBase64Encoded: false });
    expect(seen[0]?.requestContext.authorizer.jwt.claims).toMatchObject({ sub: "alice" });

    // As the HTTP API does: a body that is not text (here: no content type) stays base64.
    await adapted(
      restEvent({
        method: "POST",
        resource: "/sales/{saleId}/buy",
        path: "/sales/drop-1/buy",
        headers: { Authorization: token },
        body: Buffer.from("quantity=2").toString("base64"),
        base64: true,
        pathParameters: { saleId: "drop-1" },
      }),
      context,
    );
    expect(seen[1]).toMatchObject({ body: "cXVhbnRpdHk9Mg==", isBase64Encoded: true });
  });

  it("answers 401 without a valid token and 403 without the route's scope, before the handler", async () => {
    const { handler, seen } = recordingHandler({ statusCode: 200, body: "" });
    const adapted = restAdapter(handler, { routes: HTTP_ROUTES, jwt });
    const unauthenticated = await adapted(
      restEvent({ method: "POST", resource: "/sales", path: "/sales", body: "{}" }),
      context,
    );
    expect(unauthenticated.statusCode).toBe(401);
    expect(JSON.parse(unauthenticated.body)).toEqual({ message: "Unauthorized" });
    expect(unauthenticated.headers?.["www-authenticate"]).toBe("Bearer");

    const buyerToken = await signLocalToken({ sub: "bob" }, jwt);
    const forbidden = await adapted(
      restEvent({
        method: "POST",
        resource: "/sales",
        path: "/sales",
        headers: { authorization: `Bearer ${buyerToken}` },
        body: "{}",
      }),
      context,
    );
    expect(forbidden.statusCode).toBe(403);
    expect(JSON.parse(forbidden.body)).toEqual({ message: "Forbidden" });

    // The scope in `scp` (a list claim) counts, as for API Gateway's JWT authorizer.
    const scpToken = await new SignJWT({ scp: ["admin"] })
      .setProtectedHeader({ alg: "HS256" })
      .setSubject("ops")
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(jwt.secret));
    const viaScp = await adapted(
      restEvent({
        method: "POST",
        resource: "/sales",
        path: "/sales",
        headers: { authorization: `Bearer ${scpToken}` },
        body: "{}",
      }),
      context,
    );
    expect(viaScp.statusCode).toBe(200);
    seen.pop();

    const adminToken = await signLocalToken({ sub: "ops", scopes: ["admin"] }, jwt);
    const allowed = await adapted(
      restEvent({
        method: "POST",
        resource: "/sales",
        path: "/sales",
        headers: { authorization: `Bearer ${adminToken}` },
        body: "{}",
      }),
      context,
    );
    expect(allowed.statusCode).toBe(200);
    expect(seen).toHaveLength(1);
  });

  it("serves every route of lambdas/registry.ts with its authorization and scopes", async () => {
    const buyer = await signLocalToken({ sub: "bob" }, jwt);
    const admin = await signLocalToken({ sub: "ops", scopes: ["admin"] }, jwt);
    for (const route of HTTP_ROUTES) {
      const [method = "", resource = ""] = route.routeKey.split(" ");
      const names = [...resource.matchAll(/\{(\w+)\}/g)].map((match) => match[1] as string);
      const pathParameters = Object.fromEntries(names.map((name) => [name, `${name}-1`]));
      const path = resource.replace(/\{(\w+)\}/g, (_, name: string) => `${name}-1`);
      const request = (token?: string) =>
        restEvent({
          method,
          resource,
          path,
          headers: token ? { Authorization: `Bearer ${token}` } : {},
          body: method === "GET" ? undefined : "{}",
          pathParameters: names.length > 0 ? pathParameters : undefined,
        });
      const { handler, seen } = recordingHandler({ statusCode: 200, body: "{}" });
      const adapted = restAdapter(handler, { routes: HTTP_ROUTES, jwt });

      const anonymous = await adapted(request(), context);
      expect(anonymous.statusCode, route.routeKey).toBe(route.authorization === "jwt" ? 401 : 200);
      const asBuyer = await adapted(request(buyer), context);
      expect(asBuyer.statusCode, route.routeKey).toBe(route.scopes.length > 0 ? 403 : 200);
      expect((await adapted(request(admin), context)).statusCode, route.routeKey).toBe(200);

      const last = seen.at(-1);
      expect(last, route.routeKey).toMatchObject({
        routeKey: route.routeKey,
        rawPath: path,
        requestContext: { http: { method } },
      });
      expect(last?.pathParameters, route.routeKey).toEqual(
        names.length > 0 ? pathParameters : undefined,
      );
    }
  });

  it("answers 404 for a resource that is not one of the routes", async () => {
    const { handler } = recordingHandler({ statusCode: 200, body: "" });
    const result = await restAdapter(handler, { routes: HTTP_ROUTES, jwt })(
      restEvent({ method: "DELETE", resource: "/sales/{saleId}", path: "/sales/x" }),
      context,
    );
    expect(result).toMatchObject({ statusCode: 404, body: '{"message":"Not Found"}' });
  });

  it("renders a non-structured v2 result as a 200 JSON body, as API Gateway does", async () => {
    const { handler } = recordingHandler({ hello: "world" } as unknown as APIGatewayProxyResultV2);
    const result = await restAdapter(handler, { routes: HTTP_ROUTES, jwt })(
      restEvent({ method: "GET", resource: "/sales/{saleId}", path: "/sales/x" }),
      context,
    );
    expect(result).toMatchObject({ statusCode: 200, body: '{"hello":"world"}' });
  });
});
