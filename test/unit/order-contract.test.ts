import { describe, expect, it } from "vitest";
import { buyerIdProblem, MAX_BUYER_ID_LENGTH } from "../../lambdas/domain/buyer-id.js";
import { InvalidIdentityError, UnauthorizedError } from "../../lambdas/domain/errors.js";
import {
  encodeOrderMessage,
  orderMessageSchema,
  parseOrderMessage,
} from "../../lambdas/domain/order-message.js";
import { newOrderId, orderIdSchema } from "../../lambdas/domain/sale.js";
import { domainErrorResponse } from "../../lambdas/http/error-mapping.js";
import { callerId, type HttpEvent } from "../../lambdas/http/request.js";
import { saleDefinitionSchema } from "../../lambdas/http/schemas.js";

const eventWith = (claims: Record<string, unknown>) =>
  ({ requestContext: { authorizer: { jwt: { claims } } } }) as unknown as HttpEvent;

/** Ids every later stage (SQS, Redis, Postgres) can carry unchanged. */
const VALID = [
  "alice",
  "auth0|5f7c8ec7c33c6c004bbafe82",
  "4242",
  "😀🎟️ buyer",
  "𝄞".repeat(MAX_BUYER_ID_LENGTH / 2),
  "a".repeat(MAX_BUYER_ID_LENGTH),
  "\u200b\u202e\u0301 zero-width, RTL, combining",
  "'; DROP TABLE orders; --",
  '{"userId":"mallory"}',
  "back\\slash",
  "\ufffe\uffff noncharacters",
  " leading and trailing ",
];

/** Ids that the buy path refuses before any reservation, because a later stage could not finish them. */
const INVALID: Array<[string, unknown]> = [
  ["NUL", "a\u0000b"],
  ["newline", "a\nb"],
  ["tab", "a\tb"],
  ["DEL", "a\u007fb"],
  ["C1 control", "a\u0085b"],
  ["lone high surrogate", "a\ud800b"],
  ["lone low surrogate", "\udc00"],
  ["too long", "a".repeat(MAX_BUYER_ID_LENGTH + 1)],
  ["number", 4242],
  ["array", ["a"]],
];

describe("buyer ids (lambdas/domain/buyer-id.ts)", () => {
  it.each(VALID)("accepts %j at the buy and in the message schema", (id) => {
    expect(buyerIdProblem(id)).toBeUndefined();
    expect(callerId(eventWith({ sub: id }))).toBe(id);
    const message = {
      orderId: newOrderId("s1", "0b8f8f3e-1d5e-4c8e-9a53-1c2d3e4f5a6b"),
      saleId: "s1",
      userId: id,
      quantity: 1,
      reservedAt: new Date().toISOString(),
    };
    expect(orderMessageSchema.safeParse(message).success).toBe(true);
  });

  it.each(INVALID)(
    "refuses a %s with 401 INVALID_IDENTITY, and the message schema refuses it too",
    (_, id) => {
      expect(buyerIdProblem(id)).toBeDefined();
      let thrown: unknown;
      try {
        callerId(eventWith({ sub: id }));
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(InvalidIdentityError);
      const response = domainErrorResponse(thrown as InvalidIdentityError);
      expect(response.statusCode).toBe(401);
      expect(JSON.parse(response.body ?? "")).toMatchObject({
        error: { code: "INVALID_IDENTITY" },
      });
      expect(
        orderMessageSchema.safeParse({
          orderId: newOrderId("s1", "0b8f8f3e-1d5e-4c8e-9a53-1c2d3e4f5a6b"),
          saleId: "s1",
          userId: id,
          quantity: 1,
          reservedAt: new Date().toISOString(),
        }).success,
      ).toBe(false);
    },
  );

  it("answers no identity at all (absent or blank sub) as 401 UNAUTHORIZED", () => {
    expect(() => callerId(eventWith({}))).toThrow(UnauthorizedError);
    expect(() => callerId(eventWith({ sub: "  " }))).toThrow(UnauthorizedError);
  });
});

describe("order messages", () => {
  it.each(VALID)("encodes %j as printable ASCII that parses back to the same order", (id) => {
    const message = {
      orderId: newOrderId("s1", "0b8f8f3e-1d5e-4c8e-9a53-1c2d3e4f5a6b"),
      saleId: "s1",
      userId: id,
      quantity: 2,
      reservedAt: new Date().toISOString(),
    };
    const body = encodeOrderMessage(message);
    expect(body).toMatch(/^[\x20-\x7e]*$/);
    expect(parseOrderMessage(body)).toEqual(message);
  });

  it("accepts only order ids the buy path makes", () => {
    expect(
      orderIdSchema.safeParse(newOrderId("s-1", "0b8f8f3e-1d5e-4c8e-9a53-1c2d3e4f5a6b")).success,
    ).toBe(true);
    for (const bad of [
      "x",
      "s1.x",
      "s1.0b8f8f3e-1d5e-4c8e-9a53-1c2d3e4f5a6b\u0000",
      "x\u0000",
      "../s1.a",
    ]) {
      expect(orderIdSchema.safeParse(bad).success).toBe(false);
    }
  });
});

describe("sale windows", () => {
  const sale = { id: "s1", name: "Drop", stock: 10, perUserLimit: 1 };
  it.each([
    ["endsAt before the epoch", { endsAt: "1960-01-01T00:00:00Z" }],
    ["endsAt at the epoch", { endsAt: "1970-01-01T00:00:00Z" }],
    ["startsAt at the epoch", { startsAt: "1970-01-01T00:00:00.000Z" }],
    [
      "startsAt after endsAt, endsAt at the epoch",
      { startsAt: "2030-01-01T00:00:00Z", endsAt: "1970-01-01T00:00:00Z" },
    ],
    [
      "startsAt equal to endsAt",
      { startsAt: "2030-01-01T00:00:00Z", endsAt: "2030-01-01T00:00:00Z" },
    ],
    ["startsAt after endsAt", { startsAt: "2031-01-01T00:00:00Z", endsAt: "2030-01-01T00:00:00Z" }],
  ])("refuses %s", (_, window) => {
    expect(saleDefinitionSchema.safeParse({ ...sale, ...window }).success).toBe(false);
  });
  it("accepts a window that opens before it closes, and no window", () => {
    expect(
      saleDefinitionSchema.safeParse({
        ...sale,
        startsAt: "2030-01-01T00:00:00Z",
        endsAt: "2030-01-01T00:00:01Z",
      }).success,
    ).toBe(true);
    expect(saleDefinitionSchema.safeParse({ ...sale, startsAt: null, endsAt: null }).success).toBe(
      true,
    );
  });
});
