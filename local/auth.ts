import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from "node:crypto";
import { errors, type JWTPayload, jwtVerify, SignJWT } from "jose";
import { tokenScopes } from "../lambdas/http/scopes.js";
import type { HttpRouteDefinition } from "../lambdas/registry.js";
import { type GatewayResponse, gatewayResponse } from "./gateway-responses.js";

/**
 * Bearer tokens for the local host, verified the way API Gateway's JWT
 * authorizer verifies them in AWS, and turned into the same claims object.
 * Locally tokens are HS256 with a shared secret (LOCAL_JWT_SECRET); `iss` and
 * `aud` are checked only when LOCAL_JWT_ISSUER / LOCAL_JWT_AUDIENCE are set.
 * The LocalStack REST adapter (lib/localstack/rest-adapter.ts) uses the same
 * checks.
 */

/** For development only; every real deployment verifies tokens of its identity provider. */
export const DEFAULT_LOCAL_JWT_SECRET = "flash-sale-local-development-secret";

export interface LocalJwtSettings {
  secret: string;
  issuer: string | undefined;
  audience: string | undefined;
}

export function localJwtSettings(
  env: Record<string, string | undefined> = process.env,
): LocalJwtSettings {
  return {
    secret: env.LOCAL_JWT_SECRET || DEFAULT_LOCAL_JWT_SECRET,
    issuer: env.LOCAL_JWT_ISSUER || undefined,
    audience: env.LOCAL_JWT_AUDIENCE || undefined,
  };
}

/** True when tokens would be checked with the built-in development secret, which anyone can read here. */
export function usesDevelopmentSecret(settings: LocalJwtSettings = localJwtSettings()): boolean {
  return settings.secret === DEFAULT_LOCAL_JWT_SECRET;
}

/**
 * True for a listening address only this machine can reach: 127.0.0.0/8, ::1
 * (also as ::ffff:127.x.y.z or in brackets) and `localhost`. 0.0.0.0, :: and
 * every other name or address count as reachable from elsewhere.
 */
