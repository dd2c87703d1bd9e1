import type pg from "pg";
import type { DrawEntryRecord, DrawRecord, DrawRows } from "../../domain/ports.js";

/**
 * A draw's rows in Postgres: its entries, and its record. Entry inserts take
 * the sale's draw lock shared, the draw takes it exclusive, so an entry row is
 * either written before the draw read the rows, or refused as late: never
 * written after a draw that did not see it.
 */
const LOCK = "pg_advisory_xact_lock_shared(hashtextextended('draw:' || $1, 0))";
const EXCLUSIVE_LOCK = "pg_advisory_xact_lock(hashtextextended('draw:' || $1, 0))";

interface RecordRow {
  sale_id: string;
  procedure: string;
  seed: Buffer;
  entries_digest: string;
  entries: number;
  stock: number;
  winners: DrawRecord["winners"];
  drawn_at: Date;
}

const recordOf = (row: RecordRow): DrawRecord => ({
  saleId: row.sale_id,
  procedure: row.procedure,
  seed: row.seed,
  digest: row.entries_digest,
  entries: row.entries,
  stock: row.stock,
  winners: row.winners,
  drawnAtMs: row.drawn_at.getTime(),
});

const RECORD_COLUMNS =
  "sale_id, procedure, seed, entries_digest, entries, stock, winners, drawn_at";

export class PostgresDrawRows implements DrawRows {
  constructor(private readonly pool: pg.Pool) {}

  async insertEntries(entries: DrawEntryRecord[]) {
    const bySale = Map.groupBy(entries, (entry) => entry.saleId);
    let inserted = 0;
    const late: DrawEntryRecord[] = [];
    for (const [saleId, group] of bySale) {
      const result = await this.inTransaction(async (client) => {
        await client.query(`SELECT ${LOCK}`, [saleId]);
        const drawn = await client.query("SELECT 1 FROM draws WHERE sale_id = $1", [saleId]);
        if (drawn.rowCount) return null;
        return client.query(
          `INSERT INTO draw_entries (sale_id, user_id, entry_id, quantity, entered_at)
           SELECT $1, * FROM unnest($2::text[], $3::uuid[], $4::int[], $5::timestamptz[])
           ON CONFLICT (sale_id, user_id) DO NOTHING`,
          [
            saleId,
            group.map((e) => e.userId),
            group.map((e) => e.entryId),
            group.map((e) => e.quantity),
            group.map((e) => new Date(e.enteredAtMs)),
          ],
        );
      });
      if (result === null) late.push(...group);
      else inserted += result.rowCount ?? 0;
    }
    return { inserted, late };
  }

  async drawOnce(
    saleId: string,
    compute: (rows: DrawEntryRecord[]) => { record: DrawRecord; packed: Buffer },
  ) {
    return this.inTransaction(async (client) => {
      await client.query(`SELECT ${EXCLUSIVE_LOCK}`, [saleId]);
      const rows = await this.entryRows(client, saleId);
      const existing = await client.query<RecordRow & { entries_packed: Buffer }>(
        `SELECT ${RECORD_COLUMNS}, entries_packed FROM draws WHERE sale_id = $1`,
        [saleId],
      );
      const found = existing.rows[0];
      if (found) {
        return { record: recordOf(found), packed: found.entries_packed, rows, created: false };
      }
      const { record, packed } = compute(rows);
      await client.query(
        `INSERT INTO draws (sale_id, procedure, seed, entries_digest, entries, stock, winners, entries_packed, drawn_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
        [
          saleId,
          record.procedure,
          record.seed,
          record.digest,
          record.entries,
          record.stock,
          JSON.stringify(record.winners),
          packed,
          new Date(record.drawnAtMs),
        ],
      );
      return { record, packed, rows, created: true };
    });
  }

  async record(saleId: string): Promise<DrawRecord | null> {
    const result = await this.pool.query<RecordRow>(
      `SELECT ${RECORD_COLUMNS} FROM draws WHERE sale_id = $1`,
      [saleId],
    );
    const row = result.rows[0];
    return row ? recordOf(row) : null;
  }

  async packedSlice(saleId: string, offset: number, length: number): Promise<Buffer | null> {
    // substring of bytea counts from 1.
    const result = await this.pool.query<{ slice: Buffer }>(
      "SELECT substring(entries_packed FROM $2 FOR $3) AS slice FROM draws WHERE sale_id = $1",
      [saleId, offset + 1, length],
    );
    return result.rows[0]?.slice ?? null;
  }

  private async entryRows(client: pg.PoolClient, saleId: string): Promise<DrawEntryRecord[]> {
    // What the draw needs (buyer, quantity), as arrays: a million rows read in about a second.
    const result = await client.query<[string, number]>({
      text: "SELECT user_id, quantity FROM draw_entries WHERE sale_id = $1",
      values: [saleId],
      rowMode: "array",
    });
    return result.rows.map(([userId, quantity]) => ({
      saleId,
      userId,
      entryId: "",
      quantity,
      enteredAtMs: 0,
    }));
  }

  private async inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await work(client);
      await client.query("COMMIT");
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw error;
    } finally {
      client.release();
    }
  }
}
