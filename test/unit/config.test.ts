import { describe, expect, it } from "vitest";
import { keyCount } from "../../lambdas/adapters/redis/scripts.js";
import { readBuyConfig, readEventsConfig, readRedisConfig } from "../../lambdas/platform/config.js";

const base = {
  REDIS_URL: "redis://127.0.0.1:6379",
  ORDERS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/1/orders",
};

describe("config", () => {
  it("chooses where integration events go: EventBridge, else the local file, else nowhere", () => {
    expect(
      readEventsConfig({ EVENT_BUS_NAME: "flash-sale-dev", LOCAL_EVENTS_FILE: "/tmp/e.jsonl" }),
    ).toMatchObject({ kind: "eventbridge", busName: "flash-sale-dev", maxAttempts: 3 });
    expect(readEventsConfig({ LOCAL_EVENTS_FILE: " /tmp/e.jsonl " })).toEqual({
      kind: "file",
      path: "/tmp/e.jsonl",
    });
    expect(readEventsConfig({ EVENT_BUS_NAME: " " })).toEqual({ kind: "none" });
    expect(() => readEventsConfig({ EVENT_BUS_NAME: "bad name" })).toThrow(/EVENT_BUS_NAME/);
    expect(() => readEventsConfig({ EVENT_BUS_NAME: "b", EVENTS_REQUEST_TIMEOUT_MS: "0" })).toThrow(
      /EVENTS_REQUEST_TIMEOUT_MS/,
    );
  });

  it("reads a complete buy configuration with defaults", () => {
    expect(readBuyConfig({ ...base, AWS_REGION: "eu-west-1" })).toMatchObject({
      redis: { tls: false, connectTimeoutMs: 1000, commandTimeoutMs: 1000 },
      sqs: { region: "eu-west-1", endpoint: undefined, maxAttempts: 2 },
      ordersQueueUrl: base.ORDERS_QUEUE_URL,
    });
  });
  it("fails fast naming a missing variable", () => {
    expect(() => readBuyConfig({ REDIS_URL: base.REDIS_URL })).toThrow(
      "Environment variable ORDERS_QUEUE_URL is required",
    );
  });
  it("turns TLS on for rediss:// and rejects other schemes", () => {
    expect(readRedisConfig({ REDIS_URL: "rediss://cache:6379" }).tls).toBe(true);
    expect(() => readRedisConfig({ REDIS_URL: "http://cache" })).toThrow(
      /REDIS_URL must use redis: or rediss:/,
    );
  });
  it("rejects out-of-range numbers", () => {
    expect(() => readRedisConfig({ ...base, REDIS_COMMAND_TIMEOUT_MS: "0" })).toThrow(
      /REDIS_COMMAND_TIMEOUT_MS/,
    );
  });
});

describe("Lua script names", () => {
  it("carry their key count", () => {
    expect(keyCount("reserve-8")).toBe(8);
    expect(() => keyCount("reserve")).toThrow(/must end with/);
  });
});
