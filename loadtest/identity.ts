import { createHmac, randomInt, randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";

/**
 * Who the load test's buyers are, for the artillery processor and the
 * verifier. Two sources, chosen by the environment:
 *
 * - pre-issued tokens (TOKENS_FILE: one bearer token per line, or TOKENS:
 *   tokens separated by commas or whitespace): for a deployed stage, whose
 *   API Gateway verifies tokens of its own identity provider. Each virtual
 *   user takes the next token; the buyer is the token's `sub`. Admin calls
 *   (creating the sale) use ADMIN_TOKEN.
 * - local signing (the default): HS256 tokens signed with LOCAL_JWT_SECRET
 *   (default: the local host's development secret), with LOCAL_JWT_ISSUER /
 *   LOCAL_JWT_AUDIENCE when set, exactly as local/auth.ts signs them. Each
 *   virtual user is a new buyer.
 *
 * No dependencies beyond node:crypto, so artillery can bundle it.
 */

/** The same development secret as local/auth.ts (a unit test keeps them equal). */
export const DEFAULT_LOCAL_JWT_SECRET = "flash-sale-local-development-secret";

export interface Buyer {
  userId: string;
  token: string;
  /** Position in the pre-issued token list; undefined for locally signed tokens. */
  tokenIndex?: number;
}

export interface IdentitySource {
  readonly mode: "local" | "tokens";
  /** A buyer for the next virtual user. */
  next(): Buyer;
  /** A token that authenticates as this buyer again (e.g. to read their orders). */
  tokenFor(userId: string, tokenIndex?: number): string;
  /** A token with the admin scope, or undefined when none is available. */
  admin(): string | undefined;
}

type Env = Record<string, string | undefined>;

const base64url = (text: string) => Buffer.from(text).toString("base64url");

/** An HS256 JWT, as jose's SignJWT produces it. */
export function signHs256(claims: Record<string, unknown>, secret: string): string {
  const header = base64url(JSON.stringify({ alg: "HS256", typ: "JWT" }));
  const payload = base64url(JSON.stringify(claims));
  const signature = createHmac("sha256", secret).update(`${header}.${payload}`).digest("base64url");
  return `${header}.${payload}.${signature}`;
}

/** The `sub` claim of a JWT, read without verifying it (the API verifies). */
export function subjectOf(token: string): string | undefined {
  try {
    const payload = JSON.parse(Buffer.from(token.split(".")[1] ?? "", "base64url").toString());
    return typeof payload.sub === "string" ? payload.sub : undefined;
  } catch {
    return undefined;
  }
}

export function readTokens(env: Env = process.env): string[] | undefined {
  const text = env.TOKENS_FILE ? readFileSync(env.TOKENS_FILE, "utf8") : env.TOKENS;
  if (text === undefined) return undefined;
  const tokens = text
    .replace(/Bearer\s+/gi, "")
    .split(/[\s,]+/)
    .filter((token) => token.length > 0);
  if (tokens.length === 0) throw new Error("TOKENS_FILE / TOKENS holds no token");
  return tokens;
}

export function identitySource(env: Env = process.env): IdentitySource {
  const tokens = readTokens(env);
  if (tokens) {
    // Each process starts at its own offset, so several artillery workers spread over the list.
    let counter = randomInt(tokens.length);
    return {
      mode: "tokens",
      next() {
        const tokenIndex = counter++ % tokens.length;
        const token = tokens[tokenIndex] ?? "";
        return { token, tokenIndex, userId: subjectOf(token) ?? `token-${tokenIndex}` };
      },
      tokenFor(userId, tokenIndex) {
        const token =
          tokenIndex === undefined
            ? tokens.find((t) => subjectOf(t) === userId)
            : tokens[tokenIndex];
        if (!token) throw new Error(`no pre-issued token for buyer ${userId}`);
        return token;
      },
      admin: () => env.ADMIN_TOKEN || undefined,
    };
  }

  const secret = env.LOCAL_JWT_SECRET || DEFAULT_LOCAL_JWT_SECRET;
  const sign = (sub: string, scope?: string) => {
    const now = Math.floor(Date.now() / 1000);
    return signHs256(
      {
        ...(scope ? { scope } : {}),
        sub,
        iat: now,
        exp: now + 2 * 3600,
        ...(env.LOCAL_JWT_ISSUER ? { iss: env.LOCAL_JWT_ISSUER } : {}),
        ...(env.LOCAL_JWT_AUDIENCE ? { aud: env.LOCAL_JWT_AUDIENCE } : {}),
      },
      secret,
    );
  };
  const prefix = env.BUYER_PREFIX || "lt";
  return {
    mode: "local",
    next() {
      const userId = `${prefix}-${randomUUID().slice(0, 13)}`;
      return { userId, token: sign(userId) };
    },
    tokenFor: (userId) => sign(userId),
    admin: () => env.ADMIN_TOKEN || sign("loadtest-admin", "admin"),
  };
}
