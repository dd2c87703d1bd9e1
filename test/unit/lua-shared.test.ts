import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** The expireHold block of a script: Redis scripts cannot share code, so it is copied and kept equal. */
function block(file: string, name = "expireHold"): string {
  const source = readFileSync(new URL(`../../lua/${file}.lua`, import.meta.url), "utf8");
  const start = source.indexOf(`-- BEGIN ${name}`);
  const end = source.indexOf(`-- END ${name}`);
  expect(start, `${file}.lua has a BEGIN ${name} marker`).toBeGreaterThanOrEqual(0);
  expect(end, `${file}.lua has an END ${name} marker`).toBeGreaterThan(start);
  return source.slice(start, end);
}

describe("expireHold, the one way a hold expires", () => {
  it("is the same code in the reserve, expiry and pay scripts", () => {
    const reference = block("reserve-8");
    expect(block("expire-holds-6")).toBe(reference);
    expect(block("pay-7")).toBe(reference);
  });
});

describe("takeToken, the one per-buyer token bucket", () => {
  it("is the same code in the reserve and the enter scripts", () => {
    expect(block("enter-4", "takeToken")).toBe(block("reserve-8", "takeToken"));
  });
});
