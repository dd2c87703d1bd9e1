/**
 * The OAuth 2.0 scopes of a verified token's claims, read the way API
 * Gateway's JWT authorizer reads them: the `scope` claim, or else `scp`
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-jwt-authorizer.html).
 * Either may be a space-separated string (OAuth 2.0) or a list; API Gateway
 * hands a list claim to the function rendered as "[a b]". One function for the
 * local host, the LocalStack REST adapter and the handlers.
 */
export function tokenScopes(claims: Record<string, unknown> | undefined): Set<string> {
  const raw = claims?.scope ?? claims?.scp;
  if (raw === undefined || raw === null) return new Set();
  const text = Array.isArray(raw) ? raw.join(" ") : String(raw);
  return new Set(
    text
      .replace(/^\[|\]$/g, "")
      .split(/[\s,]+/)
      .filter(Boolean),
  );
}

/**
 * The role name lambdas/registry.ts writes on the admin routes. The scope a token
 * must hold for it is a setting (`adminScope` in cdk.json, ADMIN_SCOPE for the
 * handlers), since identity providers name scopes their own way: Cognito
 * `<resource-server>/<scope>`, e.g. `flash-sale/admin`.
 */
export const ADMIN_ROLE = "admin";

/** A route's scopes with the admin role replaced by the configured admin scope. */
export function resolveScopes(scopes: readonly string[], adminScope: string): string[] {
  return scopes.map((scope) => (scope === ADMIN_ROLE ? adminScope : scope));
}
