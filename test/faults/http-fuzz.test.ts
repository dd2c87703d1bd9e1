import { Agent, request } from "node:http";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { localJwtSettings, signLocalToken } from "../../local/auth.js";
import { saleSnapshot } from "../support/fixtures.js";
import { adminToken, deadPids, recordFault, startRig, Teardown } from "./support/harness.js";

/**
 * Fault 7: bad input at scale. fast-check generates requests (methods, paths
 * with traversal and unicode, headers with odd tokens, content types and
 * Idempotency-Keys, bodies with every kind of quantity and non-JSON bytes) and
 * sends them over HTTP to the local API Gateway in front of the real handlers,
 * Redis, Postgres and SQS. For every request: never a 5xx; every 4xx is the
 * API's JSON error envelope or API Gateway's own `{"message"}` refusal (no
 * route, token, scope, size); and a rejected request leaves the sale's Redis state
 * (hash, buyers, orders, idempotency index) exactly as it was.
 *
 * FUZZ_RUNS and FUZZ_SEED (env) change the number of runs and replay a seed.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

const RUNS = Number(process.env.FUZZ_RUNS ?? 500);

interface RawRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: Buffer | undefined;
}

interface RawReply {
  status: number;
  contentType: string;
  text: string;
}

function send(base: URL, agent: Agent, req: RawRequest): Promise<RawReply> {
  return new Promise((resolve, reject) => {
    const call = request(
      {
        host: base.hostname,
        port: base.port,
        method: req.method,
        path: req.path,
        agent,
        headers: {
          ...req.headers,
          ...(req.body ? { "content-length": String(req.body.length) } : {}),
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (chunk: Buffer) => chunks.push(chunk));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            contentType: String(res.headers["content-type"] ?? ""),
            text: Buffer.concat(chunks).toString("utf8"),
          }),
        );
        res.on("error", reject);
      },
    );
    call.setTimeout(15_000, () => call.destroy(new Error(`${req.method} ${req.path} timed out`)));
    call.on("error", reject);
    call.end(req.body);
  });
}

/** Characters Node's HTTP client accepts in a path without escaping (0x21-0xFF but not / ? #). */
const pathChar = fc.constantFrom(
  ..."abcXYZ019-_.~!$&'()*+,;=:@%[]{}|\\^`\"<>".split(""),
  "\u00e9",
  "\u00ff",
);
const segment = fc.oneof(
  fc.string({ unit: pathChar, maxLength: 20 }),
  fc.string({ unit: "grapheme", maxLength: 12 }).map(encodeURIComponent),
  fc.constantFrom("..", ".", "%2e%2e", "%2F", "%00", "%", "%E0%A4%A", "%ZZ", "%C0%AF", "%FF"),
  fc.string({ unit: "grapheme-ascii", minLength: 60, maxLength: 90 }).map(encodeURIComponent),
);

