import { createHash } from "node:crypto";
import { httpHandler } from "../http/http-handler.js";
import { header } from "../http/request.js";
import { staticFileResponse } from "../http/static-files.js";
import { buildOpenApiDocument } from "../openapi/document.js";
import { readAdminScope } from "../platform/config.js";
import type { StaticFile } from "../platform/dashboard-files.js";

// Cold start: the document is built once (it only changes with a deploy), with its ETag.
const body = JSON.stringify(buildOpenApiDocument(undefined, readAdminScope()));
const document: StaticFile = {
  body,
  contentType: "application/json; charset=utf-8",
  etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`,
};

/**
 * GET /openapi.json (public): the API's OpenAPI 3.1 document, generated from
 * the schemas the handlers validate with, for storefront teams to generate
 * clients from. Revalidated with its ETag (a 304 when unchanged), as the
 * dashboard's files are.
 */
export const handler = httpHandler(
  async (event) => staticFileResponse(document, header(event, "if-none-match")),
  { public: true },
);
