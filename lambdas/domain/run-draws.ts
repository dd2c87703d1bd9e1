import {
  DRAW_PROCEDURE,
  type DrawEntry,
  drawOrder,
  ENTRY_RECORD_BYTES,
  entryCount,
  entryHash,
  packEntries,
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
    const inRedis = new Map<string, DrawEntryRecord>();
    for await (const page of deps.draws.scanEntries(saleId)) {
      for (const entry of page) inRedis.set(entry.userId, entry);
    }
    // hash (latin1 string of its 32 bytes) -> buyer, for the entries of the list.
    const buyers = new Map<string, string>();
    const united = (rows: DrawEntryRecord[]) => {
      const entries: DrawEntry[] = [];
      const add = (entry: DrawEntryRecord) => {
        const hash = entryHash(secrets.salt, saleId, entry.userId);
        const key = hash.toString("latin1");
        if (buyers.has(key)) return;
        buyers.set(key, entry.userId);
        entries.push({ hash, quantity: entry.quantity });
      };
      // Redis first: where a buyer is in both, the entry Redis holds is the one that was answered.
      for (const entry of inRedis.values()) add(entry);
      for (const row of rows) add(row);
      return entries;
    };
    let order: Uint32Array | undefined;
    const { record, packed, rows, created } = await deps.rows.drawOnce(saleId, (rows) => {
      const packed = packEntries(united(rows));
      const result = runDraw({ packed, seed: secrets.seed, stock: sale.remaining });
      order = result.order;
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
      return { record, packed };
    });
    if (!created) {
      // A rerun (the last one died after recording): the recorded list's buyers and order, again.
      united(rows);
      order = drawOrder(packed, record.seed);
    }
    if (order === undefined) throw new Error(`draw ${saleId} made no order`);
    const drawn = drawnItems(packed, order, buyers);
    const lastWinner = record.winners.at(-1)?.position ?? -1;
    const installed = await deps.draws.install(saleId, drawn, {
      drawnAtMs: record.drawnAtMs,
      digest: record.digest,
      entries: record.entries,
      winners: record.winners.length,
      lastWinner,
    });
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
    });
  } finally {
    await deps.draws.unlock(saleId, token).catch(() => undefined);
  }
}

/** The drawn order as the award walk reads it: "hashHex\tquantity\tuserId" per position. */
function* drawnItems(
  packed: Buffer,
  order: Uint32Array,
  buyers: Map<string, string>,
): Generator<string> {
  for (const index of order) {
    const at = index * ENTRY_RECORD_BYTES;
    const hash = packed.subarray(at, at + 32);
    const userId = buyers.get(hash.toString("latin1"));
    // Every recorded entry came from Redis or a row; one with no buyer is a bug, not a guess.
    if (userId === undefined) throw new Error(`no buyer for entry ${hash.toString("hex")}`);
    yield `${hash.toString("hex")}\t${packed.readUInt16BE(at + 32)}\t${userId}`;
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