export function isLoopbackHost(host: string): boolean {
  const name = host
    .trim()
    .toLowerCase()
    .replace(/^\[(.*)\]$/, "$1");
  if (name === "localhost" || name === "::1" || name === "0:0:0:0:0:0:0:1") return true;
  const ipv4 = /^(?:::ffff:)?(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  if (!ipv4) return false;
  return ipv4[1] === "127" && ipv4.slice(1).every((octet) => Number(octet) <= 255);
}

// One KeyObject per secret: handing jose raw bytes makes it import the key on every call.
const keys = new Map<string, KeyObject>();
function keyOf(secret: string): KeyObject {
  let key = keys.get(secret);
  if (!key) {
    key = createSecretKey(Buffer.from(secret, "utf8"));
    keys.set(secret, key);
  }
  return key;
}

export type Claims = Record<string, string | number | boolean | string[]>;

/**
 * Tokens already verified, until they expire: a buyer sends the same token
 * with every click, and a signature check costs far more than the whole buy
 * path of a refused request. The result for a token string cannot change
 * before its `exp` (the secret and settings are fixed for the process), so
 * this changes nothing but the cost. Bounded; the oldest entry goes first.
 */
const VERIFIED_CACHE_MAX = 50_000;
const verified = new Map<string, { claims: Claims; expiresAtMs: number }>();

/** Why a token was refused, in the `error_description` of the 401's `www-authenticate`. */
export type Verification = { claims: Claims } | { refused: string };

/**
 * Verifies a token as API Gateway's JWT authorizer does
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html):
 * the identity source holds the token alone or prefixed with `Bearer`; the
 * signature; `iss`; `aud` (or `client_id` when there is no `aud`); `exp`
 * after now; `nbf` and `iat` before now. Claims come out stringified, as API
 * Gateway passes them to the function.
 */
export async function verifyAuthorization(
  authorization: string | undefined,
  settings: LocalJwtSettings,
): Promise<Verification> {
  const match = /^(?:Bearer\s+)?(\S+)$/i.exec((authorization ?? "").trim());
  const token = match?.[1];
  if (!token) return { refused: "the token is missing" };
  const cacheKey = `${settings.secret}\n${settings.issuer ?? ""}\n${settings.audience ?? ""}\n${token}`;
  const cached = verified.get(cacheKey);
  if (cached && Date.now() < cached.expiresAtMs) return { claims: cached.claims };
  const result = await verifyToken(token, settings);
  if ("claims" in result) {
    if (verified.size >= VERIFIED_CACHE_MAX)
      verified.delete(verified.keys().next().value as string);
    verified.set(cacheKey, {
      claims: result.claims,
      expiresAtMs: Number(result.claims.exp) * 1000,
    });
  }
  return result;
}

async function verifyToken(token: string, settings: LocalJwtSettings): Promise<Verification> {
  return verifyHs256(token, settings) ?? joseVerification(token, settings);
}

/** The verdict of jose alone (what the synchronous check must agree with; exported for its test). */
export async function joseVerification(
  token: string,
  settings: LocalJwtSettings,
): Promise<Verification> {
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, keyOf(settings.secret), {
      algorithms: ["HS256"],
      issuer: settings.issuer,
      requiredClaims: ["sub", "exp"],
    }));
  } catch (error) {
    return { refused: refusal(error) };
  }
  return claimsOf(payload, settings);
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
/** The header fields the synchronous check understands; any other (crit, b64, jku, ...) goes to jose. */
const PLAIN_HEADER_FIELDS = new Set(["alg", "typ", "kid"]);
/** A 32-byte HMAC-SHA256 in canonical unpadded base64url: 43 characters, the last with its low bits zero. */
const HS256_SIGNATURE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== "object" || value === null || Array.isArray(value)) return false;
  return Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * The common case, synchronously with node:crypto (about 10 µs against
 * jose's asynchronous WebCrypto, 80 to 700 µs here): a compact HS256 token
 * with a plain header. It answers only what it is sure jose would answer the
 * same: an accepted token (signature, then every claim check of
 * jwtVerify(..., { algorithms: ["HS256"], issuer, requiredClaims: ["sub",
 * "exp"] }), then the same checks after it), or a wrong signature (jose
 * checks the signature before it reads the payload). Anything else (another
 * header, a claim jose would refuse, a segment that is not plain base64url)
 * returns undefined and jose decides, with its own reason.
 */
export function verifyHs256(token: string, settings: LocalJwtSettings): Verification | undefined {
  const first = token.indexOf(".");
  const second = token.indexOf(".", first + 1);
  if (first <= 0 || second <= first + 1 || token.indexOf(".", second + 1) !== -1) return undefined;
  const headerPart = token.slice(0, first);
  const payloadPart = token.slice(first + 1, second);
  const signaturePart = token.slice(second + 1);
  if (!BASE64URL.test(headerPart) || !BASE64URL.test(payloadPart)) return undefined;
  if (!HS256_SIGNATURE.test(signaturePart)) return undefined;
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(headerPart, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (!isPlainObject(header) || header.alg !== "HS256") return undefined;
  for (const field of Object.keys(header)) if (!PLAIN_HEADER_FIELDS.has(field)) return undefined;

  const expected = createHmac("sha256", keyOf(settings.secret))
    .update(token.slice(0, second))
    .digest();
  const given = Buffer.from(signaturePart, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected))
    return { refused: "the token signature is invalid" };

  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(payloadPart, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (!isPlainObject(payload)) return undefined;
  // jose's claim checks, accepting only: required sub and exp, iss when configured,
  // iat/nbf/exp numbers, nbf not after now, exp after now (no clock tolerance).
  const now = Math.floor(Date.now() / 1000);
  if (!("sub" in payload) || !("exp" in payload)) return undefined;
  if (settings.issuer !== undefined && payload.iss !== settings.issuer) return undefined;
  if ("iat" in payload && typeof payload.iat !== "number") return undefined;
  if ("nbf" in payload && (typeof payload.nbf !== "number" || payload.nbf > now)) return undefined;
  if (typeof payload.exp !== "number" || payload.exp <= now) return undefined;
  return claimsOf(payload as JWTPayload, settings);
}

/** The checks after the signature and jose's claim checks, and the claims as API Gateway passes them. */
function claimsOf(payload: JWTPayload, settings: LocalJwtSettings): Verification {
  if (settings.audience !== undefined) {
    // `client_id` counts only when there is no `aud` at all.
    const audiences =
      payload.aud === undefined
        ? [payload.client_id]
        : Array.isArray(payload.aud)
          ? payload.aud
          : [payload.aud];
    if (!audiences.includes(settings.audience))
      return { refused: "the token does not have a valid audience" };
  }
  if (typeof payload.iat === "number" && payload.iat > Math.floor(Date.now() / 1000))
    return { refused: "the token was issued in the future" };
  // RFC 7519: `sub` is a string. Stringified below, a number or an array
  // would pass as a different buyer id ("4242", "[a b]"); refused instead.
  if (typeof payload.sub !== "string") return { refused: "the token has no valid sub" };
  const claims: Claims = {};
  for (const [name, value] of Object.entries(payload)) {
    claims[name] = Array.isArray(value)
      ? `[${value.join(" ")}]`
      : typeof value === "object"
        ? JSON.stringify(value)
        : String(value);
  }
  return { claims };
}

function refusal(error: unknown): string {
  if (error instanceof errors.JWTExpired) return "the token has expired";
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === "nbf") return "the token is not valid yet";
    if (error.claim === "iss") return "the token does not have a valid issuer";
    return `the token has an invalid ${error.claim} claim`;
  }
  if (error instanceof errors.JWSSignatureVerificationFailed)
    return "the token signature is invalid";
  return "the token is not a valid JWT";
}

