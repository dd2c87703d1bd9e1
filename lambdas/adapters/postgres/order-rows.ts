import type pg from "pg";
import type { Order, OrderEvent, OrderEventKind, OrderRow } from "../../domain/order.js";
import type { InsertResult, OrderRows } from "../../domain/ports.js";

/** Order rows in Postgres. Every write is idempotent on order_id. */

/**
 * Inserts a batch in one round trip. Arrays go in as parameters and unnest
 * into rows, so the statement text is the same for any batch size and a
 * duplicate (redelivered) order id is skipped, never a second row.
 * Returns the ids that were new.
 */
export async function insertOrders(
  db: pg.Pool | pg.PoolClient,
  orders: Order[],
): Promise<string[]> {
  if (orders.length === 0) return [];
  const result = await db.query<{ order_id: string }>(
    `INSERT INTO orders (order_id, sale_id, user_id, quantity, reserved_at, expires_at, amount_due, currency)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[],
                          $6::timestamptz[], $7::bigint[], $8::text[])
     ON CONFLICT (order_id) DO NOTHING
     RETURNING order_id`,
    [
      orders.map((o) => o.orderId),
      orders.map((o) => o.saleId),
      orders.map((o) => o.userId),
      orders.map((o) => o.quantity),
      orders.map((o) => new Date(o.reservedAtMs)),
      orders.map((o) => (o.hold ? new Date(o.hold.expiresAtMs) : null)),
      orders.map((o) => o.hold?.amount ?? null),
      orders.map((o) => o.hold?.currency ?? null),
    ],
  );
  // A held order's history starts with its hold, written with the row (same idempotency).
  const held = orders.filter((o) => o.hold !== undefined);
  if (held.length > 0) {
    await insertEvents(
      db,
      held.map((o) => ({
        orderId: o.orderId,
        saleId: o.saleId,
        event: "held" as const,
        atMs: o.reservedAtMs,
        amount: o.hold?.amount,
        currency: o.hold?.currency,
      })),
    );
  }
  return result.rows.map((row) => row.order_id);
}

/** History events in one statement; a redelivered one (same order and kind) is skipped. */
export async function insertEvents(
  db: pg.Pool | pg.PoolClient,
  events: OrderEvent[],
): Promise<void> {
  if (events.length === 0) return;
  await db.query(
    `INSERT INTO order_events (order_id, sale_id, event, at, amount, currency, reference)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::bigint[],
                          $6::text[], $7::text[])
     ON CONFLICT (order_id, event) DO NOTHING`,
    [
      events.map((e) => e.orderId),
      events.map((e) => e.saleId),
      events.map((e) => e.event),
      events.map((e) => new Date(e.atMs)),
      events.map((e) => e.amount ?? null),
      events.map((e) => e.currency ?? null),
      events.map((e) => e.reference ?? null),
    ],
  );
}

interface EventRow {
  order_id: string;
  sale_id: string;
  event: OrderEventKind;
  at: Date;
  amount: string | null;
  currency: string | null;
  reference: string | null;
}

const toEvent = (row: EventRow): OrderEvent => ({
  orderId: row.order_id,
  saleId: row.sale_id,
  event: row.event,
  atMs: row.at.getTime(),
  ...(row.amount !== null && { amount: Number(row.amount) }),
  ...(row.currency !== null && { currency: row.currency }),
  ...(row.reference !== null && { reference: row.reference }),
});

export async function eventsOfOrder(db: pg.Pool, orderId: string): Promise<OrderEvent[]> {
  const result = await db.query<EventRow>(
    "SELECT * FROM order_events WHERE order_id = $1 ORDER BY at, recorded_at",
    [orderId],
  );
  return result.rows.map(toEvent);
}

export async function refundsDueOfSale(db: pg.Pool, saleId: string): Promise<OrderEvent[]> {
  const result = await db.query<EventRow>(
    "SELECT * FROM order_events WHERE sale_id = $1 AND event = 'refund_due' ORDER BY at",
    [saleId],
  );
  return result.rows.map(toEvent);
}

