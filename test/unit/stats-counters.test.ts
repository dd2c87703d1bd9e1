import { describe, expect, it } from "vitest";
import {
  counterDelta,
  histogramPercentile,
  LATENCY_BUCKETS_MS,
  latencyBuckets,
  latencyField,
  latencySummary,
  outcomes,
  perSecond,
  rawCounters,
} from "../../lambdas/domain/stats-counters.js";
import { readSaleStatsConfig } from "../../lambdas/platform/config.js";
import { apiGatewayEvent } from "../../local/apigw-event.js";

/** A latency histogram holding `count` requests of `ms` each, as the buy containers write it. */
function histogram(...entries: Array<[ms: number, count: number]>): Record<string, number> {
  const raw: Record<string, number> = {};
  for (const [ms, count] of entries) {
    const field = latencyField(ms);
    raw[field] = (raw[field] ?? 0) + count;
  }
  return raw;
}

describe("stats counters", () => {
  it("reads the stats hash as numbers and groups outcomes by reason", () => {
    const raw = rawCounters({
      accepted: "20",
      units: "25",
      replayed: "2",
      rate_limited: "7",
      "refused:SOLD_OUT": "180",
      "refused:LIMIT_REACHED": "3",
      "errors:SERVICE_UNAVAILABLE": "1",
      "lat:5": "10",
      junk: "not a number",
    });
    expect(raw.junk).toBe(0);
    expect(outcomes(raw)).toEqual({
      requests: 20 + 2 + 7 + 180 + 3,
      accepted: 20,
      units: 25,
      replayed: 2,
      rateLimited: 7,
      refused: {
        SOLD_OUT: 180,
        LIMIT_REACHED: 3,
        INSUFFICIENT_STOCK: 0,
        SALE_NOT_OPEN: 0,
        SALE_ENDED: 0,
        SALE_PAUSED: 0,
        DRAW_SALE: 0,
      },
      errors: { SERVICE_UNAVAILABLE: 1 },
    });
  });

  it("reports zeros for a sale nobody has tried to buy yet", () => {
    const empty = outcomes({});
    expect(empty.requests).toBe(0);
    expect(empty.errors).toEqual({ SERVICE_UNAVAILABLE: 0 });
    expect(latencySummary({})).toBeNull();
  });

  it("turns two snapshots into per-second rates", () => {
    const before = { accepted: 10, "refused:SOLD_OUT": 5 };
    const after = { accepted: 30, "refused:SOLD_OUT": 45, rate_limited: 4 };
    const delta = counterDelta(before, after);
    expect(delta).toEqual({ accepted: 20, "refused:SOLD_OUT": 40, rate_limited: 4 });
    const rates = perSecond(outcomes(delta), 2);
    expect(rates).toMatchObject({ requests: 32, accepted: 10, rateLimited: 2 });
    expect(rates.refused.SOLD_OUT).toBe(20);
    expect(perSecond(outcomes({ accepted: 1 }), 3).accepted).toBe(0.33);
  });

  it("counts from zero when a counter went down (the hash was recreated)", () => {
    expect(counterDelta({ accepted: 100 }, { accepted: 7 })).toEqual({ accepted: 7 });
  });
});

describe("histogramPercentile", () => {
  it("interpolates inside the bucket that holds the percentile", () => {
    // 100 requests in (8, 13] ms: the median sits halfway through it.
    const buckets = latencyBuckets(histogram([10, 100]));
    expect(buckets).toEqual([{ le: 13, count: 100 }]);
    expect(histogramPercentile(buckets, 50)).toBe(10.5);
    expect(histogramPercentile(buckets, 100)).toBe(13);
  });

  it("finds p50 and p99 across buckets", () => {
    // 98 fast requests (<= 1 ms), 2 slow ones in (300, 500].
    const summary = latencySummary(histogram([0.4, 98], [400, 2]));
    expect(summary?.count).toBe(100);
    expect(summary?.p50Ms).toBeCloseTo(0.5, 5);
    expect(summary?.p99Ms).toBe(400);
  });

  it("reports the last finite bound for a percentile in the open bucket", () => {
    const last = LATENCY_BUCKETS_MS.at(-1) ?? 0;
    expect(latencySummary(histogram([1, 1], [60_000, 99]))?.p99Ms).toBe(last);
  });

  it("is null for an empty histogram", () => {
    expect(histogramPercentile([], 99)).toBeNull();
  });
});

describe("stats endpoint plumbing", () => {
  it("reads its config with a default source deadline", () => {
    const config = readSaleStatsConfig({
      REDIS_URL: "redis://127.0.0.1:6379",
      DATABASE_URL: "postgres://localhost/db",
      ORDERS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/1/orders",
      ORDERS_DLQ_URL: "https://sqs.eu-west-1.amazonaws.com/1/orders-dlq",
    });
    expect(config.sourceTimeoutMs).toBe(1_500);
    expect(() =>
      readSaleStatsConfig({ REDIS_URL: "redis://127.0.0.1:6379", DATABASE_URL: "postgres://x" }),
    ).toThrow("Environment variable ORDERS_QUEUE_URL is required");
  });

  it("gives handlers the query string as API Gateway v2 does", () => {
    const event = (rawQueryString: string) =>
      apiGatewayEvent({ routeKey: "GET /x", method: "GET", path: "/x", rawQueryString });
    expect(event("").queryStringParameters).toBeUndefined();
    expect(event("window=5&a=1&a=2").queryStringParameters).toEqual({ window: "5", a: "1,2" });
  });
});
