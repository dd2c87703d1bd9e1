import { describe, expect, it } from "vitest";
import { SoldOutCache } from "../../lambdas/domain/sold-out-cache.js";

describe("SoldOutCache", () => {
  function cacheAt(ttlMs: number) {
    let now = 1_000;
    const cache = new SoldOutCache(ttlMs, () => now, 2);
    return { cache, advance: (ms: number) => (now += ms) };
  }

  it("answers a remembered refusal until the ttl runs out", () => {
    const { cache, advance } = cacheAt(500);
    cache.remember("s", "SOLD_OUT", 3);
    expect(cache.refusal("s")).toBe("SOLD_OUT");
    advance(499);
    expect(cache.refusal("s")).toBe("SOLD_OUT");
    advance(1);
    expect(cache.refusal("s")).toBeUndefined();
  });

  it("forgets a flag when Redis reports a newer version (stock may be back)", () => {
    const { cache } = cacheAt(500);
    cache.remember("s", "SOLD_OUT", 3);
    cache.observe("s", 3);
    expect(cache.refusal("s")).toBe("SOLD_OUT");
    cache.observe("s", 4);
    expect(cache.refusal("s")).toBeUndefined();
  });

  it("is off with a ttl of 0 and holds a bounded number of sales", () => {
    const off = cacheAt(0).cache;
    off.remember("s", "SOLD_OUT", 1);
    expect(off.refusal("s")).toBeUndefined();

    const { cache } = cacheAt(500);
    cache.remember("a", "SOLD_OUT", 1);
    cache.remember("b", "SALE_ENDED", 1);
    cache.remember("c", "SOLD_OUT", 1);
    expect([cache.refusal("a"), cache.refusal("b"), cache.refusal("c")]).toEqual([
      undefined,
      "SALE_ENDED",
      "SOLD_OUT",
    ]);
  });
});
