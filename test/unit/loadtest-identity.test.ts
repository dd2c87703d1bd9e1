import { describe, expect, it } from "vitest";
import * as loadtestIdentity from "../../loadtest/identity.js";
import { identitySource, readTokens, subjectOf } from "../../loadtest/identity.js";
import { DEFAULT_LOCAL_JWT_SECRET, localJwtSettings, verifyBearer } from "../../local/auth.js";

describe("loadtest identities (loadtest/identity.ts)", () => {
  it("signs tokens the local API Gateway accepts, a new buyer per virtual user", async () => {
    const identities = identitySource({});
    const first = identities.next();
    const second = identities.next();

    const claims = await verifyBearer(`Bearer ${first.token}`, localJwtSettings({}));

    expect(loadtestIdentity.DEFAULT_LOCAL_JWT_SECRET).toBe(DEFAULT_LOCAL_JWT_SECRET);
    expect(claims?.sub).toBe(first.userId);
    expect(second.userId).not.toBe(first.userId);
    expect(subjectOf(identities.tokenFor(first.userId))).toBe(first.userId);
  });

  it("signs the admin token with the admin scope, and honours secret, issuer and audience", async () => {
    const env = { LOCAL_JWT_SECRET: "s3cret", LOCAL_JWT_ISSUER: "iss", LOCAL_JWT_AUDIENCE: "aud" };
    const identities = identitySource(env);

    const claims = await verifyBearer(`Bearer ${identities.admin()}`, localJwtSettings(env));
    const wrongSecret = await verifyBearer(
      `Bearer ${identities.next().token}`,
      localJwtSettings({}),
    );

    expect(claims).toMatchObject({ scope: "admin", iss: "iss", aud: "aud" });
    expect(wrongSecret).toBeNull();
  });

  it("rotates pre-issued tokens (TOKENS) and names each buyer by the token's sub", () => {
    const tokens = identitySource({}).next().token;
    const other = identitySource({}).next().token;
    const identities = identitySource({ TOKENS: `Bearer ${tokens}, ${other}`, ADMIN_TOKEN: "adm" });

    const seen = [identities.next(), identities.next(), identities.next()];

    expect(identities.mode).toBe("tokens");
    expect(new Set(seen.map((b) => b.userId)).size).toBe(2);
    expect(seen[0]?.userId).toBe(subjectOf(seen[0]?.token ?? ""));
    expect(identities.tokenFor("x", seen[1]?.tokenIndex)).toBe(seen[1]?.token);
    expect(identities.admin()).toBe("adm");
    expect(() => readTokens({ TOKENS: " , " })).toThrow("holds no token");
  });
});
