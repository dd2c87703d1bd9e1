import { randomUUID } from "node:crypto";
import type { APIGatewayProxyResultV2, APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import { Redis } from "ioredis";
import { saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { defineScripts } from "../../lambdas/adapters/redis/scripts.js";
import { apiGatewayEvent, type EventInput } from "../../local/apigw-event.js";
import type { HttpLambda } from "../../local/http-host.js";
import { lambdaContext } from "../../local/lambda-context.js";
import { assertConforms } from "./openapi-conformance.js";

/** A sale id no other test uses, so tests share one Redis without seeing each other. */
export function uniqueSaleId(prefix = "t"): string {
  return `${prefix}-${randomUUID().slice(0, 12)}`;
}

/** A plain client for arranging and asserting state, with the project's scripts registered. */
export function testRedis(): Redis {
  const url = process.env.REDIS_URL;
  if (!url) throw new Error("REDIS_URL is not set: integration tests need the global setup");
  return defineScripts(new Redis(url, { enableAutoPipelining: true }));
}

export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: unknown;
  raw: string;
}

export async function invoke(handler: HttpLambda, input: EventInput): Promise<Reply> {
  const result = (await handler(apiGatewayEvent(input), lambdaContext("test"))) as
    | APIGatewayProxyStructuredResultV2
    | APIGatewayProxyResultV2;
  if (typeof result !== "object" || result === null)
    throw new Error("handler returned a non-object");
  const structured = result as APIGatewayProxyStructuredResultV2;
  const raw = structured.body ?? "";
  let body: unknown = raw;
  try {
    body = JSON.parse(raw);
  } catch {
    // not JSON; the test will see the raw text
  }
  const reply = {
    status: structured.statusCode ?? 200,
    headers: (structured.headers ?? {}) as Record<string, string>,
    body,
    raw,
  };
  // Every real response of the integration tests is checked against the OpenAPI document.
  assertConforms(input.routeKey, reply);
  return reply;
}

export function buyer(sub: string, scopes: string[] = []) {
  return {
    sub,
    exp: String(Math.floor(Date.now() / 1000) + 3600),
    ...(scopes.length ? { scope: scopes.join(" ") } : {}),
  };
}

export const admin = () => buyer("admin-1", ["admin"]);

export function buyEvent(
  saleId: string,
  userId: string | undefined,
  body?: string,
  headers: Record<string, string> = {},
): EventInput {
  return {
    routeKey: "POST /sales/{saleId}/buy",
    method: "POST",
    path: `/sales/${saleId}/buy`,
    pathParameters: { saleId },
    headers: { "content-type": "application/json", ...headers },
    body,
    claims: userId === undefined ? undefined : buyer(userId),
  };
}

/**
 * Creates a sale through the real upsert-sale handler (POST /sales as the admin) with a
 * unique id and the given fields over small defaults; fails the test unless it answers 201.
 */
export async function createSaleVia(
  upsertSale: HttpLambda,
  fields: Record<string, unknown> = {},
  prefix = "t",
): Promise<string> {
  const id = uniqueSaleId(prefix);
  const reply = await invoke(upsertSale, {
    routeKey: "POST /sales",
    method: "POST",
    path: "/sales",
    body: JSON.stringify({
      id,
      name: `Test sale ${prefix}`,
      stock: 10,
      perUserLimit: 2,
      ...fields,
    }),
    claims: admin(),
  });
  if (reply.status !== 201) {
    throw new Error(`POST /sales answered ${reply.status}, not 201: ${reply.raw}`);
  }
  return id;
}

/** Everything Redis holds for a sale, to prove a rejected request changed nothing. */
export async function saleSnapshot(redis: Redis, saleId: string) {
  const keys = saleKeys(saleId);
  const [sale, buyers, orders, idempotency] = await Promise.all([
    redis.hgetall(keys.sale),
    redis.hgetall(keys.buyers),
    redis.hgetall(keys.orders),
    redis.hgetall(keys.idempotency),
  ]);
  return { sale, buyers, orders, idempotency };
}
