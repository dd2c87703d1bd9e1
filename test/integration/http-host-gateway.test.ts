import { request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { APIGatewayProxyResultV2, Context } from "aws-lambda";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HttpRouteDefinition } from "../../lambdas/registry.js";
import { localJwtSettings, signLocalToken } from "../../local/auth.js";
import { stackGatewaySettings } from "../../local/gateway.js";
import {
  createHttpHost,
  type HttpHostOptions,
  type HttpLambda,
  listen,
  loadRouteHandlers,
} from "../../local/http-host.js";

/**
 * The answers API Gateway's HTTP API makes itself, row by row, against the
 * real local host in front of the real handlers (Redis of the global setup):
 * status, body and the headers that matter. Sources: the HTTP API JWT
 * authorizer and its troubleshooting page, the HTTP API quotas, throttling
 * and Lambda-integration troubleshooting pages (docs/local-stack.md lists the
 * links and what still differs).
 */

const jwt = localJwtSettings({});
const secret = new TextEncoder().encode(jwt.secret);
let server: Server;
let handlers: Map<string, HttpLambda>;

async function start(options: Partial<HttpHostOptions> = {}): Promise<Server> {
  const host = createHttpHost({ handlers, jwt, ...options });
  await listen(host, 0);
  return host;
}
const stop = (host: Server) => new Promise<void>((resolve) => host.close(() => resolve()));

beforeAll(async () => {
  handlers = await loadRouteHandlers();
  server = await start();
});
afterAll(() => stop(server));

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** A raw request (node:http, so headers and body go exactly as given). */
function send(
  host: Server,
  method: string,
  path: string,
  headers: Record<string, string> = {},
  body?: Buffer | string,
): Promise<Reply> {
  const { port } = host.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let parsed: unknown = text;
        try {
          parsed = JSON.parse(text);
        } catch {}
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parsed });
      });
    });
    req.on("error", reject);
    req.end(body);
  });
}

const token = async (claims: Record<string, unknown>, options: { iat?: number } = {}) =>
  new SignJWT({ sub: "alice", ...claims })
    .setProtectedHeader({ alg: "HS256" })
    .setIssuedAt(options.iat ?? Math.floor(Date.now() / 1000))
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(secret);

