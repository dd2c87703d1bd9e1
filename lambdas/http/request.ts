import type { APIGatewayProxyEventV2WithJWTAuthorizer } from "aws-lambda";
import type { z } from "zod";
import { buyerIdProblem } from "../domain/buyer-id.js";
import {
  ForbiddenError,
  InvalidIdentityError,
  InvalidRequestError,
  UnauthorizedError,
} from "../domain/errors.js";
import { readAdminScope } from "../platform/config.js";
import type { ParsedBody } from "./middleware.js";
import { tokenScopes } from "./scopes.js";

/**
 * Reading a request: identity from the authorizer's claims (never from the
 * body), path parameters, headers and the validated JSON body.
 */

export type HttpEvent = APIGatewayProxyEventV2WithJWTAuthorizer & ParsedBody;

type Claims = Record<string, string | number | boolean | string[]>;

function claimsOf(event: HttpEvent): Claims | undefined {
  return event.requestContext?.authorizer?.jwt?.claims as Claims | undefined;
}

/**
 * The buyer's id: the verified token's `sub`, put there by the API Gateway JWT
 * authorizer. A `sub` that cannot be a buyer id (control characters, a lone
 * surrogate, too long: see buyer-id.ts) is refused here, before any handler
 * reads or writes anything, so nothing the consumer could not persist is ever
 * reserved.
 */
export function callerId(event: HttpEvent): string {
  const sub = claimsOf(event)?.sub;
  // No `sub`, or a blank one, is no identity at all.
  if (sub === undefined || (typeof sub === "string" && sub.trim() === "")) {
    throw new UnauthorizedError();
  }
  const problem = buyerIdProblem(sub);
  if (problem !== undefined) throw new InvalidIdentityError(problem);
  return sub as string;
}

/** OAuth 2.0 scopes of the caller (`scope` or `scp`, see scopes.ts). */
export function callerScopes(event: HttpEvent): Set<string> {
  return tokenScopes(claimsOf(event));
}

/** The configured admin scope (ADMIN_SCOPE), read once per container. */
const ADMIN_SCOPE = readAdminScope();

/** The caller, who must hold the admin scope (the stack's `adminScope`). */
export function requireAdmin(event: HttpEvent): string {
  return requireScope(event, ADMIN_SCOPE);
}

export function requireScope(event: HttpEvent, scope: string): string {
  const caller = callerId(event);
  if (!callerScopes(event).has(scope)) throw new ForbiddenError(scope);
  return caller;
}

export function pathParameter(event: HttpEvent, name: string, schema: z.ZodType<string>): string {
  const parsed = schema.safeParse(event.pathParameters?.[name]);
  if (!parsed.success) {
    throw new InvalidRequestError(`Path parameter ${name} ${firstIssue(parsed.error)}`);
  }
  return parsed.data;
}

/** Header lookup; API Gateway v2 lower-cases header names. */
export function header(event: HttpEvent, name: string): string | undefined {
  return event.headers?.[name.toLowerCase()];
}

/** The query string, validated; API Gateway v2 joins repeated parameters with commas. */
export function validQuery<T>(event: HttpEvent, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(event.queryStringParameters ?? {});
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error));
  return parsed.data;
}

export function validBody<T>(event: HttpEvent, schema: z.ZodType<T>): T {
  const parsed = schema.safeParse(event.jsonBody);
  if (!parsed.success) throw new InvalidRequestError(describeIssues(parsed.error));
  return parsed.data;
}

function firstIssue(error: z.ZodError): string {
  return error.issues[0]?.message ?? "is invalid";
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) =>
      issue.path.length > 0 ? `${issue.path.join(".")}: ${issue.message}` : issue.message,
    )
    .join("; ");
}

/**
 * The request body exactly as the client sent it, for signature checks: API
 * Gateway hands over base64 (isBase64Encoded) for content types it does not
 * treat as text; "" when there is none.
 */
export function rawBody(event: HttpEvent): string {
  const body = event.body;
  if (body === undefined || body === null) return "";
  return event.isBase64Encoded ? Buffer.from(body, "base64").toString("utf8") : body;
}
