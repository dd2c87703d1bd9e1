import { createHmac } from "node:crypto";
import { type LocalJwtSettings, localJwtSettings } from "../../local/auth.js";

/**
 * Buyer tokens for the bench, signed synchronously with node:crypto: the same
 * HS256 JWTs signLocalToken makes (header, sub, iat, exp, and iss/aud when the
 * settings have them), tens of thousands in well under a second.
 */
export function signTokens(
  subjects: string[],
  settings: LocalJwtSettings = localJwtSettings(),
  expiresInSeconds = 3600,
): string[] {
  const header = Buffer.from(JSON.stringify({ alg: "HS256", typ: "JWT" })).toString("base64url");
  const iat = Math.floor(Date.now() / 1000);
  return subjects.map((sub) => {
    const claims: Record<string, unknown> = { sub, iat, exp: iat + expiresInSeconds };
    if (settings.issuer) claims.iss = settings.issuer;
    if (settings.audience) claims.aud = settings.audience;
    const input = `${header}.${Buffer.from(JSON.stringify(claims)).toString("base64url")}`;
    const signature = createHmac("sha256", settings.secret).update(input).digest("base64url");
    return `${input}.${signature}`;
  });
}
