import { request, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { localJwtSettings, signLocalToken } from "../../local/auth.js";
import { createHttpHost, listen, loadRouteHandlers } from "../../local/http-host.js";

// Request targets as a client may send them, byte for byte (fetch would normalise them).
let server: Server;
let token: string;
const jwt = localJwtSettings({});

beforeAll(async () => {
  server = createHttpHost({ handlers: await loadRouteHandlers(), jwt });
  await listen(server, 0);
  token = await signLocalToken({ sub: "alice", scopes: ["admin"] }, jwt);
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function raw(method: string, path: string): Promise<{ status: number; body: unknown }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, method, path, headers: { authorization: `Bearer ${token}` } },
      (res) => {
        let text = "";
        res.on("data", (chunk) => {
          text += chunk;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

// Found by the fault suite's fuzzing (test/faults/http-fuzz.test.ts): both were 500s.
describe("local HTTP host, odd request targets", () => {
  it.each([
    ["an empty authority", "POST", "//"],
    ["a protocol-relative path", "GET", "//evil/sales/x"],
    ["a dot-segment walk to an admin route", "POST", "/sales/../admin/redrive"],
  ])("answers %s (%s %s) with the gateway's 404", async (_label, method, path) => {
    const reply = await raw(method, path);
    expect(reply).toEqual({ status: 404, body: { message: "Not Found" } });
  });

  it.each([
    ["malformed percent-encoding", "POST", "/sales/%E0%A4%A/buy"],
    ["an encoded byte that is not UTF-8", "GET", "/sales/%FF"],
  ])("answers %s (%s %s) with a JSON 400", async (_label, method, path) => {
    const reply = await raw(method, path);
    expect(reply).toEqual({
      status: 400,
      body: { error: { code: "INVALID_REQUEST", message: expect.any(String) } },
    });
  });

  it("still routes the absolute form and ignores query and fragment", async () => {
    const reply = await raw("GET", "http://127.0.0.1/sales/no-such-sale?x=1#frag");
    expect(reply).toEqual({
      status: 404,
      body: { error: { code: "SALE_NOT_FOUND", message: expect.any(String) } },
    });
  });
});

function rawBytes(bytes: string): Promise<{ status: number; body: unknown }> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () => socket.end(Buffer.from(bytes, "latin1")));
    let text = "";
    socket.on("data", (chunk) => {
      text += chunk.toString("latin1");
    });
    socket.on("error", reject);
    socket.on("close", () => {
      const [head = "", body = ""] = text.split("\r\n\r\n");
      resolve({ status: Number(head.split(" ")[1]), body: JSON.parse(body) });
    });
  });
}

describe("local HTTP host, requests Node's parser refuses", () => {
  it.each([
    ["a raw non-ASCII byte in the path", "POST /orders/\u00e9 HTTP/1.1\r\nhost: x\r\n\r\n"],
    ["a broken request line", "POST  HTTP/1.1\r\n\r\n"],
  ])("answers %s with the JSON error body (400)", async (_label, bytes) => {
    const reply = await rawBytes(bytes);
    expect(reply).toEqual({
      status: 400,
      body: { error: { code: expect.any(String), message: expect.any(String) } },
    });
  });

  it("answers headers over Node's 16 KiB (past the HTTP API's 10,240 bytes) with the gateway's 431", async () => {
    const reply = await rawBytes(
      `POST /sales/x/buy HTTP/1.1\r\nhost: x\r\nidempotency-key: ${"k".repeat(20_000)}\r\n\r\n`,
    );
    expect(reply).toEqual({ status: 431, body: { message: "Request Header Fields Too Large" } });
  });

  it("answers a refused HEAD request without a body", async () => {
    const { port } = server.address() as AddressInfo;
    const text = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, "127.0.0.1", () =>
        socket.end(Buffer.from("HEAD /sales/\u00e9 HTTP/1.1\r\nhost: x\r\n\r\n", "latin1")),
      );
      let received = "";
      socket.on("data", (chunk) => {
        received += chunk.toString("latin1");
      });
      socket.on("error", reject);
      socket.on("close", () => resolve(received));
    });
    expect(text).toMatch(/^HTTP\/1\.1 400 /);
    expect(text.endsWith("\r\n\r\n")).toBe(true);
  });
});
