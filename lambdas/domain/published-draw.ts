import { DRAW_PROCEDURE, ENTRY_RECORD_BYTES } from "./draw.js";
import { DrawNotDrawnError, DrawNotFoundError } from "./errors.js";
import type { DrawRows, DrawStore } from "./ports.js";

/** Entries per page of GET /sales/{saleId}/draw/entries: 1.7 MB of records, 2.3 MB as base64. */
export const DRAW_PAGE_ENTRIES = 50_000;

const iso = (ms: number | undefined) => (ms ? new Date(ms).toISOString() : null);

/**
 * What GET /sales/{saleId}/draw publishes: before the draw, the commitment
 * and the window; after it, the revealed seed, the list's digest and size,
 * its pages, and the winners. Everything verify-draw needs (docs/draws.md).
 */
export async function publishedDraw(draws: DrawStore, rows: DrawRows, saleId: string) {
  const sale = await draws.drawSale(saleId);
  if (sale === null) throw new DrawNotFoundError(saleId);
  const base = {
    saleId,
    procedure: DRAW_PROCEDURE,
    state: sale.state,
    commitment: sale.commitment,
    entriesOpenAt: iso(sale.entriesOpenAtMs),
    entriesCloseAt: iso(sale.entriesCloseAtMs),
    entries: sale.entries,
  };
  // The record is written before the drawn order is installed; the seed shows once both are done.
  if (sale.state !== "drawn") return base;
  const record = await rows.record(saleId);
  if (record === null) return { ...base, state: "frozen" as const };
  return {
    ...base,
    procedure: record.procedure,
    seed: record.seed.toString("hex"),
    drawnAt: iso(record.drawnAtMs),
    entries: record.entries,
    entriesDigest: record.digest,
    stock: record.stock,
    pageSize: DRAW_PAGE_ENTRIES,
    pages: Math.max(1, Math.ceil(record.entries / DRAW_PAGE_ENTRIES)),
    winners: record.winners,
    awarded: {
      cursor: sale.cursor ?? 0,
      held: sale.held,
      paid: sale.paid,
      expired: sale.expiredUnits,
      remaining: sale.remaining,
    },
  };
}

/** One page of the drawn list: its packed 34-byte records, base64. */
export async function publishedEntriesPage(
  draws: DrawStore,
  rows: DrawRows,
  saleId: string,
  page: number,
) {
  const sale = await draws.drawSale(saleId);
  if (sale === null) throw new DrawNotFoundError(saleId);
  const record = sale.state === "drawn" ? await rows.record(saleId) : null;
  if (record === null) throw new DrawNotDrawnError(saleId);
  const pages = Math.max(1, Math.ceil(record.entries / DRAW_PAGE_ENTRIES));
  const bytes = DRAW_PAGE_ENTRIES * ENTRY_RECORD_BYTES;
  const slice =
    page < pages ? await rows.packedSlice(saleId, page * bytes, bytes) : Buffer.alloc(0);
  return { page, pages, entries: (slice ?? Buffer.alloc(0)).toString("base64") };
}
