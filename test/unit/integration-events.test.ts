import { describe, expect, it } from "vitest";
import {
  EVENT_SCHEMA_VERSION,
  EventsNotPublishedError,
  type IntegrationEvent,
  orderConfirmed,
  publishQuietly,
  saleEventsDue,
} from "../../lambdas/domain/integration-events.js";
import type { Order } from "../../lambdas/domain/order.js";
import type { Sale } from "../../lambdas/domain/sale.js";

const T0 = Date.parse("2026-12-03T10:00:00.000Z");
const iso = (ms: number) => new Date(ms).toISOString();

function sale(overrides: Partial<Sale> = {}): Sale {
  return {
    id: "drop-1",
    name: "Drop",
    stock: 10,
    remaining: 10,
    sold: 0,
    perUserLimit: 1,
    startsAt: iso(T0),
    endsAt: iso(T0 + 3_600_000),
    status: "open",
    rateLimit: { burst: 5, perSecond: 1 },
    shards: 1,
    version: 1,
    ...overrides,
  };
}

const types = (events: IntegrationEvent[]) => events.map((e) => e.detailType);

describe("integration events (pure)", () => {
  it("OrderConfirmed: the order id as eventId, no buyer id anywhere, status from the hold", () => {
    const order: Order = {
      orderId: "drop-1.0b6f3c1e-0000-4000-8000-000000000001",
      saleId: "drop-1",
      userId: "alice@example.com",
      quantity: 2,
      reservedAtMs: T0,
    };
    const event = orderConfirmed(order, T0 + 1500);
    expect(event).toEqual({
      detailType: "OrderConfirmed",
      detail: {
        version: EVENT_SCHEMA_VERSION,
        eventId: order.orderId,
        saleId: "drop-1",
        occurredAt: iso(T0 + 1500),
        orderId: order.orderId,
        quantity: 2,
        createdAt: iso(T0),
        status: "confirmed",
      },
    });
    expect(JSON.stringify(event)).not.toContain("alice");
    const held = orderConfirmed(
      { ...order, hold: { expiresAtMs: T0 + 600_000, amount: 2998, currency: "eur" } },
      T0 + 1500,
    );
    expect(held.detail).toMatchObject({
      status: "pending-payment",
      hold: { expiresAt: iso(T0 + 600_000), amount: 2998, currency: "eur" },
    });
  });

  it("a scheduled sale has no event; an open one SaleOpened dated by its start", () => {
    expect(saleEventsDue(sale({ status: "scheduled" }), T0 - 1, T0 - 60_000)).toEqual([]);
    const [opened, ...rest] = saleEventsDue(sale(), T0 + 90_000, T0 - 60_000);
    expect(rest).toEqual([]);
    expect(opened).toEqual({
      detailType: "SaleOpened",
      detail: {
        version: EVENT_SCHEMA_VERSION,
        eventId: "drop-1:SaleOpened",
        saleId: "drop-1",
        occurredAt: iso(T0),
        startsAt: iso(T0),
        endsAt: iso(T0 + 3_600_000),
        stock: 10,
      },
    });
    // Without a start: it opened when it was created.
    const [noStart] = saleEventsDue(sale({ startsAt: null }), T0 + 90_000, T0 + 30_000);
    expect(noStart?.detail.occurredAt).toBe(iso(T0 + 30_000));
  });

  it("sold out: SaleOpened then SaleSoldOut (dated when seen); ended: SaleClosed dated by its end", () => {
    const soldOut = sale({ remaining: 0, sold: 10, status: "sold_out" });
    const seen = T0 + 120_000;
    const events = saleEventsDue(soldOut, seen, T0);
    expect(types(events)).toEqual(["SaleOpened", "SaleSoldOut"]);
    expect(events[1]?.detail).toMatchObject({
      eventId: "drop-1:SaleSoldOut",
      occurredAt: iso(seen),
      stock: 10,
      sold: 10,
    });
    const ended = saleEventsDue(
      sale({ remaining: 4, sold: 6, status: "ended" }),
      T0 + 7_200_000,
      T0,
    );
    expect(types(ended)).toEqual(["SaleOpened", "SaleClosed"]);
    expect(ended[1]?.detail).toEqual({
      version: EVENT_SCHEMA_VERSION,
      eventId: "drop-1:SaleClosed",
      saleId: "drop-1",
      occurredAt: iso(T0 + 3_600_000),
      endsAt: iso(T0 + 3_600_000),
      stock: 10,
      sold: 6,
      soldOut: false,
    });
    const endedSoldOut = saleEventsDue(
      sale({ remaining: 0, sold: 10, status: "ended" }),
      T0 + 7_200_000,
      T0,
    );
    expect(types(endedSoldOut)).toEqual(["SaleOpened", "SaleSoldOut", "SaleClosed"]);
    expect(endedSoldOut[2]?.detail).toMatchObject({ soldOut: true });
  });

  it("publishQuietly never throws: it counts what was and was not published", async () => {
    const counted: Record<string, number> = {};
    const metrics = {
      count(name: string, value = 1) {
        counted[name] = value;
      },
    };
    const logged: string[] = [];
    const logger = {
      debug() {},
      info() {},
      warn() {},
      error(message: string) {
        logged.push(message);
      },
    };
    const events = ["a", "b", "c"].map((id) =>
      orderConfirmed({ orderId: id, saleId: "s", userId: "u", quantity: 1, reservedAtMs: T0 }, T0),
    );
    const partly = {
      publish: async () => {
        throw new EventsNotPublishedError(["b"]);
      },
    };
    expect([...(await publishQuietly({ events: partly, metrics, logger }, events))]).toEqual(["b"]);
    expect(counted).toEqual({ EventsPublished: 2, EventsPublishFailed: 1 });
    const down = {
      publish: async () => {
        throw new Error("ECONNREFUSED");
      },
    };
    expect((await publishQuietly({ events: down, metrics, logger }, events)).size).toBe(3);
    expect(counted.EventsPublishFailed).toBe(3);
    expect(logged).toEqual([
      "integration events not published",
      "integration events not published",
    ]);
    // No publisher: nothing built is sent, nothing counted.
    expect((await publishQuietly({ metrics }, events)).size).toBe(0);
  });
});
