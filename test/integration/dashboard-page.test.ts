import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localJwtSettings } from "../../local/auth.js";
import {
  createHttpHost,
  type HttpLambda,
  listen,
  loadRouteHandlers,
} from "../../local/http-host.js";
import { invoke } from "../support/fixtures.js";

let dashboard: HttpLambda;
let server: Server;
let base: string;

beforeAll(async () => {
  dashboard = (await import("../../lambdas/handlers/dashboard.js")).handler as HttpLambda;
  server = createHttpHost({ handlers: await loadRouteHandlers(), jwt: localJwtSettings({}) });
  base = `http://127.0.0.1:${await listen(server, 0)}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

describe("GET /dashboard", () => {
  const page = (path: string, file?: string, headers: Record<string, string> = {}) =>
    invoke(dashboard, {
      routeKey: file === undefined ? "GET /dashboard" : "GET /dashboard/{file}",
      method: "GET",
      path,
      headers,
      pathParameters: file === undefined ? undefined : { file },
    });

  it("serves the page to anyone, with its security headers, and a 304 on revalidation", async () => {
    const html = await page("/dashboard");
    expect(html.status).toBe(200);
    expect(html.headers["content-type"]).toBe("text/html; charset=utf-8");
    expect(html.headers["content-security-policy"]).toContain("script-src 'self'");
    expect(html.raw).toContain('<p id="remaining" class="big" aria-live="polite"');
    const again = await page("/dashboard", undefined, { "if-none-match": html.headers.etag ?? "" });
    expect(again.status).toBe(304);

    const script = await page("/dashboard/dashboard.js", "dashboard.js");
    expect(script.headers["content-type"]).toBe("text/javascript; charset=utf-8");
  });

  it.each([
    "tsconfig.json",
    "../package.json",
    "..%2F..%2Fpackage.json",
    "__proto__",
    "missing.js",
  ])("answers 404 for %s", async (file) => {
    const reply = await page(`/dashboard/${file}`, file);
    expect(reply.status).toBe(404);
    expect(reply.body).toMatchObject({ error: { code: "NOT_FOUND" } });
  });

  it("sends /dashboard/ to /dashboard, where the page's relative links work", async () => {
    const reply = await page("/dashboard/");
    expect(reply.status).toBe(301);
    expect(reply.headers.location).toBe("../dashboard");
  });
});

describe("the dashboard page behind the local API Gateway", () => {
  it("is public, and only its own files are reachable", async () => {
    const status = async (path: string) => (await fetch(`${base}${path}`)).status;
    expect(await status("/dashboard")).toBe(200);
    expect(await status("/dashboard/dashboard.css")).toBe(200);
    expect(await status("/dashboard/..%2F..%2Fpackage.json")).toBe(404);
    expect(await status("/dashboard/../package.json")).toBe(404);
    expect(await status("/dashboard/a/b.js")).toBe(404);
  });
});
