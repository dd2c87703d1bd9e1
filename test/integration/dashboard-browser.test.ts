import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { signLocalToken } from "../../local/auth.js";
import { runDemo } from "../../local/demo.js";
import { PROJECT_ROOT } from "../../local/services/index.js";
import { type RunningStack, startStack } from "../../local/stack.js";

/**
 * The dashboard in a real browser: Debian's chromium, driven by
 * playwright-core (which downloads no browser), against the whole local
 * stack on free ports. Screenshots go to test-results/ (git-ignored).
 */

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(PROJECT_ROOT, "test-results");

let stack: RunningStack;
let browser: BrowserContext;
let profile: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `The dashboard's browser test needs Debian's chromium at ${CHROMIUM}, which is missing: run \`npm run setup\` (it runs apt-get install chromium)`,
    );
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  stack = await startStack({ port: 0, consumer: { batchSize: 10, batchingWindowMs: 20 } });
  profile = mkdtempSync(join(tmpdir(), "flash-sale-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--disable-background-networking",
      "--disable-component-update",
      "--no-first-run",
    ],
    viewport: { width: 1280, height: 900 },
  });
});

afterAll(async () => {
  await browser?.close();
  await stack?.stop({ removeData: true });
  if (profile) rmSync(profile, { recursive: true, force: true });
});

/** Console errors and uncaught exceptions of a page (a CSP violation shows up here too). */
function watchForProblems(page: Page): string[] {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(message.text());
  });
  page.on("pageerror", (error) => problems.push(error.message));
  return problems;
}

/** The page polls once a second; give each expectation several polls. */
const POLL = { timeout: 10_000 };

const text = async (page: Page, selector: string) =>
  (await page.locator(selector).textContent())?.trim() ?? "";

describe("the live dashboard in Chromium", () => {
  it("follows a small sale as it happens: stock reaches 0 and every sold unit becomes a row", async () => {
    const page = await browser.newPage();
    const problems = watchForProblems(page);
    const token = await signLocalToken({ sub: "ops", scopes: ["admin"] });

    await page.goto(`${stack.url}/dashboard#token=${token}`);
    // Before any sale exists, it waits for one; the token has left the address bar.
    await expect.poll(() => text(page, "#connection"), POLL).toContain("No sale yet");
    expect(page.url()).not.toContain("token=");
    expect(await page.locator("#remaining").getAttribute("aria-live")).toBe("polite");

    const summary = await runDemo({ url: stack.url, env: stack.env, stock: 20, buyers: 200 });
    expect(summary.ok).toBe(true);

    // The page follows the newest sale on its own and sees it drain.
    const drained = () =>
      Promise.all([
        text(page, "#connection"),
        text(page, "#remaining"),
        text(page, "#persisted-units"),
        text(page, "#sold-units"),
      ]);
    await expect
      .poll(drained, { timeout: 20_000 })
      .toEqual([`Live: ${summary.saleId}`, "0", "20", "20"]);
    expect(await text(page, "#persisted-rows")).toBe("20");
    expect(await text(page, "#in-flight")).toBe("0");
    expect(await text(page, "#status")).toBe("sold out");
    expect(await text(page, "#queue-dlq")).toBe("0");
    // Totals come from the counters reserve-8.lua (and the buy containers) keep.
    await expect
      .poll(() => text(page, '#totals td[data-outcome="All buy requests"]'), POLL)
      .toBe("200");
    expect(await text(page, '#totals td[data-outcome="Refused: sold out"]')).toBe("180");
    // Rates and the latency percentiles arrive from the second poll on.
    await expect.poll(() => text(page, "#rate-accepted"), POLL).not.toBe("–");
    expect(await text(page, "#lat-total-p99")).toMatch(/^[\d.,]+ ms$/);

    await page.screenshot({ path: join(ARTIFACTS, "dashboard-desktop.png"), fullPage: true });
    await page.setViewportSize({ width: 390, height: 844 });
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-phone.png"), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it("asks for a token, and says so when the token has no admin scope", async () => {
    const page = await browser.newPage();
    await page.goto(`${stack.url}/dashboard`);
    await expect.poll(() => page.locator("#auth").isVisible(), POLL).toBe(true);

    await page.fill("#token", await signLocalToken({ sub: "alice" }));
    await page.click("#auth button");
    await expect.poll(() => text(page, "#auth-error"), POLL).toBe("This token has no admin scope.");

    await page.fill("#token", await signLocalToken({ sub: "ops", scopes: ["admin"] }));
    await page.click("#auth button");
    await expect.poll(() => page.locator("#auth").isVisible(), POLL).toBe(false);
    await expect.poll(() => text(page, "#connection"), POLL).toMatch(/^Live: demo-/);
    await page.close();
  });
});
