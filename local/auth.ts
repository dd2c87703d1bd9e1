import { createSecretKey, type KeyObject } from "node:crypto";
import { jwtVerify, SignJWT } from "jose";

/**
 * Bearer tokens for the local host, verified the way API Gateway's JWT
 * authorizer verifies them in AWS, and turned into the same claims object.
 * Locally tokens are HS256 with a shared secret (LOCAL_JWT_SECRET); `iss` and
 * `aud` are checked only when LOCAL_JWT_ISSUER / LOCAL_JWT_AUDIENCE are set.
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

/** Verified claims, stringified as API Gateway passes them to the Lambda; null when the token is not acceptable. */
export async function verifyBearer(
  authorization: string | undefined,
  settings: LocalJwtSettings,
): Promise<Claims | null> {
  const match = /^Bearer\s+(\S+)$/i.exec(authorization ?? "");
  const token = match?.[1];
  if (!token) return null;
  const cacheKey = `${settings.secret}\n${settings.issuer ?? ""}\n${settings.audience ?? ""}\n${token}`;
  const cached = verified.get(cacheKey);
  if (cached && Date.now() < cached.expiresAtMs) return cached.claims;
  const claims = await verifyToken(token, settings);
  if (claims) {
    if (verified.size >= VERIFIED_CACHE_MAX)
      verified.delete(verified.keys().next().value as string);
    verified.set(cacheKey, { claims, expiresAtMs: Number(claims.exp) * 1000 });
  }
  return claims;
}

async function verifyToken(token: string, settings: LocalJwtSettings): Promise<Claims | null> {
  try {
    const { payload } = await jwtVerify(token, keyOf(settings.secret), {
      algorithms: ["HS256"],
      issuer: settings.issuer,
      audience: settings.audience,
      requiredClaims: ["sub", "exp"],
    });
    // RFC 7519: `sub` is a string. Stringified below, a number or an array
    // would pass as a different buyer id ("4242", "[a b]"); refused instead.
    if (typeof payload.sub !== "string") return null;
    const claims: Claims = {};
    for (const [name, value] of Object.entries(payload)) {
      claims[name] = Array.isArray(value)
        ? `[${value.join(" ")}]`
        : typeof value === "object"
          ? JSON.stringify(value)
          : String(value);
    }
    return claims;
  } catch {
    return null;
  }
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
