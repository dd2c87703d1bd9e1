import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

/** The expireHold block of a script: Redis scripts cannot share code, so it is copied and kept equal. */
function block(file: string): string {
  const source = readFileSync(new URL(`../../lua/${file}.lua`, import.meta.url), "utf8");
  const start = source.indexOf("-- BEGIN expireHold");
  const end = source.indexOf("-- END expireHold");
  expect(start, `${file}.lua has a BEGIN expireHold marker`).toBeGreaterThanOrEqual(0);
  expect(end, `${file}.lua has an END expireHold marker`).toBeGreaterThan(start);
  return source.slice(start, end);
}

describe("expireHold, the one way a hold expires", () => {
  it("is the same code in the reserve, expiry and pay scripts", () => {
    const reference = block("reserve-8");
    expect(block("expire-holds-6")).toBe(reference);
    expect(block("pay-7")).toBe(reference);
  });
});
