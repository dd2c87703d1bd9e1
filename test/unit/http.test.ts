import { describe, expect, it } from "vitest";
import {
  ForbiddenError,
  InvalidRequestError,
  PayloadTooLargeError,
  PurchaseRefusedError,
  SaleNotFoundError,
  ServiceUnavailableError,
  UnauthorizedError,
} from "../../lambdas/domain/errors.js";
import { domainErrorResponse } from "../../lambdas/http/error-mapping.js";
import { callerId, callerScopes, type HttpEvent } from "../../lambdas/http/request.js";
import { buyRequestSchema, saleDefinitionSchema } from "../../lambdas/http/schemas.js";
import { apiGatewayEvent } from "../../local/apigw-event.js";

const eventWith = (claims?: Record<string, string>) =>
  apiGatewayEvent({ routeKey: "POST /x", method: "POST", path: "/x", claims }) as HttpEvent;

describe("buyRequestSchema", () => {
  it.each([
    [undefined, 1],
    [{}, 1],
    [{ quantity: 3 }, 3],
    [{ quantity: 1, userId: "mallory" }, 1],
  ])("accepts %j as quantity %i", (body, quantity) => {
    expect(buyRequestSchema.parse(body)).toEqual({ quantity });
  });
  it.each([
    [null],
    [[]],
    ["1"],
    [{ quantity: "2" }],
    [{ quantity: 0 }],
    [{ quantity: 2.5 }],
    [{ quantity: 101 }],
    [{ quantity: -1 }],
  ])("refuses %j", (body) => {
    expect(buyRequestSchema.safeParse(body).success).toBe(false);
  });
});

describe("saleDefinitionSchema", () => {
  it("turns ISO instants into epoch ms and absent ones into 0", () => {
    expect(
      saleDefinitionSchema.parse({
        id: "d",
        name: " Drop ",
        stock: 5,
        perUserLimit: 1,
        startsAt: "2026-11-25T10:00:00+01:00",
      }),
    ).toEqual({
      id: "d",
      name: "Drop",
      stock: 5,
      perUserLimit: 1,
      startsAtMs: Date.parse("2026-11-25T09:00:00Z"),
      endsAtMs: 0,
    });
  });
});

describe("identity", () => {
  it("reads the buyer from the authorizer's sub claim", () => {
    expect(callerId(eventWith({ sub: "alice" }))).toBe("alice");
  });
  it("throws Unauthorized without claims or with an empty sub", () => {
    expect(() => callerId(eventWith())).toThrow(UnauthorizedError);
    expect(() => callerId(eventWith({ sub: " " }))).toThrow(UnauthorizedError);
  });
  it.each([
    [{ sub: "a", scope: "openid admin" }, ["openid", "admin"]],
    [{ sub: "a", scp: "[admin buyer]" }, ["admin", "buyer"]],
    [{ sub: "a" }, []],
  ])("reads scopes from %j", (claims, scopes) => {
    expect([...callerScopes(eventWith(claims))]).toEqual(scopes);
  });
});

describe("domainErrorResponse", () => {
  it.each([
    [new InvalidRequestError("bad"), 400],
    [new UnauthorizedError(), 401],
    [new ForbiddenError("admin"), 403],
    [new SaleNotFoundError("s"), 404],
    [new PurchaseRefusedError("SOLD_OUT", "gone"), 409],
    [new PayloadTooLargeError(4096), 413],
    [new ServiceUnavailableError("down", 2), 503],
  ])("renders %s as %i with the error envelope", (error, status) => {
    const response = domainErrorResponse(error);
    expect(response.statusCode).toBe(status);
    expect(JSON.parse(response.body ?? "")).toEqual({
      error: { code: error.code, message: error.message },
    });
  });
  it("tells a client when to retry after a 503", () => {
    expect(domainErrorResponse(new ServiceUnavailableError("down", 2)).headers).toMatchObject({
      "retry-after": "2",
    });
  });
});
