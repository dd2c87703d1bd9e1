import {
  DRAW_PROCEDURE,
  drawOrder,
  ENTRY_RECORD_BYTES,
  entryCount,
  entryHasher,
  packRecords,
  runDraw,
} from "./draw.js";
import type {
  DrawEntryRecord,
  DrawRecord,
  DrawRows,
  DrawSale,
  DrawStore,
  Logger,
  MetricsSink,
  OrderQueue,
} from "./ports.js";

export interface RunDrawsDeps {
  draws: DrawStore;
  rows: DrawRows;
  orders: OrderQueue;
  now: () => number;
  uuid: () => string;
  logger: Logger;
  metrics?: MetricsSink;
  settleMs: number;
  lockTtlMs: number;
  walkSteps: number;
}

export interface DrawRunReport {
  sales: number;
  frozen: number;
  drawn: number;
  awarded: number;
  sendFailures: number;
  failures: number;
  /** Milliseconds of each draw this run made, by sale. */
  drawMs: Record<string, number>;
}

export const emptyDrawReport = (): DrawRunReport => ({
  sales: 0,
  frozen: 0,
  drawn: 0,
  awarded: 0,
  sendFailures: 0,
  failures: 0,
  drawMs: {},
});

/** Awards one walk call may make, and positions it may look at. */
const AWARDS_PER_CALL = 50;
const POSITIONS_PER_CALL = 500;

/**
 * The draw runner, on a schedule (every minute in AWS, every 2 s locally),
 * moves each draw one or more steps along:
 * 1. at entriesCloseAt, freeze the entries (lua/freeze-draw-1.lua);
 * 2. `settleMs` later, draw once: the entries Redis holds united with their
 *    rows in Postgres, under the lock that holds off late rows; recorded in
 *    Postgres before anything else, so a rerun redraws nothing;
 * 3. install the drawn order in Redis, once;
 * 4. walk it: units go to entries in drawn order as held orders, sent to the
 *    orders queue like buys; units of unpaid winners come back when their
 *    holds expire, and the next run's walk gives them to the alternates.
 * A send that fails leaves the award as a reservation without a message: the
 * scheduled repair (auto-repair.ts) persists it.
 */
