import { appendFileSync } from "node:fs";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { buildOpenApiDocument, methodAndPath } from "../../lambdas/openapi/document.js";
import { HTTP_ROUTES } from "../../lambdas/registry.js";

/**
 * Checks real responses against the OpenAPI document (lambdas/openapi/): the
 * status must be documented for the route, the content type must be one the
 * document lists for that status, and a JSON body must match its schema. Used
 * by `invoke()` (test/support/fixtures.ts), so every integration test's
 * responses are checked; the count of checked responses goes to the file named
 * by OPENAPI_TALLY_FILE (set by the global setup, which prints the total).
 */

export const DOCUMENT = buildOpenApiDocument();
const DOCUMENT_ID = "flash-sale-openapi";

const ajv = new Ajv2020({ strict: false, validateSchema: false, allErrors: true });
// ajv-formats is CommonJS: its plugin is the module's `default`.
addFormats.default(ajv);
ajv.addSchema(DOCUMENT as object, DOCUMENT_ID);

const REGISTERED = new Set(HTTP_ROUTES.map((route) => route.routeKey));

/** JSON pointer segment inside a URI fragment. */
const segment = (text: string) => encodeURIComponent(text.replace(/~/g, "~0").replace(/\//g, "~1"));

const compiled = new Map<string, ValidateFunction>();
function validatorAt(pointer: string[]): ValidateFunction {
  const ref = `${DOCUMENT_ID}#/${pointer.map(segment).join("/")}`;
  let validate = compiled.get(ref);
  if (!validate) {
    validate = ajv.compile({ $ref: ref });
    compiled.set(ref, validate);
  }
  return validate;
}

interface MediaType {
  schema?: unknown;
}
interface ResponseObject {
  content?: Record<string, MediaType>;
  headers?: Record<string, { required?: boolean }>;
}

export interface CheckedResponse {
  status: number;
  headers: Record<string, string>;
  raw: string;
}

/**
 * Throws, naming the route and status, when the response is not what the
 * document says. Route keys the registry does not have (a test's own extra
 * route) are not checked: returns false.
 */
export function assertConforms(routeKey: string, response: CheckedResponse): boolean {
  if (!REGISTERED.has(routeKey)) return false;
  const [method, path] = methodAndPath(routeKey);
  const operation = (
    DOCUMENT.paths?.[path] as Record<string, { responses?: Record<string, ResponseObject> }>
  )?.[method];
  if (!operation?.responses) throw new Error(`OpenAPI: ${routeKey} is not in the document`);
  const status = String(response.status);
  const documented = operation.responses[status];
  const where = `${routeKey} -> ${status}`;
  if (!documented) {
    throw new Error(
      `OpenAPI: ${where} is not documented (documented: ${Object.keys(operation.responses).join(", ")}); body: ${response.raw.slice(0, 300)}`,
    );
  }
  for (const [name, spec] of Object.entries(documented.headers ?? {})) {
    if (spec.required && headerOf(response.headers, name.toLowerCase()) === undefined) {
      throw new Error(`OpenAPI: ${where} lacks the documented header ${name}`);
    }
  }
  const contentType = headerOf(response.headers, "content-type")?.split(";")[0]?.trim();
  const media = documented.content ?? {};
  if (response.raw === "" && contentType === undefined) {
    if (Object.keys(media).length > 0) {
      throw new Error(`OpenAPI: ${where} has no body, but the document gives it content`);
    }
    tally(routeKey, status);
    return true;
  }
  if (!contentType || !(contentType in media)) {
    throw new Error(
      `OpenAPI: ${where} answered content-type ${contentType ?? "(none)"}, documented: ${Object.keys(media).join(", ") || "(no content)"}`,
    );
  }
  if (contentType === "application/json") {
    let body: unknown;
    try {
      body = JSON.parse(response.raw);
    } catch {
      throw new Error(`OpenAPI: ${where} says application/json but its body is not JSON`);
    }
    const validate = validatorAt([
      "paths",
      path,
      method,
      "responses",
      status,
      "content",
      contentType,
      "schema",
    ]);
    if (!validate(body)) {
      throw new Error(
        `OpenAPI: ${where} does not match its schema: ${ajv.errorsText(validate.errors, { separator: "; " })}\nbody: ${response.raw.slice(0, 500)}`,
      );
    }
  }
  tally(routeKey, status);
  return true;
}

function headerOf(headers: Record<string, string>, name: string): string | undefined {
  const entry = Object.entries(headers).find(([key]) => key.toLowerCase() === name);
  return entry?.[1];
}

function tally(routeKey: string, status: string): void {
  const file = process.env.OPENAPI_TALLY_FILE;
  if (file) appendFileSync(file, `${routeKey}\t${status}\n`);
}
