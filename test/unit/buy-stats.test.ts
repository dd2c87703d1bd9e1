import type { Redis } from "ioredis";
import { afterEach, describe, expect, it, vi } from "vitest";
import { BuyStatsRecorder } from "../../lambdas/adapters/redis/buy-counters.js";

describe("BuyStatsRecorder", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  /** Records the HINCRBYs the recorder sends (one command per counter, no pipeline). */
  function fakeRedis() {
    const written: Array<[string, string, number]> = [];
    const redis = {
      hincrby: async (key: string, field: string, by: number) => {
        written.push([key, field, by]);
        return by;
      },
    };
    return { redis: redis as unknown as Redis, written };
  }

  it("flushes the last second of a burst by itself, with no request after it", async () => {
    vi.useFakeTimers();
    const { redis, written } = fakeRedis();
    const stats = new BuyStatsRecorder(redis, Date.now);
    stats.count("s", "refused:SOLD_OUT");
    stats.latency("s", 4);
    stats.maybeFlush();
    expect(written).toEqual([]); // not yet: at most once per second

    await vi.advanceTimersByTimeAsync(1_000);
    expect(written).toEqual([
      ["{sale:s}:stats", "refused:SOLD_OUT", 1],
      ["{sale:s}:stats", "lat:5", 1],
    ]);
    // Nothing pending: no timer is left armed.
    expect(vi.getTimerCount()).toBe(0);
  });

  it("still sends at most one batch per interval under load", async () => {
    vi.useFakeTimers();
    const { redis, written } = fakeRedis();
    const stats = new BuyStatsRecorder(redis, Date.now);
    for (let i = 0; i < 50; i++) {
      stats.latency("s", 1);
      stats.maybeFlush();
      await vi.advanceTimersByTimeAsync(10);
    }
    // 500 ms in: still one timer, nothing sent.
    expect(written).toEqual([]);
    expect(vi.getTimerCount()).toBe(1);
    await vi.advanceTimersByTimeAsync(500);
    expect(written).toEqual([["{sale:s}:stats", "lat:1", 50]]);
  });
});
