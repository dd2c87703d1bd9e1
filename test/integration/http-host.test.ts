import type { Server } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localJwtSettings, signLocalToken } from "../../local/auth.js";
import { createHttpHost, listen, loadRouteHandlers } from "../../local/http-host.js";
import { uniqueSaleId } from "../support/fixtures.js";

let server: Server;
let base: string;
const jwt = localJwtSettings({});

beforeAll(async () => {
  server = createHttpHost({ handlers: await loadRouteHandlers(), jwt });
  base = `http://127.0.0.1:${await listen(server, 0)}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

async function call(
  method: string,
  path: string,
  options: { token?: string; body?: string; headers?: Record<string, string> } = {},
) {
  const response = await fetch(`${base}${path}`, {
    method,
    body: options.body,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...options.headers,
    },
  });
  return { status: response.status, body: await response.json(), headers: response.headers };
}

describe("local HTTP host", () => {
  it("serves a sale end to end over HTTP: create as admin, buy as a buyer, read the sale", async () => {
    const saleId = uniqueSaleId("http");
    const adminToken = await signLocalToken({ sub: "ops", scopes: ["admin"] }, jwt);
    const created = await call("POST", "/sales", {
      token: adminToken,
      body: JSON.stringify({ id: saleId, name: "Sneakers", stock: 3, perUserLimit: 1 }),
    });
    expect(created.status).toBe(201);

    const buyerToken = await signLocalToken({ sub: "alice" }, jwt);
    const bought = await call("POST", `/sales/${saleId}/buy`, { token: buyerToken, body: "{}" });
    expect(bought.status).toBe(202);
    expect(bought.body).toMatchObject({ status: "pending" });

    const sale = await call("GET", `/sales/${saleId}`);
    expect(sale.body).toMatchObject({ remaining: 2, sold: 1 });
  });

  it.each([
    ["an unknown route", "GET", "/nope"],
    ["a wrong method on a known path (the HTTP API has no 405)", "DELETE", "/sales/x"],
  ])("answers %s as API Gateway does: 404 Not Found", async (_label, method, path) => {
    const reply = await call(method, path);
    expect(reply.status).toBe(404);
    expect(reply.body).toEqual({ message: "Not Found" });
  });

  it.each([
    ["no token", undefined],
    ["a malformed token", "not-a-jwt"],
    ["a token signed with another secret", "other"],
    ["an expired token", "expired"],
  ])("refuses a buy with %s: 401", async (_label, kind) => {
    let token = kind;
    if (kind === "other")
      token = await signLocalToken({ sub: "alice" }, { ...jwt, secret: "someone-elses-secret" });
    if (kind === "expired")
      token = await signLocalToken({ sub: "alice", expiresInSeconds: -60 }, jwt);
    const reply = await call("POST", "/sales/any/buy", { token });
    expect(reply.status).toBe(401);
    expect(reply.body).toEqual({ message: "Unauthorized" });
    expect(reply.headers.get("www-authenticate")).toMatch(/^Bearer/);
  });

  it("refuses a sale creation without the admin scope: 403", async () => {
    const token = await signLocalToken({ sub: "alice" }, jwt);
    const reply = await call("POST", "/sales", { token, body: "{}" });
    expect(reply.status).toBe(403);
    expect(reply.body).toEqual({ message: "Forbidden" });
  });
});
