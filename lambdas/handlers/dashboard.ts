import { DashboardFileNotFoundError } from "../domain/errors.js";
import { httpHandler } from "../http/http-handler.js";
import { header } from "../http/request.js";
import { staticFileResponse } from "../http/static-files.js";
import { loadDashboardFiles } from "../platform/dashboard-files.js";

const files = loadDashboardFiles();

/**
 * GET /dashboard and GET /dashboard/{file} (public): the live sale dashboard,
 * a static page whose numbers come from GET /admin/sales/{saleId}/stats
 * with the operator's admin token. The page holds no data itself.
 *
 * A request can only name one of the files loaded at cold start (a map
 * lookup, never a path on disk), so there is nothing to traverse.
 */
export const handler = httpHandler(
  async (event) => {
    // The page's relative links assume /dashboard; send /dashboard/ there.
    if (event.rawPath?.endsWith("/dashboard/")) {
      return { statusCode: 301, headers: { location: "../dashboard" }, body: "" };
    }
    const name = event.pathParameters?.file ?? "index.html";
    const file = files.get(name);
    if (!file) throw new DashboardFileNotFoundError(name);
    return staticFileResponse(file, header(event, "if-none-match"));
  },
  { public: true },
);
