import { parseArgs } from "node:util";
import { localJwtSettings, signLocalToken } from "../local/auth.js";
import { stackGatewaySettings } from "../local/gateway.js";

/**
 * npm run token -- --sub alice [--admin] [--ttl 3600]
 * Prints a bearer token the local stack accepts (HS256, LOCAL_JWT_SECRET).
 * In AWS, tokens come from your identity provider instead.
 */
const { values } = parseArgs({
  options: {
    sub: { type: "string" },
    admin: { type: "boolean", default: false },
    scope: { type: "string", multiple: true },
    ttl: { type: "string", default: "3600" },
  },
});
if (!values.sub) {
  console.error(
    "usage: npm run token -- --sub <user id> [--admin] [--scope s ...] [--ttl seconds]",
  );
  process.exit(2);
}
// --admin: the scope the admin routes require (cdk.json's adminScope, `admin` by default).
const scopes = [
  ...(values.admin ? [stackGatewaySettings().adminScope] : []),
  ...(values.scope ?? []),
];
console.log(
  await signLocalToken(
    { sub: values.sub, scopes, expiresInSeconds: Number(values.ttl) },
    localJwtSettings(),
  ),
);
