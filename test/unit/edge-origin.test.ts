import middy from "@middy/core";
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2 } from "aws-lambda";
import { describe, expect, it } from "vitest";
import { httpErrors, ORIGIN_VERIFY_HEADER, originVerified } from "../../lambdas/http/middleware.js";
import { ADMIN_ROLE, resolveScopes } from "../../lambdas/http/scopes.js";
import {
  ConfigError,
  readAdminScope,
  readOriginVerifySecret,
} from "../../lambdas/platform/config.js";

const SECRET = "s3cretValueOfTheEdge0123456789abcdef";

function handlerBehindEdge() {
  return middy<APIGatewayProxyEventV2, APIGatewayProxyResultV2>()
    .use(httpErrors())
    .use(originVerified(SECRET))
    .handler(async () => ({ statusCode: 202, body: "{}" }));
}

const eventWith = (headers: Record<string, string>) =>
  ({ headers, requestContext: {} }) as unknown as APIGatewayProxyEventV2;

describe("origin header behind the edge", () => {
  it("lets through the request CloudFront forwarded", async () => {
    const result = await handlerBehindEdge()(
      eventWith({ [ORIGIN_VERIFY_HEADER]: SECRET }),
      {} as never,
    );
    expect(result).toMatchObject({ statusCode: 202 });
  });

  it.each([
    ["no header", {}],
    ["an empty one", { [ORIGIN_VERIFY_HEADER]: "" }],
    ["a wrong one of the same length", { [ORIGIN_VERIFY_HEADER]: SECRET.replace(/.$/, "x") }],
    ["a longer one", { [ORIGIN_VERIFY_HEADER]: `${SECRET}x` }],
    ["a prefix", { [ORIGIN_VERIFY_HEADER]: SECRET.slice(0, 10) }],
    ["multi-byte characters", { [ORIGIN_VERIFY_HEADER]: "é".repeat(SECRET.length / 2) }],
  ])("refuses %s with 403 ORIGIN_NOT_ALLOWED in the API's envelope", async (_, headers) => {
    const result = (await handlerBehindEdge()(eventWith(headers), {} as never)) as {
      statusCode: number;
      body: string;
    };
    expect(result.statusCode).toBe(403);
    expect(JSON.parse(result.body)).toEqual({
      error: { code: "ORIGIN_NOT_ALLOWED", message: expect.any(String) },
    });
  });

  it("is off when the stack has no edge (no ORIGIN_VERIFY_SECRET)", () => {
    expect(readOriginVerifySecret({})).toBeUndefined();
    expect(readOriginVerifySecret({ ORIGIN_VERIFY_SECRET: SECRET })).toBe(SECRET);
  });
});

describe("admin scope", () => {
  it("maps the registry's admin role to the configured scope, Cognito's form included", () => {
    expect(resolveScopes([ADMIN_ROLE], "flash-sale/admin")).toEqual(["flash-sale/admin"]);
    expect(resolveScopes(["orders:read"], "flash-sale/admin")).toEqual(["orders:read"]);
    expect(resolveScopes([], "x")).toEqual([]);
  });

  it("is read once from ADMIN_SCOPE, `admin` by default, refused when not one scope", () => {
    expect(readAdminScope({})).toBe("admin");
    expect(readAdminScope({ ADMIN_SCOPE: "https://api.example.com/admin" })).toBe(
      "https://api.example.com/admin",
    );
    expect(() => readAdminScope({ ADMIN_SCOPE: "admin ops" })).toThrow(ConfigError);
  });
});
