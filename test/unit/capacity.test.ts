import { describe, expect, it } from "vitest";
import {
  ASSUMED,
  ASSUMPTIONS,
  acuForConnections,
  capacityPlan,
  DEFAULT_DROP,
  maxConnections,
  secondsToScale,
} from "../../scripts/capacity/model.js";

const drop = (buyersPerSecond: number, stock: number, holdSeconds = 0) =>
  capacityPlan({ ...DEFAULT_DROP, buyersPerSecond, stock, holdSeconds });

describe("capacity model", () => {
  it("names a source for every figure it uses", () => {
    for (const [key, { value, source }] of Object.entries(ASSUMPTIONS)) {
      expect(Number.isFinite(value), key).toBe(true);
      expect(source.length, key).toBeGreaterThan(10);
    }
  });

  it("scales Lambda 1,000 environments per 10 s from nothing", () => {
    expect(secondsToScale(800, 1000)).toBe(0);
    expect(secondsToScale(1000, 1000)).toBe(0);
    expect(secondsToScale(1001, 1000)).toBe(10);
    expect(secondsToScale(5000, 1000)).toBe(40);
  });

  it("derives Aurora's max_connections from ACU (2 GiB each), capped at 5,000", () => {
    expect(maxConnections(1)).toBe(Math.floor((2 * 1024 ** 3) / 9_531_392)); // 225
    expect(maxConnections(256)).toBe(5000);
    // 90 % of the connections go through the proxy: 200 need 1 ACU (225 × 0.9 = 202).
    expect(acuForConnections(200)).toBe(1);
    expect(acuForConnections(203)).toBe(1.5);
  });

  it("works the 100,000 buyers/s example out by hand", () => {
    const plan = drop(100_000, 50_000);
    const R = 100_000 * 1.2;
    expect(plan.sellOutSeconds).toBe(0.5);
    expect(plan.acceptedOrders).toBe(50_000);
    expect(plan.apiGateway.requestsPerSecond).toBe(R);
    expect(plan.apiGateway.accountQuotaNeeded).toBe(R * 1.2);
    expect(plan.apiGateway.quotaIncrease).toBe(true);
    expect(plan.edge.cloudFrontQuotaOk).toBe(true);
    // Little's law: accepted at 0.4 + 1 + 8 ms, the other 20,000/s refused at 0.037 + 1 ms.
    const concurrency = (100_000 * 9.4 + 20_000 * 1.037) / 1000;
    expect(plan.buyLambda.peakConcurrency).toBe(Math.ceil(concurrency));
    expect(plan.buyLambda.provisionedConcurrency).toBe(0);
    // Redis: 20 µs a script at 60 % → 30,000 per shard.
    expect(plan.redis.opsPerShard).toBe(30_000);
    expect(plan.redis.saleShards).toBe(Math.ceil(plan.redis.opsPerSecond / 30_000));
    // The consumer: 100 orders in 100 × 0.174 + 25 ms.
    expect(plan.consumer.ordersPerSecondEach).toBe(Math.round((100 / (17.4 + 25)) * 1000));
    // Variable cost: CloudFront 1.00 + WAF 0.60 + API 1.00 + Lambda requests 0.20 + duration.
    const gbSeconds = (100_000 * 9.4 + 20_000 * 1.037) / R / 1000;
    expect(plan.cost.perMillionBuys).toBeCloseTo(2.8 + gbSeconds * 1e6 * 0.0000133334, 2);
  });

  it("needs provisioned concurrency once the step exceeds what Lambda adds in 10 s", () => {
    const plan = drop(500_000, 1_000_000);
    expect(plan.buyLambda.peakConcurrency).toBeGreaterThan(ASSUMED.lambdaScalingPer10s);
    expect(plan.buyLambda.provisionedConcurrency).toBe(
      plan.buyLambda.peakConcurrency - ASSUMED.lambdaScalingPer10s,
    );
    expect(plan.cost.hourlyFixedBreakdown.provisionedConcurrency).toBeGreaterThan(0);
    expect(plan.lambdaAccountConcurrencyNeeded).toBeGreaterThan(plan.buyLambda.peakConcurrency);
  });

  it("stays on one shard and the default quotas for a small drop", () => {
    const plan = drop(1_000, 500);
    expect(plan.redis.saleShards).toBe(1);
    expect(plan.apiGateway.quotaIncrease).toBe(false);
    expect(plan.buyLambda.provisionedConcurrency).toBe(0);
    expect(plan.consumer.concurrency).toBe(2); // the event source's minimum
  });

  it("flags a hold sale that would need more than one shard (holds cannot be sharded)", () => {
    expect(drop(100_000, 50_000, 600).redis.holdSaleLimited).toBe(true);
    expect(drop(1_000, 500, 600).redis.holdSaleLimited).toBe(false);
    // A hold adds the payment or the expiry of every order within the hold.
    expect(drop(1_000, 600, 600).redis.opsPerSecond - drop(1_000, 600, 0).redis.opsPerSecond).toBe(
      1,
    );
  });

  it("sizes the consumers to drain in time, within the event source's maximum", () => {
    const plan = capacityPlan({
      ...DEFAULT_DROP,
      buyersPerSecond: 100_000,
      stock: 10_000_000,
      holdSeconds: 0,
      drainSeconds: 30,
    });
    expect(plan.consumer.concurrency).toBe(
      Math.ceil(plan.acceptedOrders / (30 * (100 / 42.4) * 1000)),
    );
    expect(plan.consumer.drainSeconds).toBeLessThanOrEqual(30);
    expect(plan.database.maxCapacity).toBeGreaterThanOrEqual(plan.database.acu);
    expect(plan.database.maxCapacity).toBeGreaterThanOrEqual(plan.database.maxAcuForConnections);
  });

  it("refuses a drop without buyers or stock", () => {
    expect(() => drop(0, 10)).toThrow(RangeError);
    expect(() => drop(10, 0)).toThrow(RangeError);
  });
});