/** The verified claims of an Authorization header's token; null when it is not acceptable. */
export async function verifyBearer(
  authorization: string | undefined,
  settings: LocalJwtSettings,
): Promise<Claims | null> {
  const verification = await verifyAuthorization(authorization, settings);
  return "claims" in verification ? verification.claims : null;
}

export type Authorization =
  | { allowed: true; claims: Claims; scopes: string[] | null }
  | { allowed: false; response: GatewayResponse };

/**
 * The JWT authorizer in front of a route: 401 `{"message":"Unauthorized"}`
 * with a `www-authenticate` challenge for a missing or invalid token, 403
 * `{"message":"Forbidden"}` when the route has scopes and the token holds
 * none of them (API Gateway asks for at least one). On success, the claims
 * and, for a route with scopes, the token's scopes (null otherwise), as the
 * event's `requestContext.authorizer.jwt` carries them.
 */
export async function authorizeRoute(
  authorization: string | undefined,
  route: Pick<HttpRouteDefinition, "scopes">,
  settings: LocalJwtSettings,
): Promise<Authorization> {
  const scope = route.scopes.join(" ");
  const verification = await verifyAuthorization(authorization, settings);
  if ("refused" in verification) {
    const challenge = authorization
      ? `Bearer scope="${scope}" error="invalid_token" error_description="${verification.refused}"`
      : "Bearer";
    return { allowed: false, response: gatewayResponse(401, { "www-authenticate": challenge }) };
  }
  const granted = tokenScopes(verification.claims);
  if (route.scopes.length > 0 && !route.scopes.some((needed) => granted.has(needed))) {
    return {
      allowed: false,
      response: gatewayResponse(403, {
        "www-authenticate": `Bearer scope="${scope}" error="insufficient_scope" error_description="access token has insufficient privileges"`,
      }),
    };
  }
  return {
    allowed: true,
    claims: verification.claims,
    scopes: route.scopes.length > 0 ? [...granted] : null,
  };
}

export async function signLocalToken(
  options: { sub: string; scopes?: string[]; expiresInSeconds?: number },
  settings: LocalJwtSettings = localJwtSettings(),
): Promise<string> {
  const jwt = new SignJWT(options.scopes?.length ? { scope: options.scopes.join(" ") } : {})
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setSubject(options.sub)
    .setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (options.expiresInSeconds ?? 3600));
  if (settings.issuer) jwt.setIssuer(settings.issuer);
  if (settings.audience) jwt.setAudience(settings.audience);
  return jwt.sign(keyOf(settings.secret));
}
