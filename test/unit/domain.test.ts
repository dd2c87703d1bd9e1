import { describe, expect, it } from "vitest";
import { saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { saleFromHash } from "../../lambdas/adapters/redis/sale-hash.js";
import { reserveOutcome } from "../../lambdas/adapters/redis/sale-store.js";
import { newOrderId, saleIdOfOrder, saleStatus } from "../../lambdas/domain/sale.js";

describe("saleStatus", () => {
  const sale = { remaining: 5, startsAtMs: 1_000, endsAtMs: 2_000 };
  it.each([
    [999, "scheduled"],
    [1_000, "open"],
    [1_999, "open"],
    [2_000, "ended"],
  ])("at %i is %s", (now, status) => {
    expect(saleStatus(sale, now)).toBe(status);
  });
  it("is sold_out when open with nothing left, and never ends without an end time", () => {
    expect(saleStatus({ remaining: 0, startsAtMs: 0, endsAtMs: 0 }, 10 ** 13)).toBe("sold_out");
    expect(saleStatus({ remaining: 1, startsAtMs: 0, endsAtMs: 0 }, 10 ** 13)).toBe("open");
  });
});

describe("saleFromHash", () => {
  it("returns null for an empty hash", () => {
    expect(saleFromHash("s", {}, 0)).toBeNull();
  });
  it("derives sold and ISO times from the stored fields", () => {
    const sale = saleFromHash(
      "drop",
      {
        name: "Drop",
        stock: "10",
        remaining: "4",
        perUserLimit: "2",
        startsAt: "0",
        endsAt: String(Date.parse("2030-01-01T00:00:00Z")),
        version: "3",
      },
      Date.parse("2026-01-01T00:00:00Z"),
    );
    expect(sale).toEqual({
      id: "drop",
      name: "Drop",
      stock: 10,
      remaining: 4,
      sold: 6,
      perUserLimit: 2,
      startsAt: null,
      endsAt: "2030-01-01T00:00:00.000Z",
      status: "open",
      rateLimit: { burst: 5, perSecond: 1 },
      shards: 1,
      version: 3,
    });
  });
});

describe("order ids", () => {
  it("carry their sale id", () => {
    const id = newOrderId("drop-1", "0b7e1c1e-1111-4222-8333-944445555666");
    expect(saleIdOfOrder(id)).toBe("drop-1");
  });
  it.each(["", "no-dot", ".leading", "bad id.x"])("reject %j", (id) => {
    expect(saleIdOfOrder(id)).toBeNull();
  });
});

describe("saleKeys", () => {
  it("tags every key with the sale's hash tag", () => {
    for (const key of Object.values(saleKeys("s1"))) expect(key.startsWith("{sale:s1}")).toBe(true);
  });
});

describe("reserveOutcome", () => {
  it.each([
    [
      [1, "o1", 9, 1],
      { kind: "accepted", orderId: "o1", remaining: 9, version: 1, replayed: false },
    ],
    [
      [2, "o1", 9, 1],
      { kind: "accepted", orderId: "o1", remaining: 9, version: 1, replayed: true },
    ],
    [[-1, "", 0, 0], { kind: "not_found" }],
    [[-2, "", 5, 1], { kind: "refused", reason: "SALE_NOT_OPEN", remaining: 5, version: 1 }],
    [[-3, "", 5, 1], { kind: "refused", reason: "SALE_ENDED", remaining: 5, version: 1 }],
    [[-4, "", 0, 1], { kind: "refused", reason: "SOLD_OUT", remaining: 0, version: 1 }],
    [[-5, "", 1, 1], { kind: "refused", reason: "INSUFFICIENT_STOCK", remaining: 1, version: 1 }],
    [[-6, "", 5, 1], { kind: "refused", reason: "LIMIT_REACHED", remaining: 5, version: 1 }],
  ] as const)("maps %j", (reply, outcome) => {
    expect(reserveOutcome([...reply])).toEqual(outcome);
  });
  it("throws on a code the script does not define", () => {
    expect(() => reserveOutcome([-99, "", 0, 0])).toThrow(/unknown code -99/);
  });
});
