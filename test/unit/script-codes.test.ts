import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { SCRIPT_CODES, SCRIPT_FILES } from "../../lambdas/adapters/redis/scripts.js";
import { REFUSAL_REASONS } from "../../lambdas/domain/outcomes.js";

/** The reply codes a script's header lists under "Returns { ... }:". */
function documentedCodes(file: string): number[] {
  const source = readFileSync(new URL(`../../lua/${file}.lua`, import.meta.url), "utf8");
  const header = source.slice(source.indexOf("Returns {"), source.indexOf("]]"));
  const block = header.split(/\n\s*\n/)[0] ?? "";
  return [...block.matchAll(/^\s+(-?\d+)\s{2,}\S/gm)].map((m) => Number(m[1]));
}

describe("Lua reply codes", () => {
  it.each(Object.keys(SCRIPT_FILES) as Array<keyof typeof SCRIPT_FILES>)(
    "%s: the adapter knows exactly the codes its script documents",
    (script) => {
      const known = Object.keys(SCRIPT_CODES[script]).map(Number);
      expect(known.sort()).toEqual(documentedCodes(SCRIPT_FILES[script]).sort());
    },
  );

  it("the reserve script's refusals are the outcomes table's refusals", () => {
    const refusals = Object.values(SCRIPT_CODES.reserve).filter((meaning) =>
      (REFUSAL_REASONS as readonly string[]).includes(meaning),
    );
    expect(refusals.sort()).toEqual([...REFUSAL_REASONS].sort());
  });
});