function arbitraries(saleId: string, tokens: Record<string, string>) {
  const path = fc.oneof(
    { weight: 12, arbitrary: fc.constant(`/sales/${saleId}/buy`) },
    { weight: 2, arbitrary: segment.map((s) => `/sales/${s}/buy`) },
    { weight: 1, arbitrary: segment.map((s) => `/sales/${s}`) },
    { weight: 1, arbitrary: segment.map((s) => `/orders/${s}`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        `/sales/${saleId}`,
        `/sales/${saleId}/buy/`,
        `/sales/${saleId}/buy/extra`,
        `/sales/${saleId}%2Fbuy`,
        `/SALES/${saleId}/BUY`,
        `/sales/${saleId}/buy?quantity=100`,
        `/sales/${saleId}/buy#frag`,
        "/sales",
        "/",
        "//",
        "/sales//buy",
        "/sales/../admin/redrive",
        "/%2e%2e/%2e%2e/etc/passwd",
        "/admin/redrive",
        `/admin/sales/${saleId}/reconcile`,
        "/orders/",
        `/orders/${saleId}.00000000-0000-0000-0000-000000000000`,
      ),
    },
    { weight: 1, arbitrary: fc.array(segment, { maxLength: 6 }).map((s) => `/${s.join("/")}`) },
  );
  const method = fc.oneof(
    { weight: 12, arbitrary: fc.constant("POST") },
    { weight: 2, arbitrary: fc.constant("GET") },
    { weight: 1, arbitrary: fc.constantFrom("PUT", "DELETE", "PATCH", "OPTIONS", "HEAD") },
  );
  const headerText = fc.string({ unit: "grapheme-ascii", maxLength: 300 });
  const authorization = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.constantFrom(...(tokens.buyers ?? "").split(" ")).map((t) => `Bearer ${t}`),
    },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        `Bearer ${tokens.admin}`,
        `Bearer ${tokens.expired}`,
        `Bearer ${tokens.foreign}`,
        `Bearer ${tokens.noSub}`,
        `bearer ${tokens.buyer0}`,
        `Bearer  ${tokens.buyer0}`,
        `Bearer ${tokens.buyer0}x`,
        `Basic ${Buffer.from("alice:pw").toString("base64")}`,
        "Bearer",
        "Bearer null",
        `Bearer ${"A".repeat(4_000)}`,
      ),
    },
    { weight: 1, arbitrary: headerText.map((t) => `Bearer ${t}`) },
    { weight: 1, arbitrary: fc.constant(undefined) },
  );
  const contentType = fc.option(
    fc.oneof(
      fc.constantFrom(
        "application/json",
        "application/json; charset=utf-8",
        "application/json; charset=utf-16",
        "text/plain",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/octet-stream",
        "",
      ),
      headerText,
    ),
  );
  const idempotencyKey = fc.option(
    fc.oneof(
      fc.uuid(),
      headerText,
      fc.string({ unit: "grapheme-ascii", minLength: 129, maxLength: 140 }),
      fc.string({ unit: "grapheme-ascii", minLength: 1_000, maxLength: 6_000 }),
      fc.string({ unit: fc.constantFrom("\u00e9", "\u00ff", "\t", " ", "a"), maxLength: 40 }),
      fc.constantFrom("", " ", "\t", "key with spaces", "ok-key", "../../etc", "null", "0"),
    ),
  );
  const extraHeaders = fc.dictionary(
    fc.constantFrom(
      "x-user-id",
      "x-forwarded-for",
      "x-amzn-trace-id",
      "cookie",
      "accept",
      "origin",
    ),
    headerText,
    { maxKeys: 3 },
  );
  const quantity = fc.oneof(
    fc.integer({ min: -1_000_000, max: 1_000_000 }),
    fc.integer({ min: 1, max: 3 }),
    fc.double(),
    fc.constantFrom(0, -0, 1, 2, 100, 101, 1.5, 0.9999999, 1e308, -1e308, 2 ** 53, 2 ** 53 + 2),
    fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY),
    fc.string({ maxLength: 10 }),
    fc.constantFrom("1", "1e2", "0x10", " 1", "NaN", "Infinity", "-1"),
    fc.constant(null),
    fc.boolean(),
    fc.array(fc.integer(), { maxLength: 3 }),
    fc.object({ maxDepth: 1 }),
  );
  const body = fc.oneof(
    { weight: 6, arbitrary: quantity.map((q) => Buffer.from(JSON.stringify({ quantity: q }))) },
    {
      weight: 2,
      arbitrary: fc
        .record(
          { quantity, userId: fc.string(), saleId: fc.string(), orderId: fc.string() },
          {
            requiredKeys: [],
          },
        )
        .map((b) => Buffer.from(JSON.stringify(b))),
    },
    {
      weight: 2,
      arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => Buffer.from(JSON.stringify(v) ?? "")),
    },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(
          '{"quantity": NaN}',
          '{"quantity": Infinity}',
          '{"quantity": -Infinity}',
          '{"quantity": 1e999}',
          '{"quantity": 0x10}',
          '{"quantity": 01}',
          '{"quantity": 1,}',
          '{"quantity":1,"quantity":2}',
          '{"quantity":1,"userId":"victim"}',
          '{"__proto__":{"quantity":50}}',
          '{"constructor":{"prototype":{"quantity":50}}}',
          "{",
          "}",
          "[]",
          "null",
          "true",
          '""',
          "   ",
          "\u0000",
          "\ufeff{}",
          "quantity=1",
        )
        .map((t) => Buffer.from(t)),
    },
    {
      weight: 1,
      arbitrary: fc.string({ unit: "binary", maxLength: 200 }).map((t) => Buffer.from(t)),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)) },
    {
      weight: 1,
      arbitrary: fc
        .constantFrom(4_097, 10_000, 1_100_000)
        .map((n) => Buffer.from(`{"quantity":1,"pad":"${"x".repeat(n)}"}`)),
    },
    { weight: 2, arbitrary: fc.constant(undefined) },
  );
  return fc
    .record({ method, path, authorization, contentType, idempotencyKey, extraHeaders, body })
    .map(({ method, path, authorization, contentType, idempotencyKey, extraHeaders, body }) => {
      const headers: Record<string, string> = { ...extraHeaders };
      if (authorization !== undefined) headers.authorization = authorization;
      if (contentType !== null) headers["content-type"] = contentType;
      if (idempotencyKey !== null) headers["idempotency-key"] = idempotencyKey;
      return {
        method,
        path,
        headers,
        body: method === "GET" || method === "HEAD" ? undefined : body,
      };
    });
}

