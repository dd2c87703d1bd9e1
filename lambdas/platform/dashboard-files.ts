import { createHash } from "node:crypto";
import { extname } from "node:path";
import { bundledOrOnDisk } from "./bundled-files.js";

/**
 * The dashboard page's static files (lambdas/dashboard/), served by the
 * `dashboard` handler. As with the Lua scripts, the Lambda bundle carries
 * their text: esbuild defines __DASHBOARD_FILES__ ({ "index.html": "<text>",
 * ... }, see lib/), so nothing is read from disk there. Elsewhere the folder
 * is read once, at import.
 */

export interface StaticFile {
  body: string;
  contentType: string;
  /** Strong validator: a digest of the body. */
  etag: string;
}

/** The only kinds of file served; anything else in the folder (tsconfig.json) is not. */
export const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

declare const __DASHBOARD_FILES__: Record<string, string> | undefined;

const DASHBOARD_DIR = new URL("../dashboard/", import.meta.url);

function sources(): Record<string, string> {
  return bundledOrOnDisk(
    typeof __DASHBOARD_FILES__ !== "undefined" ? __DASHBOARD_FILES__ : undefined,
    DASHBOARD_DIR,
    (name) => CONTENT_TYPES[extname(name)] !== undefined,
  );
}

/** Every servable file by its name; a request can only ever name one of these keys. */
export function loadDashboardFiles(): Map<string, StaticFile> {
  const files = new Map<string, StaticFile>();
  for (const [name, body] of Object.entries(sources())) {
    const contentType = CONTENT_TYPES[extname(name)];
    if (contentType === undefined) continue;
    const digest = createHash("sha256").update(body).digest("base64url").slice(0, 22);
    files.set(name, { body, contentType, etag: `"${digest}"` });
  }
  if (!files.has("index.html")) throw new Error("The dashboard has no index.html");
  return files;
}
