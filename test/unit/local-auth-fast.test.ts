import { createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import { joseVerification, type LocalJwtSettings, verifyHs256 } from "../../local/auth.js";

/**
 * The synchronous HS256 check of local/auth.ts answers only when it agrees
 * with jose: for every token here, its verdict (when it gives one) is
 * jose's verdict, and it leaves the unusual ones to jose.
 */

const SECRET = "test-secret";
const b64 = (value: unknown) =>
  Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");
const now = () => Math.floor(Date.now() / 1000);

function sign(header: unknown, payload: unknown, secret = SECRET): string {
  const input = `${b64(header)}.${b64(payload)}`;
  return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

const HS = { alg: "HS256", typ: "JWT" };
const base = () => ({ sub: "alice", iat: now(), exp: now() + 600 });

const cases: Array<[string, string, Partial<LocalJwtSettings>?]> = [
  ["valid", sign(HS, base())],
  ["valid, no typ, a kid", sign({ alg: "HS256", kid: "k1" }, base())],
  ["valid with scope and extra claims", sign(HS, { ...base(), scope: "admin", n: 4, o: { a: 1 } })],
  ["another key", sign(HS, base(), "other")],
  ["expired", sign(HS, { ...base(), exp: now() - 10 })],
  ["exp now", sign(HS, { ...base(), exp: now() })],
  ["exp a string", sign(HS, { ...base(), exp: String(now() + 600) })],
  ["no exp", sign(HS, { sub: "alice", iat: now() })],
  ["no sub", sign(HS, { iat: now(), exp: now() + 600 })],
  ["sub a number", sign(HS, { ...base(), sub: 4242 })],
  ["sub an array", sign(HS, { ...base(), sub: ["a", "b"] })],
  ["nbf in the future", sign(HS, { ...base(), nbf: now() + 600 })],
  ["nbf in the past", sign(HS, { ...base(), nbf: now() - 600 })],
  ["nbf a string", sign(HS, { ...base(), nbf: "0" })],
  ["iat in the future", sign(HS, { ...base(), iat: now() + 600 })],
  ["iat a string", sign(HS, { ...base(), iat: "1" })],
  ["alg none", `${b64({ alg: "none" })}.${b64(base())}.`],
  ["alg HS512 header", sign({ alg: "HS512" }, base())],
  ["crit header", sign({ ...HS, crit: ["exp"] }, base())],
  ["b64 false", sign({ ...HS, b64: false, crit: ["b64"] }, base())],
  ["payload an array", sign(HS, [1, 2])],
  ["payload not JSON", sign(HS, "not json")],
  ["header not JSON", `${b64("{")}.${b64(base())}.${"A".repeat(43)}`],
  ["two segments", `${b64(HS)}.${b64(base())}`],
  ["four segments", `${sign(HS, base())}.x`],
  ["signature padded", `${sign(HS, base())}=`],
  ["signature truncated", sign(HS, base()).slice(0, -1)],
  ["signature non-canonical last char", `${sign(HS, base()).slice(0, -1)}B`],
  ["bad base64 in payload", `${b64(HS)}.${b64(base())}*.${"A".repeat(43)}`],
  ["issuer expected, matches", sign(HS, { ...base(), iss: "me" }), { issuer: "me" }],
  ["issuer expected, other", sign(HS, { ...base(), iss: "you" }), { issuer: "me" }],
  ["issuer expected, missing", sign(HS, base()), { issuer: "me" }],
  ["audience expected, matches", sign(HS, { ...base(), aud: "api" }), { audience: "api" }],
  ["audience expected, in a list", sign(HS, { ...base(), aud: ["x", "api"] }), { audience: "api" }],
  ["audience expected, client_id", sign(HS, { ...base(), client_id: "api" }), { audience: "api" }],
  ["audience expected, other", sign(HS, { ...base(), aud: "x" }), { audience: "api" }],
];

describe("the synchronous HS256 check", () => {
  it.each(cases)("%s: agrees with jose", async (_name, token, overrides) => {
    const settings: LocalJwtSettings = {
      secret: SECRET,
      issuer: undefined,
      audience: undefined,
      ...overrides,
    };
    const fast = verifyHs256(token, settings);
    const jose = await joseVerification(token, settings);
    if (fast !== undefined) expect(fast).toEqual(jose);
  });

  it("answers the common cases itself: accepted, and a wrong signature", () => {
    const settings = { secret: SECRET, issuer: undefined, audience: undefined };
    expect(verifyHs256(sign(HS, base()), settings)).toHaveProperty("claims.sub", "alice");
    expect(verifyHs256(sign(HS, base(), "other"), settings)).toEqual({
      refused: "the token signature is invalid",
    });
  });
});