describe("fault 7: random bad input against the HTTP API", () => {
  it(`never answers 5xx, answers every 4xx with the JSON error envelope or the gateway's refusal, and changes nothing when it refuses (${RUNS} requests)`, async () => {
    const started = Date.now();
    const rig = await startRig(teardown, { services: {} });
    const pids = rig.pids();
    const base = new URL(rig.app.url);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    teardown.add(async () => agent.destroy());

    // Rate limit off, so refusals come from validation and the sale's rules, not the bucket.
    const saleId = "fuzz-sale";
    const jwt = localJwtSettings({});
    const admin = await adminToken();
    const created = await send(base, agent, {
      method: "POST",
      path: "/sales",
      headers: { authorization: `Bearer ${admin}`, "content-type": "application/json" },
      body: Buffer.from(
        JSON.stringify({
          id: saleId,
          name: "Fuzz",
          stock: 1_000_000,
          perUserLimit: 100,
          rateLimit: { burst: 0, perSecond: 1 },
        }),
      ),
    });
    expect(created.status).toBe(201);
    const buyers = await Promise.all(
      ["u0", "u1", "u2", "u3"].map((sub) => signLocalToken({ sub }, jwt)),
    );
    const tokens: Record<string, string> = {
      buyers: buyers.join(" "),
      buyer0: buyers[0] ?? "",
      admin,
      expired: await signLocalToken({ sub: "u0", expiresInSeconds: -60 }, jwt),
      foreign: await signLocalToken({ sub: "u0" }, { ...jwt, secret: "not-our-secret" }),
      noSub: await signLocalToken({ sub: "" }, jwt),
    };

    const statuses: Record<string, number> = {};
    let changedByAccepted = 0;
    await fc.assert(
      fc.asyncProperty(arbitraries(saleId, tokens), async (req) => {
        const before = await saleSnapshot(rig.redis, saleId);
        const reply = await send(base, agent, req);
        const after = await saleSnapshot(rig.redis, saleId);
        statuses[reply.status] = (statuses[reply.status] ?? 0) + 1;

        expect(reply.status, reply.text).toBeLessThan(500);
        if (reply.status >= 400 && req.method !== "HEAD") {
          expect(reply.contentType).toMatch(/^application\/json/);
          // The API's own error, or a refusal API Gateway makes itself (as in AWS).
          const body = JSON.parse(reply.text);
          expect(body).toEqual(
            "error" in body
              ? { error: { code: expect.any(String), message: expect.any(String) } }
              : { message: expect.any(String) },
          );
        }
        const remaining = Number(after.sale.remaining);
        expect(remaining).toBeGreaterThanOrEqual(0);
        expect(remaining).toBeLessThanOrEqual(Number(after.sale.stock));
        if (reply.status >= 300 || req.method === "GET" || req.method === "HEAD") {
          expect(after).toEqual(before);
        } else if (JSON.stringify(after) !== JSON.stringify(before)) {
          changedByAccepted++;
        }
      }),
      {
        numRuns: RUNS,
        seed: process.env.FUZZ_SEED === undefined ? undefined : Number(process.env.FUZZ_SEED),
        interruptAfterTimeLimit: 90_000,
        markInterruptAsFailure: false,
      },
    );

    const final = await saleSnapshot(rig.redis, saleId);
    recordFault({
      fault: "7 fuzzed HTTP requests",
      requests: Object.values(statuses).reduce((a, b) => a + b, 0),
      accepted: statuses["202"] ?? 0,
      statuses,
      rows: 0,
      released: 0,
      dlq: 0,
      repaired: 0,
      durationMs: Date.now() - started,
      acceptedChangedState: changedByAccepted,
      unitsSold: Number(final.sale.stock) - Number(final.sale.remaining),
    });
    await teardown.run();
    expect(deadPids(pids)).toBe(true);
  });
});
