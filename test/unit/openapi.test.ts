import { Validator } from "@seriousme/openapi-schema-validator";
import { describe, expect, it } from "vitest";
import { OUTCOMES } from "../../lambdas/domain/outcomes.js";
import { buildOpenApiDocument, methodAndPath } from "../../lambdas/openapi/document.js";
import { HTTP_ROUTES, type HttpRouteDefinition } from "../../lambdas/registry.js";
import { assertConforms } from "../support/openapi-conformance.js";

const document = buildOpenApiDocument();
type Operation = {
  operationId?: string;
  security?: Array<Record<string, string[]>>;
  parameters?: Array<{ in: string; name: string; required?: boolean }>;
  requestBody?: { required?: boolean; content: Record<string, { schema: unknown }> };
  responses: Record<
    string,
    { headers?: Record<string, unknown>; content?: Record<string, unknown> }
  >;
};
const operationOf = (routeKey: string): Operation | undefined => {
  const [method, path] = methodAndPath(routeKey);
  return (document.paths?.[path] as Record<string, Operation> | undefined)?.[method];
};

describe("the OpenAPI document", () => {
  it("names the configured admin scope on the admin routes (Cognito's <resource-server>/<scope>)", () => {
    const cognito = buildOpenApiDocument(undefined, "flash-sale/admin");
    const [method, path] = methodAndPath("POST /sales");
    const op = (cognito.paths?.[path] as Record<string, Operation> | undefined)?.[method];
    expect(op?.security).toEqual([{ bearerAuth: ["flash-sale/admin"] }]);
    expect(JSON.stringify(cognito)).not.toContain("require `admin`");
    expect(operationOf("POST /sales")?.security).toEqual([{ bearerAuth: ["admin"] }]);
  });

  it("is valid OpenAPI 3.1 (@seriousme/openapi-schema-validator)", async () => {
    const validator = new Validator();
    const result = await validator.validate(JSON.parse(JSON.stringify(document)));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  it("has every route of the registry, and nothing else, with its method and path", () => {
    const inDocument = Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
      Object.keys(item as object)
        .filter((key) => ["get", "post", "put", "patch", "delete"].includes(key))
        .map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(inDocument.sort()).toEqual(HTTP_ROUTES.map((route) => route.routeKey).sort());
    for (const route of HTTP_ROUTES) {
      expect(operationOf(route.routeKey)?.operationId, route.routeKey).toBe(route.handler);
    }
  });

  it("requires the bearer JWT, with the route's scopes, exactly where API Gateway does", () => {
    expect(document.components?.securitySchemes?.bearerAuth).toMatchObject({
      type: "http",
      scheme: "bearer",
      bearerFormat: "JWT",
    });
    for (const route of HTTP_ROUTES) {
      const expected = route.authorization === "jwt" ? [{ bearerAuth: [...route.scopes] }] : [];
      expect(operationOf(route.routeKey)?.security, route.routeKey).toEqual(expected);
      const responses = operationOf(route.routeKey)?.responses ?? {};
      expect("401" in responses, route.routeKey).toBe(route.authorization === "jwt");
      expect("403" in responses, route.routeKey).toBe(route.scopes.length > 0);
    }
  });

  it("documents each path parameter, the Idempotency-Key header and Retry-After", () => {
    for (const route of HTTP_ROUTES) {
      const names = [...route.routeKey.matchAll(/\{(\w+)\}/g)].map((match) => match[1]);
      const inPath = (operationOf(route.routeKey)?.parameters ?? []).filter((p) => p.in === "path");
      expect(
        inPath.map((p) => [p.name, p.required]),
        route.routeKey,
      ).toEqual(names.map((name) => [name, true]));
    }
    const buy = operationOf("POST /sales/{saleId}/buy");
    expect(buy?.parameters).toContainEqual(
      expect.objectContaining({ in: "header", name: "Idempotency-Key" }),
    );
    expect(buy?.requestBody?.required).toBe(false);
    expect(Object.keys(buy?.responses["429"]?.headers ?? {})).toContain("retry-after");
    expect(Object.keys(buy?.responses["503"]?.headers ?? {})).toContain("retry-after");
  });

  it("documents POST /sales by its input: ISO date-times, not the epoch ms the transform makes", () => {
    const body = operationOf("POST /sales")?.requestBody?.content["application/json"]?.schema as {
      properties: Record<string, unknown>;
      required: string[];
    };
    expect(Object.keys(body.properties)).toContain("startsAt");
    expect(Object.keys(body.properties)).not.toContain("startsAtMs");
    expect(JSON.stringify(body.properties.startsAt)).toContain('"format":"date-time"');
    expect(body.required.sort()).toEqual(["id", "name", "perUserLimit", "stock"]);
  });

  it("lists only codes of the outcomes table, each under its own status", () => {
    const text = JSON.stringify(document);
    for (const route of HTTP_ROUTES) {
      for (const [status, response] of Object.entries(
        operationOf(route.routeKey)?.responses ?? {},
      )) {
        const codes = [...JSON.stringify(response).matchAll(/"enum":\[([^\]]*)\]/g)]
          .flatMap((match) => JSON.parse(`[${match[1]}]`) as string[])
          .filter((code) => /^[A-Z_]+$/.test(code));
        for (const code of codes) {
          const outcome = OUTCOMES[code as keyof typeof OUTCOMES];
          expect(outcome, `${route.routeKey} ${status} ${code}`).toBeDefined();
          expect(String(outcome.status), `${route.routeKey} ${code}`).toBe(status);
        }
      }
    }
    // The buy's refusals, by name.
    for (const code of ["SOLD_OUT", "LIMIT_REACHED", "RATE_LIMITED", "SERVICE_UNAVAILABLE"]) {
      expect(text).toContain(`"${code}"`);
    }
  });

  it("refuses to build when a route has no description", () => {
    const extra: HttpRouteDefinition = {
      routeKey: "GET /undescribed",
      handler: "get-sale",
      authorization: "none",
      scopes: [],
    };
    expect(() => buildOpenApiDocument([...HTTP_ROUTES, extra])).toThrow(/GET \/undescribed/);
  });
});

describe("the conformance check used by invoke()", () => {
  const json = { "content-type": "application/json; charset=utf-8" };
  const sale = {
    id: "s-1",
    name: "TV",
    stock: 10,
    remaining: 9,
    sold: 1,
    perUserLimit: 2,
    startsAt: null,
    endsAt: "2026-11-25T10:00:00.000Z",
    status: "open",
    rateLimit: { burst: 5, perSecond: 1 },
    shards: 1,
  };
  const check = (routeKey: string, status: number, body: unknown, headers = json) =>
    assertConforms(routeKey, { status, headers, raw: JSON.stringify(body) });

  it("accepts a response the document describes", () => {
    expect(check("GET /sales/{saleId}", 200, sale)).toBe(true);
    expect(
      check("GET /sales/{saleId}", 404, { error: { code: "SALE_NOT_FOUND", message: "no" } }),
    ).toBe(true);
    expect(check("POST /sales/{saleId}/buy", 429, { message: "Too Many Requests" })).toBe(true);
  });

  it("refuses an extra field, a wrong code for the status, an undocumented status", () => {
    expect(() => check("GET /sales/{saleId}", 200, { ...sale, version: 3 })).toThrow(
      /does not match/,
    );
    expect(() =>
      check("GET /sales/{saleId}", 404, { error: { code: "ORDER_NOT_FOUND", message: "no" } }),
    ).toThrow(/does not match/);
    expect(() => check("GET /sales/{saleId}", 202, { orderId: "x", status: "pending" })).toThrow(
      /not documented/,
    );
    expect(() =>
      check("GET /sales/{saleId}", 200, sale, { "content-type": "text/plain" } as never),
    ).toThrow(/content-type/);
  });

  it("skips routes the registry does not have", () => {
    expect(check("GET /not-a-route", 200, {})).toBe(false);
  });
});
