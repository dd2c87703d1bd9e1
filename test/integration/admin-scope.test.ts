import { request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localJwtSettings, signLocalToken } from "../../local/auth.js";
import { createHttpHost, type HttpLambda, listen } from "../../local/http-host.js";

/**
 * A Cognito-style admin scope (`<resource-server>/<scope>`), set as the stack's `adminScope`:
 * the local gateway requires it on the admin routes as the stage's JWT authorizer does, and
 * the real handler (against the real Redis) checks the same scope from ADMIN_SCOPE.
 */
const SCOPE = "flash-sale/admin";
const jwt = localJwtSettings({});
const route = {
  routeKey: "GET /admin/sales",
  handler: "admin-sales",
  authorization: "jwt" as const,
  scopes: ["admin"],
};
let server: Server;
let handler: HttpLambda;

beforeAll(async () => {
  process.env.ADMIN_SCOPE = SCOPE; // read once, when the handler module loads (cold start)
  handler = (await import("../../lambdas/handlers/admin-sales.js"))
    .handler as unknown as HttpLambda;
  server = createHttpHost({
    routes: [route],
    handlers: new Map([["admin-sales", handler]]),
    jwt,
    gateway: { adminScope: SCOPE },
  });
  await listen(server, 0);
});
afterAll(async () => {
  delete process.env.ADMIN_SCOPE;
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

function get(path: string, token: string): Promise<{ status: number; body: string }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        method: "GET",
        path,
        headers: { authorization: `Bearer ${token}` },
      },
      (res) => {
        let body = "";
        res.on("data", (chunk) => (body += chunk));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

describe("adminScope in the Cognito form", () => {
  it("lets a token with the configured scope through the gateway and the handler", async () => {
    const token = await signLocalToken({ sub: "ops", scopes: [SCOPE] }, jwt);
    const response = await get("/admin/sales?limit=5", token);
    expect(response.status).toBe(200);
    expect(Array.isArray(JSON.parse(response.body).sales)).toBe(true);
  });

  it("refuses a bare `admin` scope at the gateway with AWS's own 403", async () => {
    const token = await signLocalToken({ sub: "ops", scopes: ["admin"] }, jwt);
    const response = await get("/admin/sales", token);
    expect(response).toEqual({ status: 403, body: '{"message":"Forbidden"}' });
  });

  it("is checked again by the handler (403 FORBIDDEN naming the scope) for an event without it", async () => {
    const event = {
      version: "2.0",
      routeKey: route.routeKey,
      rawPath: "/admin/sales",
      rawQueryString: "",
      headers: {},
      requestContext: {
        http: { method: "GET", path: "/admin/sales" },
        authorizer: { jwt: { claims: { sub: "ops", scope: "admin" }, scopes: ["admin"] } },
      },
      isBase64Encoded: false,
    } as unknown as APIGatewayProxyEventV2WithJWTAuthorizer;
    const result = (await handler(event, { getRemainingTimeInMillis: () => 1000 } as never)) as {
      statusCode: number;
      body: string;
    };
    expect(result.statusCode).toBe(403);
    expect(JSON.parse(result.body).error).toEqual({
      code: "FORBIDDEN",
      message: `This operation requires the ${SCOPE} scope`,
    });
  });
});
