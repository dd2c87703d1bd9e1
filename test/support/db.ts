import pg from "pg";

export function testDb(url = process.env.DATABASE_URL): pg.Pool {
  if (!url) throw new Error("DATABASE_URL is not set: integration tests need the global setup");
  return new pg.Pool({ connectionString: url, max: 4 });
}

export async function rowsOfSale(db: pg.Pool, saleId: string) {
  const result = await db.query<{ order_id: string; user_id: string; quantity: number }>(
    "SELECT order_id, user_id, quantity FROM orders WHERE sale_id = $1",
    [saleId],
  );
  return result.rows;
}
