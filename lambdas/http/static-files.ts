import type { APIGatewayProxyStructuredResultV2 } from "aws-lambda";
import type { StaticFile } from "../platform/dashboard-files.js";

/**
 * Headers of every dashboard file: revalidate on each load (ETag, so a
 * reload costs a 304), no sniffing, no framing, and a content security
 * policy that lets the page load only its own files and call only its own
 * origin: no CDN, no inline script.
 */
export const STATIC_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-cache",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
};

/** The file's response, or 304 when the browser already holds this version. */
export function staticFileResponse(
  file: StaticFile,
  ifNoneMatch: string | undefined,
): APIGatewayProxyStructuredResultV2 {
  const headers = { ...STATIC_HEADERS, etag: file.etag };
  if (ifNoneMatch?.split(/\s*,\s*/).includes(file.etag)) {
    return { statusCode: 304, headers, body: "" };
  }
  return {
    statusCode: 200,
    headers: { ...headers, "content-type": file.contentType },
    body: file.body,
  };
}