const INVALID_TOKEN = /^Bearer scope="[^"]*" error="invalid_token" error_description="[^"]+"$/;

type Row = [
  label: string,
  request: () => Promise<{
    method: string;
    path: string;
    headers?: Record<string, string>;
    body?: string | Buffer;
  }>,
  status: number,
  body: unknown,
  headers?: Record<string, string | RegExp>,
];

const gateway = (message: string) => ({ message });
const api = (code: string) => ({ error: { code, message: expect.any(String) } });

const rows: Row[] = [
  ["no route", async () => ({ method: "GET", path: "/nope" }), 404, gateway("Not Found")],
  [
    "a known path with another method (no 405)",
    async () => ({ method: "DELETE", path: "/sales/x" }),
    404,
    gateway("Not Found"),
  ],
  [
    "no token on a JWT route",
    async () => ({ method: "POST", path: "/sales/x/buy", body: "{}" }),
    401,
    gateway("Unauthorized"),
    { "www-authenticate": "Bearer" },
  ],
  [
    "a malformed token",
    async () => ({
      method: "POST",
      path: "/sales/x/buy",
      headers: { authorization: "Bearer not-a-jwt" },
    }),
    401,
    gateway("Unauthorized"),
    { "www-authenticate": INVALID_TOKEN },
  ],
  [
    "an expired token",
    async () => ({
      method: "POST",
      path: "/sales/x/buy",
      headers: {
        authorization: `Bearer ${await signLocalToken({ sub: "alice", expiresInSeconds: -60 }, jwt)}`,
      },
    }),
    401,
    gateway("Unauthorized"),
    { "www-authenticate": INVALID_TOKEN },
  ],
  [
    "a token signed with another key",
    async () => ({
      method: "POST",
      path: "/sales/x/buy",
      headers: {
        authorization: `Bearer ${await signLocalToken({ sub: "alice" }, { ...jwt, secret: "other" })}`,
      },
    }),
    401,
    gateway("Unauthorized"),
    { "www-authenticate": INVALID_TOKEN },
  ],
  [
    "a token issued in the future (iat after now)",
    async () => ({
      method: "POST",
      path: "/sales/x/buy",
      headers: {
        authorization: `Bearer ${await token({}, { iat: Math.floor(Date.now() / 1000) + 600 })}`,
      },
    }),
    401,
    gateway("Unauthorized"),
    { "www-authenticate": INVALID_TOKEN },
  ],
  [
    "a token without the Bearer prefix (accepted: the handler answers)",
    async () => ({
      method: "POST",
      path: "/sales/no-such-sale/buy",
      headers: { authorization: await token({}), "content-type": "application/json" },
      body: "{}",
    }),
    404,
    api("SALE_NOT_FOUND"),
  ],
  [
    "a valid token without the route's scope",
    async () => ({
      method: "POST",
      path: "/sales",
      headers: { authorization: `Bearer ${await token({})}` },
      body: "{}",
    }),
    403,
    gateway("Forbidden"),
    { "www-authenticate": /error="insufficient_scope"/ },
  ],
  [
    "the scope in an `scp` claim (accepted: the handler validates the body)",
    async () => ({
      method: "POST",
      path: "/sales",
      headers: { authorization: `Bearer ${await token({ scp: "admin" })}` },
      body: "{}",
    }),
    400,
    api("INVALID_REQUEST"),
  ],
  [
    "the scope in an `scp` list claim (accepted)",
    async () => ({
      method: "POST",
      path: "/sales",
      headers: { authorization: `Bearer ${await token({ scp: ["read", "admin"] })}` },
      body: "{}",
    }),
    400,
    api("INVALID_REQUEST"),
  ],
  [
    "a sub that cannot be a buyer id: the API's own 401",
    async () => ({
      method: "POST",
      path: "/sales/x/buy",
      headers: { authorization: `Bearer ${await token({ sub: "a\u0000b" })}` },
      body: "{}",
    }),
    401,
    api("INVALID_IDENTITY"),
  ],
  [
    "a body over 10 MB",
    async () => ({
      method: "POST",
      path: "/sales/x/buy",
      headers: { "content-type": "application/json" },
      body: Buffer.alloc(10 * 1024 * 1024 + 1, 0x20),
    }),
    413,
    gateway("Request Entity Too Large"),
  ],
  [
    "a body over the handler's 4 KiB but under 10 MB: the API's own 413",
    async () => ({
      method: "POST",
      path: "/sales/x/buy",
      headers: { authorization: `Bearer ${await token({})}`, "content-type": "application/json" },
      body: `{"quantity":1,"pad":"${"x".repeat(5000)}"}`,
    }),
    413,
    api("PAYLOAD_TOO_LARGE"),
  ],
  [
    "request line and header values over 10,240 bytes (under Node's 16 KiB)",
    async () => ({
      method: "GET",
      path: "/sales/x",
      headers: { "x-padding": "p".repeat(10_300) },
    }),
    431,
    gateway("Request Header Fields Too Large"),
  ],
];

describe("the local API Gateway's own answers (as the HTTP API's)", () => {
  it.each(rows)("%s", async (_label, build, status, body, headers = {}) => {
    const { method, path, headers: sent, body: payload } = await build();
    const reply = await send(server, method, path, sent, payload);
    expect({ status: reply.status, body: reply.body }).toEqual({ status, body });
    for (const [name, value] of Object.entries(headers)) {
      if (value instanceof RegExp) expect(reply.headers[name]).toMatch(value);
      else expect(reply.headers[name]).toBe(value);
    }
    if (reply.body && typeof reply.body === "object" && "message" in reply.body)
      expect(reply.headers["content-type"]).toBe("application/json");
  });
});

describe("the stage throttle (the stack's rate and burst)", () => {
  it("takes its settings from the stack (cdk.json / lib/config.ts)", () => {
    expect(stackGatewaySettings()).toMatchObject({
      throttleRateLimit: 5000,
      throttleBurstLimit: 2000,
      functionTimeoutMs: 10_000,
      maxPayloadBytes: 10 * 1024 * 1024,
      maxRequestLineAndHeaderBytes: 10_240,
    });
  });

  it("lets the burst through, then answers 429 until the bucket refills", async () => {
    const host = await start({ gateway: { throttleRateLimit: 2, throttleBurstLimit: 3 } });
    try {
      const statuses = [];
      for (let i = 0; i < 5; i++) statuses.push(await send(host, "GET", "/sales/no-such-sale"));
      expect(statuses.map((reply) => reply.status)).toEqual([404, 404, 404, 429, 429]);
      expect(statuses[0]?.body).toEqual(api("SALE_NOT_FOUND"));
      expect(statuses[3]?.body).toEqual(gateway("Too Many Requests"));
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect((await send(host, "GET", "/sales/no-such-sale")).status).toBe(404);
    } finally {
      await stop(host);
    }
  });
});

describe("functions run under their timeout, and failures are API Gateway's 500", () => {
  const route = (name: string): HttpRouteDefinition => ({
    routeKey: `GET /${name}`,
    handler: name,
    authorization: "none",
    scopes: [],
  });
  const stub = (answer: (context: Context) => Promise<unknown>) =>
    (async (_event, context) => answer(context) as Promise<APIGatewayProxyResultV2>) as HttpLambda;
  const names = ["slow", "remaining", "throws", "bad-status", "object-body", "plain"];
  let host: Server;
  let stackHost: Server;
  beforeAll(async () => {
    const stubs = new Map<string, HttpLambda>([
      [
        "slow",
        stub(async () => {
          await new Promise((resolve) => setTimeout(resolve, 1_500));
          return { statusCode: 200, body: "late" };
        }),
      ],
      [
        "remaining",
        stub(async (context) => ({
          statusCode: 200,
          body: JSON.stringify({
            remaining: context.getRemainingTimeInMillis(),
            memory: context.memoryLimitInMB,
          }),
        })),
      ],
      [
        "throws",
        stub(async () => {
          throw new Error("boom");
        }),
      ],
      ["bad-status", stub(async () => ({ statusCode: "two hundred" }))],
      ["object-body", stub(async () => ({ statusCode: 200, body: { a: 1 } }))],
      ["plain", stub(async () => ({ hello: "world" }))],
    ]);
    const routes = names.map(route);
    host = createHttpHost({ handlers: stubs, jwt, routes, gateway: { functionTimeoutMs: 300 } });
    await listen(host, 0);
    stackHost = createHttpHost({ handlers: stubs, jwt, routes });
    await listen(stackHost, 0);
  });
  afterAll(async () => {
    await stop(host);
    await stop(stackHost);
  });

  it("cuts a handler off at the function's timeout: 500 Internal Server Error", async () => {
    const started = performance.now();
    const reply = await send(host, "GET", "/slow");
    expect(reply).toMatchObject({ status: 500, body: gateway("Internal Server Error") });
    expect(performance.now() - started).toBeLessThan(1_200);
  });

  it("reports the remaining time of the configured timeout (the stack's 10 s by default)", async () => {
    const reply = await send(stackHost, "GET", "/remaining");
    const { remaining, memory } = reply.body as { remaining: number; memory: string };
    expect(remaining).toBeGreaterThan(9_000);
    expect(remaining).toBeLessThanOrEqual(10_000);
    expect(memory).toBe("1024");
    const short = (await send(host, "GET", "/remaining")).body as { remaining: number };
    expect(short.remaining).toBeLessThanOrEqual(300);
  });

  it.each([
    ["throws", 500, gateway("Internal Server Error")],
    ["answers a status that is not one", 500, gateway("Internal Server Error")],
    ["answers a body that is not a string", 500, gateway("Internal Server Error")],
    ["answers JSON without a statusCode (a 200 JSON body)", 200, { hello: "world" }],
  ])("a handler that %s: %i", async (label, status, body) => {
    const name = {
      throws: "throws",
      "answers a status that is not one": "bad-status",
      "answers a body that is not a string": "object-body",
      "answers JSON without a statusCode (a 200 JSON body)": "plain",
    }[label];
    const reply = await send(host, "GET", `/${name}`);
    expect({ status: reply.status, body: reply.body }).toEqual({ status, body });
  });
});
