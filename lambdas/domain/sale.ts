import * as z from "zod";

/**
 * What a sale is, what its ids and order ids look like, and how its status
 * is derived. Pure: no I/O here (the Redis layout is adapters/redis/keys.ts).
 */

/** Sale ids become Redis keys and path segments; `.` is reserved as the order-id separator. */
export const SALE_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

export const saleIdSchema = z
  .string()
  .regex(SALE_ID_PATTERN, "must be 1-64 characters of A-Z, a-z, 0-9, _ or -");

/** Units one request may ask for; the sale's per-user limit caps it further. */
export const MAX_QUANTITY_PER_REQUEST = 100;

export type SaleStatus = "scheduled" | "open" | "sold_out" | "ended";

/** An amount of money in minor units (cents), with its ISO 4217 currency in lower case (as Stripe writes it). */
export interface Money {
  amount: number;
  currency: string;
}

/** Longest hold a sale may give its buyers to pay. */
export const MAX_HOLD_SECONDS = 3600;

export interface Sale {
  id: string;
  name: string;
  stock: number;
  remaining: number;
  sold: number;
  perUserLimit: number;
  startsAt: string | null;
  endsAt: string | null;
  status: SaleStatus;
  rateLimit: { burst: number; perSecond: number };
  /** Stock shards (1 = unsharded). */
  shards: number;
  /** Price of one unit; absent when the sale has none. */
  price?: Money;
  /** Seconds a buyer has to pay before the units go back on sale; absent: no hold (a buy is a sale). */
  holdSeconds?: number;
  /** In a sale with a hold: units held awaiting payment, and units paid (sold = held + paid). */
  held?: number;
  paid?: number;
  /** In a sale with a hold: units whose hold expired unpaid and went back on sale. */
  expiredUnits?: number;
  /** Present (true) while an operator has paused buying; absent otherwise. */
  paused?: true;
  /** "draw" for a draw (docs/draws.md); absent for a first-come sale. */
  mode?: "draw";
  /** A draw's public state: its window, the seed's commitment, its entries. */
  draw?: SaleDrawView;
  version: number;
}

export interface SaleDrawView {
  entriesOpenAt: string | null;
  entriesCloseAt: string | null;
  /** sha256 of the secret seed, hex: fixed at creation, before any entry. */
  commitment: string;
  /** open: entries taken while the window is open; frozen: closed, the draw is running; drawn. */
  state: "open" | "frozen" | "drawn";
  entries: number;
  /** Entries the draw gave units to, once drawn (alternates not counted). */
  winners?: number;
  drawnAt?: string;
}

/**
 * An operator's controls on a running sale (POST /admin/sales/{saleId}/controls),
 * applied together; an absent field leaves that setting as it is.
 */
export interface SaleControls {
  paused?: boolean;
  /** End the sale at the request's time; there is no reopening. */
  closeNow?: true;
  perUserLimit?: number;
  rateLimit?: { burst: number; perSecond: number };
}

/** Default buy-request rate per buyer and sale: a burst of a few clicks, then one per second. */
export const DEFAULT_RATE_LIMIT = { burst: 5, perSecond: 1 } as const;

/** Most shards a sale's stock may be split into. */
export const MAX_SHARDS = 16;

export function saleStatus(
  sale: { remaining: number; startsAtMs: number; endsAtMs: number },
  nowMs: number,
): SaleStatus {
  if (nowMs < sale.startsAtMs) return "scheduled";
  if (sale.endsAtMs > 0 && nowMs >= sale.endsAtMs) return "ended";
  if (sale.remaining <= 0) return "sold_out";
  return "open";
}

/**
 * Order ids carry their sale (`<saleId>.<uuid>`), so an order can be found in
 * the sale's Redis slot from its id alone.
 */
export function newOrderId(saleId: string, uuid: string): string {
  return `${saleId}.${uuid}`;
}

/** `<saleId>.<uuid>`: what newOrderId makes, and all an order id may be. */
export const ORDER_ID_PATTERN =
  /^[A-Za-z0-9_-]{1,64}\.[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

export const orderIdSchema = z
  .string()
  .regex(ORDER_ID_PATTERN, "must be an order id as the buy returned it (<saleId>.<uuid>)");

export function saleIdOfOrder(orderId: string): string | null {
  const dot = orderId.indexOf(".");
  if (dot <= 0) return null;
  const saleId = orderId.slice(0, dot);
  return SALE_ID_PATTERN.test(saleId) ? saleId : null;
}
