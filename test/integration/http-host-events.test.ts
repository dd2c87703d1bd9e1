import { randomUUID } from "node:crypto";
import { request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { APIGatewayProxyEventV2Schema, SqsSchema } from "@aws-lambda-powertools/parser/schemas";
import { CreateQueueCommand, DeleteQueueCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import type { APIGatewayProxyEventV2WithJWTAuthorizer, SQSEvent } from "aws-lambda";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HTTP_ROUTES } from "../../lambdas/registry.js";
import { localJwtSettings, signLocalToken } from "../../local/auth.js";
import { createHttpHost, type HttpLambda, listen } from "../../local/http-host.js";
import { localSqsClient } from "../../local/services/sqs-server.js";
import { startSqsEventSource } from "../../local/sqs-event-source.js";

/**
 * Conformance: the events the local stack hands to the functions, captured
 * from real requests and messages, validated with Powertools' zod schemas of
 * AWS's events (API Gateway HTTP API payload 2.0, SQS), plus the payload 2.0
 * details API Gateway documents: cookies moved to `cookies`, repeated headers
 * joined with ",", non-text bodies base64 with `isBase64Encoded`.
 */

const jwt = localJwtSettings({});
const seen: APIGatewayProxyEventV2WithJWTAuthorizer[] = [];
let server: Server;

beforeAll(async () => {
  const capture: HttpLambda = async (event) => {
    seen.push(event);
    return { statusCode: 200, body: "{}" };
  };
  const handlers = new Map(HTTP_ROUTES.map((route) => [route.handler, capture]));
  server = createHttpHost({ handlers, jwt });
  await listen(server, 0);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Sends a request (a list value: the header repeated) and returns the event the function got. */
function capture(
  method: string,
  path: string,
  headers: Record<string, string | string[]>,
  body?: Buffer | string,
): Promise<APIGatewayProxyEventV2WithJWTAuthorizer> {
  const { port } = server.address() as AddressInfo;
  const before = seen.length;
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      res.resume();
      res.on("end", () => {
        const event = seen[before];
        if (res.statusCode !== 200 || !event)
          reject(new Error(`${method} ${path} answered ${res.statusCode}`));
        else resolve(event);
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

describe("API Gateway v2 events of the local host", () => {
  it("match Powertools' APIGatewayProxyEventV2 schema for every route, method and kind of body", async () => {
    const buyer = await signLocalToken({ sub: "alice" }, jwt);
    const admin = await signLocalToken({ sub: "ops", scopes: ["admin"] }, jwt);
    const binary = Buffer.from([0, 1, 2, 0xfe, 0xff, 0x80, 0x7f]);
    const events = [
      await capture("GET", "/sales/drop-1?a=1&a=2&b=x%20y", { "user-agent": "conformance" }),
      await capture(
        "POST",
        "/sales/drop-1/buy",
        {
          authorization: `Bearer ${buyer}`,
          "content-type": "application/json",
          "idempotency-key": randomUUID(),
        },
        '{"quantity":1}',
      ),
      await capture(
        "POST",
        "/sales",
        { authorization: `Bearer ${admin}`, "content-type": "application/octet-stream" },
        binary,
      ),
      await capture("GET", `/orders/${randomUUID()}`, {
        authorization: `Bearer ${buyer}`,
        cookie: ["a=1; b=2", "c=3"],
      }),
      await capture(
        "POST",
        "/admin/redrive",
        { authorization: admin, "content-type": "application/x-www-form-urlencoded" },
        "max=1",
      ),
      await capture("GET", "/dashboard", { "x-multi": ["one", "two"] }),
    ];
    for (const event of events) {
      const parsed = APIGatewayProxyEventV2Schema.safeParse(event);
      expect(parsed.success, `${event.routeKey}: ${JSON.stringify(parsed.error?.issues)}`).toBe(
        true,
      );
    }

    const [sale, buy, upsert, order, redrive, dashboard] = events;
    expect(sale).toMatchObject({
      routeKey: "GET /sales/{saleId}",
      rawQueryString: "a=1&a=2&b=x%20y",
      queryStringParameters: { a: "1,2", b: "x y" },
      pathParameters: { saleId: "drop-1" },
      isBase64Encoded: false,
      requestContext: { http: { method: "GET", sourceIp: "127.0.0.1", userAgent: "conformance" } },
    });
    expect(sale?.body).toBeUndefined();
    expect(sale?.requestContext.time).toMatch(/^\d\d\/[A-Z][a-z]{2}\/\d{4}:\d\d:\d\d:\d\d \+0000$/);
    expect(sale?.headers["x-amzn-trace-id"]).toMatch(/^Root=1-[0-9a-f]{8}-[0-9a-f]{24}$/);

    expect(buy).toMatchObject({ body: '{"quantity":1}', isBase64Encoded: false });
    expect(buy?.requestContext.authorizer.jwt).toEqual({
      claims: expect.objectContaining({ sub: "alice" }),
      scopes: null,
    });

    expect(upsert?.isBase64Encoded).toBe(true);
    expect(Buffer.from(upsert?.body ?? "", "base64")).toEqual(binary);
    expect(upsert?.requestContext.authorizer.jwt.scopes).toEqual(["admin"]);

    expect(order?.cookies).toEqual(["a=1", "b=2", "c=3"]);
    expect(order?.headers.cookie).toBeUndefined();

    // Form bodies are not text to the HTTP API; the token came without "Bearer ".
    expect(redrive).toMatchObject({ isBase64Encoded: true, body: "bWF4PTE=" });
    expect(redrive?.requestContext.authorizer.jwt.claims.sub).toBe("ops");

    expect(dashboard?.headers["x-multi"]).toBe("one,two");
  });
});

describe("SQS events of the local event source", () => {
  it("match Powertools' SqsSchema", async () => {
    const endpoint = process.env.SQS_ENDPOINT;
    if (!endpoint) throw new Error("SQS_ENDPOINT is not set: needs the global setup");
    const sqs = localSqsClient(endpoint);
    const { QueueUrl: queueUrl = "" } = await sqs.send(
      new CreateQueueCommand({ QueueName: `conformance-${randomUUID().slice(0, 8)}` }),
    );
    const events: SQSEvent[] = [];
    const source = startSqsEventSource({
      sqs,
      queueUrl,
      handler: async (event) => {
        events.push(event);
        return { batchItemFailures: [] };
      },
      batchSize: 10,
      waitTimeSeconds: 1,
    });
    try {
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: '{"orderId":"o-1"}',
          MessageAttributes: { kind: { DataType: "String", StringValue: "order" } },
        }),
      );
      const deadline = Date.now() + 10_000;
      while (events.length === 0 && Date.now() < deadline)
        await new Promise((resolve) => setTimeout(resolve, 50));
    } finally {
      await source.stop();
      await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl }));
      sqs.destroy();
    }
    expect(events).toHaveLength(1);
    const parsed = SqsSchema.safeParse(events[0]);
    expect(parsed.success, JSON.stringify(parsed.error?.issues)).toBe(true);
    expect(events[0]?.Records[0]).toMatchObject({
      body: '{"orderId":"o-1"}',
      eventSource: "aws:sqs",
      messageAttributes: { kind: { dataType: "String", stringValue: "order" } },
    });
  });
});