export async function runDraws(deps: RunDrawsDeps): Promise<DrawRunReport> {
  const report = emptyDrawReport();
  const ids = await deps.draws.drawSaleIds();
  for (const saleId of ids) {
    report.sales++;
    try {
      await advanceDraw(deps, saleId, report);
    } catch (error) {
      report.failures++;
      deps.logger.error("draw step failed; the next run retries", {
        saleId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }
  return report;
}

export async function advanceDraw(
  deps: RunDrawsDeps,
  saleId: string,
  report: DrawRunReport = emptyDrawReport(),
): Promise<DrawRunReport> {
  let sale = await deps.draws.drawSale(saleId);
  if (sale === null) return report;
  if (sale.state === "open") {
    if (deps.now() < sale.entriesCloseAtMs) return report;
    if ((await deps.draws.freeze(saleId, deps.now(), false)) === "frozen") {
      report.frozen++;
      deps.logger.info("draw entries frozen", { saleId, entries: sale.entries });
    }
    sale = await deps.draws.drawSale(saleId);
    if (sale === null) return report;
  }
  if (sale.state === "frozen") {
    if (deps.now() < (sale.frozenAtMs ?? 0) + deps.settleMs) return report;
    await drawAndInstall(deps, sale, report);
    sale = await deps.draws.drawSale(saleId);
    if (sale === null) return report;
  }
  if (sale.state === "drawn") {
    await walk(deps, saleId, report);
    // Over: every unit paid, or nothing held and no position left to award.
    const after = await deps.draws.drawSale(saleId);
    const walked = (after?.cursor ?? 0) >= (after?.positions ?? 0);
    if (after && after.held === 0 && (after.remaining === 0 || walked)) {
      await deps.draws.forget(saleId);
      deps.logger.info("draw finished", { saleId, paid: after.paid, remaining: after.remaining });
    }
  }
  return report;
}

async function drawAndInstall(deps: RunDrawsDeps, sale: DrawSale, report: DrawRunReport) {
  const { saleId } = sale;
  const token = await deps.draws.lock(saleId, deps.lockTtlMs);
  if (token === null) return; // another runner is drawing this sale
  try {
    const started = performance.now();
    const secrets = await deps.draws.secrets(saleId);
    if (secrets === null) throw new Error(`draw ${saleId} has no seed`);
    const phases: Record<string, number> = {};
    let mark = performance.now();
    const phase = (name: string) => {
      const now = performance.now();
      phases[name] = Math.round(now - mark);
      mark = now;
    };
    // Buyer -> quantity. Redis first: where a buyer is in both, the entry Redis
    // holds is the one that was answered.
    const quantities = new Map<string, number>();
    const inRedis = new Map<string, DrawEntryRecord>();
    for await (const page of deps.draws.scanEntries(saleId)) {
      for (const entry of page) {
        quantities.set(entry.userId, entry.quantity);
        inRedis.set(entry.userId, entry);
      }
    }
    phase("scanRedisMs");
    const hashOf = entryHasher(secrets.salt, saleId);
    let entries: UnitedEntries | undefined;
    const unite = (rows: DrawEntryRecord[]) => {
      for (const row of rows)
        if (!quantities.has(row.userId)) quantities.set(row.userId, row.quantity);
      entries = unitedEntries(quantities, hashOf);
      return entries;
    };
    // The rows the draw writes with its record: the entries it took from Redis
    // whose row has not arrived (the consumer is behind) or holds other values.
    const rowsToWrite = (rows: DrawEntryRecord[]) => {
      const changedRows: DrawEntryRecord[] = [];
      for (const row of rows) {
        const redisEntry = inRedis.get(row.userId);
        if (redisEntry === undefined) continue;
        if (redisEntry.quantity !== row.quantity) changedRows.push(redisEntry);
        inRedis.delete(row.userId);
      }
      return { missingRows: [...inRedis.values()], changedRows };
    };
    const { record, packed, rows, created } = await deps.rows.drawOnce(saleId, (rows) => {
      phase("readRowsMs");
      const { packed } = unite(rows);
      phase("hashAndPackMs");
      const result = runDraw({ packed, seed: secrets.seed, stock: sale.remaining });
      const record: DrawRecord = {
        saleId,
        procedure: DRAW_PROCEDURE,
        seed: secrets.seed,
        digest: result.digest,
        entries: entryCount(packed),
        stock: sale.remaining,
        winners: result.winners.map(({ position, hash, quantity }) => ({
          position,
          hash,
          quantity,
        })),
        drawnAtMs: deps.now(),
      };
      phase("shuffleMs");
      return { record, packed, ...rowsToWrite(rows) };
    });
    phase("recordMs");
    // A rerun (the last run died after recording): the same entries give the same list.
    const united = entries ?? unite(rows);
    const buyerOf = buyersOfList(packed, united);
    const order = drawOrder(packed, record.seed);
    const installed = await deps.draws.install(saleId, drawnItems(packed, order, buyerOf), {
      drawnAtMs: record.drawnAtMs,
      digest: record.digest,
      entries: record.entries,
      winners: record.winners.length,
      lastWinner: record.winners.at(-1)?.position ?? -1,
    });
    phase("installMs");
    const ms = Math.round(performance.now() - started);
    report.drawMs[saleId] = ms;
    if (installed === "installed") {
      report.drawn++;
      deps.metrics?.count("DrawsDrawn");
    }
    deps.logger.info("draw", {
      saleId,
      installed,
      recorded: created ? "now" : "earlier",
      entries: record.entries,
      winners: record.winners.length,
      digest: record.digest,
      ms,
      phases,
    });
  } finally {
    await deps.draws.unlock(saleId, token).catch(() => undefined);
  }
}

interface UnitedEntries {
  packed: Buffer;
  /** The buyer of the list's record i. */
  buyers: string[];
}

/** The canonical list of the entries, written straight into one buffer (no object per entry). */
function unitedEntries(
  quantities: Map<string, number>,
  hashOf: (userId: string) => Buffer,
): UnitedEntries {
  const userIds = [...quantities.keys()];
  const raw = Buffer.allocUnsafe(userIds.length * ENTRY_RECORD_BYTES);
  userIds.forEach((userId, i) => {
    hashOf(userId).copy(raw, i * ENTRY_RECORD_BYTES);
    raw.writeUInt16BE(quantities.get(userId) ?? 0, i * ENTRY_RECORD_BYTES + 32);
  });
  const { packed, original } = packRecords(raw);
  return { packed, buyers: Array.from(original, (i) => userIds[i] as string) };
}

/**
 * The buyer of each record of the recorded list. It is the list these entries
 * make (the entries cannot change once frozen, late rows are refused); if it
 * is not, each recorded hash is looked up, and one with no buyer is a bug.
 */
function buyersOfList(recorded: Buffer, united: UnitedEntries): string[] {
  if (recorded.equals(united.packed)) return united.buyers;
  const byHash = new Map<string, string>();
  united.buyers.forEach((userId, i) => {
    const at = i * ENTRY_RECORD_BYTES;
    byHash.set(united.packed.toString("latin1", at, at + 32), userId);
  });
  return Array.from({ length: entryCount(recorded) }, (_, i) => {
    const at = i * ENTRY_RECORD_BYTES;
    const userId = byHash.get(recorded.toString("latin1", at, at + 32));
    if (userId === undefined) {
      throw new Error(`no buyer for entry ${recorded.toString("hex", at, at + 32)}`);
    }
    return userId;
  });
}

/** The drawn order as the award walk reads it: "quantity\tuserId" per position. */
function* drawnItems(packed: Buffer, order: Uint32Array, buyers: string[]): Generator<string> {
  for (const index of order) {
    yield `${packed.readUInt16BE(index * ENTRY_RECORD_BYTES + 32)}\t${buyers[index]}`;
  }
}

async function walk(deps: RunDrawsDeps, saleId: string, report: DrawRunReport) {
  for (let step = 0; step < deps.walkSteps; step++) {
    const uuids = Array.from({ length: AWARDS_PER_CALL }, () => deps.uuid());
    const { awards, cursor, positions, remaining } = await deps.draws.award(
      saleId,
      deps.now(),
      POSITIONS_PER_CALL,
      uuids,
    );
    const sent = await Promise.allSettled(
      awards.map((award) =>
        deps.orders.send({
          orderId: award.orderId,
          saleId,
          userId: award.userId,
          quantity: award.quantity,
          reservedAtMs: award.reservedAtMs,
          hold: award.hold,
        }),
      ),
    );
    const failed = sent.filter((s) => s.status === "rejected").length;
    report.awarded += awards.length;
    report.sendFailures += failed;
    if (awards.length > 0) {
      deps.metrics?.count("DrawAwards", awards.length);
      deps.logger.info("draw awards", {
        saleId,
        orders: awards.map((a) => ({ orderId: a.orderId, position: a.position })),
        sendFailed: failed,
      });
    }
    if (failed > 0) {
      deps.metrics?.count("DrawAwardSendFailed", failed);
      deps.logger.warn("draw awards not sent; the scheduled repair will persist them", {
        saleId,
        failed,
      });
    }
    if (remaining <= 0 || cursor >= positions) return;
  }
}