/**
 * Postgres refused the data itself (SQLSTATE class 22 data exception, 23
 * integrity constraint, 54 program limit): retrying the same rows cannot
 * succeed. Anything else (connection refused, timeout, a failover) may.
 */
export function isDataError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^(22|23|54)/.test(code);
}

/**
 * insertOrders, with each bad row isolated: the batch goes in one statement;
 * only if Postgres refuses its data is it inserted again row by row, so one
 * order Postgres cannot store fails alone and its batch-mates are persisted.
 * An outage (not a data error) still fails the whole call, for a retry.
 */
export async function insertOrdersIsolated(
  db: pg.Pool | pg.PoolClient,
  orders: Order[],
): Promise<InsertResult> {
  try {
    return { inserted: await insertOrders(db, orders), refused: [] };
  } catch (error) {
    if (!isDataError(error) || orders.length === 1) {
      if (isDataError(error) && orders[0]) {
        return { inserted: [], refused: [{ order: orders[0], error: error as Error }] };
      }
      throw error;
    }
  }
  const result: InsertResult = { inserted: [], refused: [] };
  for (const order of orders) {
    try {
      result.inserted.push(...(await insertOrders(db, [order])));
    } catch (error) {
      if (!isDataError(error)) throw error;
      result.refused.push({ order, error: error as Error });
    }
  }
  return result;
}

interface DbRow {
  order_id: string;
  sale_id: string;
  user_id: string;
  quantity: number;
  reserved_at: Date;
  persisted_at: Date;
  status: OrderRow["status"];
  expires_at: Date | null;
  amount_due: string | null;
  currency: string | null;
}

const toOrderRow = (row: DbRow): OrderRow => ({
  orderId: row.order_id,
  saleId: row.sale_id,
  userId: row.user_id,
  quantity: row.quantity,
  reservedAtMs: row.reserved_at.getTime(),
  persistedAtMs: row.persisted_at.getTime(),
  status: row.status,
  ...(row.expires_at !== null && {
    hold: {
      expiresAtMs: row.expires_at.getTime(),
      amount: Number(row.amount_due ?? 0),
      currency: row.currency ?? "",
    },
  }),
});

export async function findOrder(db: pg.Pool, orderId: string): Promise<OrderRow | null> {
  const result = await db.query<DbRow>("SELECT * FROM orders WHERE order_id = $1", [orderId]);
  const row = result.rows[0];
  return row ? toOrderRow(row) : null;
}

export async function ordersOfSale(db: pg.Pool, saleId: string): Promise<OrderRow[]> {
  const result = await db.query<DbRow>(
    "SELECT * FROM orders WHERE sale_id = $1 ORDER BY reserved_at",
    [saleId],
  );
  return result.rows.map(toOrderRow);
}

/** Rows and units a sale has in Postgres: one index scan on sale_id. */
export async function countOrdersOfSale(
  db: pg.Pool,
  saleId: string,
): Promise<{ rows: number; units: number }> {
  const result = await db.query<{ rows: number; units: number }>(
    "SELECT count(*)::int AS rows, coalesce(sum(quantity), 0)::int AS units FROM orders WHERE sale_id = $1",
    [saleId],
  );
  return result.rows[0] ?? { rows: 0, units: 0 };
}

/** The OrderRows port over a pool. */
export class PostgresOrderRows implements OrderRows {
  constructor(private readonly db: pg.Pool) {}

  insert(orders: Order[]): Promise<InsertResult> {
    return insertOrdersIsolated(this.db, orders);
  }

  find(orderId: string): Promise<OrderRow | null> {
    return findOrder(this.db, orderId);
  }

  ofSale(saleId: string): Promise<OrderRow[]> {
    return ordersOfSale(this.db, saleId);
  }

  countOfSale(saleId: string): Promise<{ rows: number; units: number }> {
    return countOrdersOfSale(this.db, saleId);
  }

  recordEvents(events: OrderEvent[]): Promise<void> {
    return insertEvents(this.db, events);
  }

  eventsOf(orderId: string): Promise<OrderEvent[]> {
    return eventsOfOrder(this.db, orderId);
  }

  refundsDue(saleId: string): Promise<OrderEvent[]> {
    return refundsDueOfSale(this.db, saleId);
  }
}
