import { describe, expect, it } from "vitest";
import { staticFileResponse } from "../../lambdas/http/static-files.js";
import { loadDashboardFiles } from "../../lambdas/platform/dashboard-files.js";

describe("dashboard files", () => {
  const files = loadDashboardFiles();

  it("serves the page's own html, css and js only", () => {
    expect([...files.keys()].sort()).toEqual(["dashboard.css", "dashboard.js", "index.html"]);
    expect(files.get("index.html")?.contentType).toBe("text/html; charset=utf-8");
    expect(files.get("dashboard.js")?.contentType).toBe("text/javascript; charset=utf-8");
  });

  it("loads nothing from elsewhere: no CDN, no inline script", () => {
    const html = files.get("index.html")?.body ?? "";
    expect(html).not.toMatch(/(src|href)="(https?:)?\/\//);
    expect(html).not.toMatch(/<script>(?!<\/script>)/);
    expect(files.get("dashboard.js")?.body).not.toMatch(/https?:\/\/(?!www\.w3\.org)/);
  });

  it("answers 304 when the browser holds the same version", () => {
    const file = files.get("dashboard.css");
    if (!file) throw new Error("dashboard.css missing");
    const fresh = staticFileResponse(file, undefined);
    expect(fresh.statusCode).toBe(200);
    expect(fresh.headers).toMatchObject({
      etag: file.etag,
      "content-type": "text/css; charset=utf-8",
      "x-content-type-options": "nosniff",
    });
    expect(fresh.headers?.["content-security-policy"]).toContain("connect-src 'self'");
    expect(staticFileResponse(file, file.etag).statusCode).toBe(304);
    expect(staticFileResponse(file, '"other"').statusCode).toBe(200);
  });
});
