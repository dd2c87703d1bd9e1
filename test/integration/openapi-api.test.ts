import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildOpenApiDocument } from "../../lambdas/openapi/document.js";
import { HTTP_ROUTES } from "../../lambdas/registry.js";
import { localJwtSettings } from "../../local/auth.js";
import {
  createHttpHost,
  type HttpLambda,
  listen,
  loadRouteHandlers,
} from "../../local/http-host.js";
import { admin, buyer, invoke } from "../support/fixtures.js";

let openapi: HttpLambda;
let server: Server;
let base: string;

beforeAll(async () => {
  openapi = (await import("../../lambdas/handlers/openapi.js")).handler as HttpLambda;
  server = createHttpHost({ handlers: await loadRouteHandlers(), jwt: localJwtSettings({}) });
  base = `http://127.0.0.1:${await listen(server, 0)}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const get = (headers: Record<string, string> = {}) =>
  invoke(openapi, { routeKey: "GET /openapi.json", method: "GET", path: "/openapi.json", headers });

describe("the route of the OpenAPI document", () => {
  it("serves the document to anyone as JSON, with an ETag, and a 304 on revalidation", async () => {
    const reply = await get();
    expect(reply.status).toBe(200);
    expect(reply.headers["content-type"]).toBe("application/json; charset=utf-8");
    expect(reply.headers["cache-control"]).toBe("no-cache");
    expect(reply.headers.etag).toMatch(/^"[\w-]{22}"$/);
    expect(reply.body).toEqual(JSON.parse(JSON.stringify(buildOpenApiDocument())));
    const again = await get({ "if-none-match": reply.headers.etag ?? "" });
    expect(again.status).toBe(304);
    expect(again.raw).toBe("");
  });

  it("is served by the local API Gateway without a token, listing every route", async () => {
    const response = await fetch(`${base}/openapi.json`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    const document = (await response.json()) as { openapi: string; paths: Record<string, object> };
    expect(document.openapi).toBe("3.1.0");
    for (const route of HTTP_ROUTES) {
      const [method, path] = route.routeKey.split(" ") as [string, string];
      expect(Object.keys(document.paths[path] ?? {}), route.routeKey).toContain(
        method.toLowerCase(),
      );
    }
  });
});

// The one route no other integration test invokes: its answers are checked against the document too.
describe("POST /admin/redrive, as the document describes it", () => {
  const redrive = async (claims: Record<string, string>, body?: string) => {
    const module = await import("../../lambdas/handlers/admin-redrive.js");
    return invoke(module.handler as HttpLambda, {
      routeKey: "POST /admin/redrive",
      method: "POST",
      path: "/admin/redrive",
      headers: { "content-type": "application/json" },
      body,
      claims,
    });
  };

  it("answers an admin with what it moved, and a buyer with 403, an invalid max with 400", async () => {
    const moved = await redrive(admin(), JSON.stringify({ max: 1 }));
    expect(moved.status).toBe(200);
    expect(moved.body).toMatchObject({ failed: 0, skipped: 0 });
    expect((await redrive(buyer("alice"))).status).toBe(403);
    expect((await redrive(admin(), JSON.stringify({ max: 0 }))).status).toBe(400);
  });
});
