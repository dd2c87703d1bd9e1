import type { Order } from "./order.js";
import type { EventPublisher, Logger, MetricsSink } from "./ports.js";
import type { Sale } from "./sale.js";

/**
 * The events other systems may subscribe to (docs/events.md): what happened
 * to a sale or an order, built here, published off the buy path by the
 * consumer (OrderConfirmed) and the scheduled repair (the sale events), on
 * EventBridge in AWS and into a file in the local stack. Pure.
 *
 * Every event carries a deterministic `eventId` (the same fact always has the
 * same id), since delivery is at least once: consumers dedupe on it. No buyer
 * id or any other personal data is ever in an event; an order is named by its
 * order id only.
 */

/** EventBridge `source` of every event. */
export const EVENT_SOURCE = "flash-sale-engine";

/** The version of the detail schemas; a breaking change bumps it (and the docs say what changed). */
export const EVENT_SCHEMA_VERSION = 1;

export const INTEGRATION_EVENT_TYPES = [
  "SaleOpened",
  "SaleSoldOut",
  "OrderConfirmed",
  "SaleClosed",
] as const;
export type IntegrationEventType = (typeof INTEGRATION_EVENT_TYPES)[number];

interface DetailBase {
  /** EVENT_SCHEMA_VERSION. */
  version: number;
  /** Deterministic: `<saleId>:<type>` for the sale events, the order id for OrderConfirmed. */
  eventId: string;
  saleId: string;
  /** When the fact became true, ISO 8601 UTC (see each type for how exact it is). */
  occurredAt: string;
}

export interface SaleOpenedDetail extends DetailBase {
  /** The sale's start (null: it opened when it was created). */
  startsAt: string | null;
  endsAt: string | null;
  stock: number;
}

export interface SaleSoldOutDetail extends DetailBase {
  stock: number;
  /** Units taken when the repair saw it sold out (held units of a sale with a hold included). */
  sold: number;
}

export interface SaleClosedDetail extends DetailBase {
  /** The sale's end: its window's end, or the time an operator closed it (closeNow). */
  endsAt: string;
  stock: number;
  sold: number;
  /** No unit was left when it closed. */
  soldOut: boolean;
}

export interface OrderConfirmedDetail extends DetailBase {
  orderId: string;
  quantity: number;
  /** When the buy reserved the units. */
  createdAt: string;
  /** `confirmed`: the order is final. `pending-payment`: a sale with a hold; paid or expired later. */
  status: "confirmed" | "pending-payment";
  /** Only for `pending-payment`: until when the buyer may pay, and what is due (minor units). */
  hold?: { expiresAt: string; amount: number; currency: string };
}

export type IntegrationEvent =
  | { detailType: "SaleOpened"; detail: SaleOpenedDetail }
  | { detailType: "SaleSoldOut"; detail: SaleSoldOutDetail }
  | { detailType: "SaleClosed"; detail: SaleClosedDetail }
  | { detailType: "OrderConfirmed"; detail: OrderConfirmedDetail };

const iso = (ms: number) => new Date(ms).toISOString();

/** OrderConfirmed for an order whose row was just written (the first time, never for a duplicate). */
export function orderConfirmed(order: Order, persistedAtMs: number): IntegrationEvent {
  const detail: OrderConfirmedDetail = {
    version: EVENT_SCHEMA_VERSION,
    eventId: order.orderId,
    saleId: order.saleId,
    occurredAt: iso(persistedAtMs),
    orderId: order.orderId,
    quantity: order.quantity,
    createdAt: iso(order.reservedAtMs),
    status: order.hold ? "pending-payment" : "confirmed",
  };
  if (order.hold) {
    detail.hold = {
      expiresAt: iso(order.hold.expiresAtMs),
      amount: order.hold.amount,
      currency: order.hold.currency,
    };
  }
  return { detailType: "OrderConfirmed", detail };
}

/**
 * The sale events that are true of `sale` at `nowMs`, in the order they
 * happened (opened, sold out, closed); the caller sends each once. `createdAtMs`
 * (when the sale was first recorded) dates the opening of a sale without a start.
 */
export function saleEventsDue(sale: Sale, nowMs: number, createdAtMs: number): IntegrationEvent[] {
  const events: IntegrationEvent[] = [];
  if (sale.status === "scheduled") return events;
  const base = (type: IntegrationEventType, occurredAtMs: number): DetailBase => ({
    version: EVENT_SCHEMA_VERSION,
    eventId: saleEventId(sale.id, type),
    saleId: sale.id,
    occurredAt: iso(occurredAtMs),
  });
  const startsAtMs = sale.startsAt ? Date.parse(sale.startsAt) : 0;
  // The later of its start and its creation (0: unknown), never after now.
  const createdMs = createdAtMs > 0 ? createdAtMs : startsAtMs > 0 ? startsAtMs : nowMs;
  const openedAtMs = Math.min(nowMs, Math.max(startsAtMs, createdMs));
  events.push({
    detailType: "SaleOpened",
    detail: {
      ...base("SaleOpened", openedAtMs),
      startsAt: sale.startsAt,
      endsAt: sale.endsAt,
      stock: sale.stock,
    },
  });
  const soldOut = sale.remaining <= 0;
  if (soldOut) {
    events.push({
      detailType: "SaleSoldOut",
      detail: { ...base("SaleSoldOut", nowMs), stock: sale.stock, sold: sale.sold },
    });
  }
  if (sale.status === "ended" && sale.endsAt) {
    events.push({
      detailType: "SaleClosed",
      detail: {
        ...base("SaleClosed", Date.parse(sale.endsAt)),
        endsAt: sale.endsAt,
        stock: sale.stock,
        sold: sale.sold,
        soldOut,
      },
    });
  }
  return events;
}

export function saleEventId(saleId: string, type: IntegrationEventType): string {
  return `${saleId}:${type}`;
}

/** Some events were not accepted (after the publisher's own retry); they name them. */
export class EventsNotPublishedError extends Error {
  override name = "EventsNotPublishedError";
  constructor(
    readonly failedEventIds: string[],
    message = `${failedEventIds.length} event(s) not published`,
  ) {
    super(message);
  }
}

/** The ids of `events` a failed publish did not deliver (all of them unless the error names some). */
export function failedIds(events: IntegrationEvent[], error: unknown): Set<string> {
  if (error instanceof EventsNotPublishedError) return new Set(error.failedEventIds);
  return new Set(events.map((e) => e.detail.eventId));
}

/**
 * Publishes and never throws: a failure is logged and counted
 * (`EventsPublishFailed`), since an event must never fail the work it reports.
 * Resolves to the ids that were not published.
 */
export async function publishQuietly(
  deps: { events?: EventPublisher; logger?: Logger; metrics?: MetricsSink },
  events: IntegrationEvent[],
): Promise<Set<string>> {
  if (!deps.events || events.length === 0) return new Set();
  try {
    await deps.events.publish(events);
    deps.metrics?.count("EventsPublished", events.length);
    return new Set();
  } catch (error) {
    const failed = failedIds(events, error);
    deps.metrics?.count("EventsPublished", events.length - failed.size);
    deps.metrics?.count("EventsPublishFailed", failed.size);
    deps.logger?.error("integration events not published", {
      error: (error as Error).message,
      failed: failed.size,
      eventIds: [...failed].slice(0, 20),
    });
    return failed;
  }
}
