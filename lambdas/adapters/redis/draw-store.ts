import { randomUUID } from "node:crypto";
import type {
  DrawAward,
  DrawEntryRecord,
  DrawSale,
  DrawStore,
  EnterOutcome,
  EnterRequest,
} from "../../domain/ports.js";
import { DRAW_SALES_KEY, drawKeys, rateKey, saleKeys } from "./keys.js";
import { orderRecordFrom } from "./sale-store.js";
import { codeOf, type RedisClient } from "./scripts.js";

/** Items per RPUSH while the drawn order is staged: ~100 kB a command. */
const STAGE_CHUNK = 1_000;
/** Commands in flight while staging (one pipeline). */
const STAGE_PIPELINE = 50;

function entryFrom(saleId: string, userId: string, raw: string): DrawEntryRecord {
  const first = raw.indexOf("\t");
  const second = raw.indexOf("\t", first + 1);
  return {
    saleId,
    userId,
    entryId: raw.slice(0, first),
    quantity: Number(raw.slice(first + 1, second)),
    enteredAtMs: Number(raw.slice(second + 1)),
  };
}

/** A draw's state in Redis, reached through lua/enter-4.lua, leave-2, freeze-draw-1, install-draw-3 and award-draw-7. */
export class RedisDrawStore implements DrawStore {
  constructor(private readonly redis: RedisClient) {}

  async enter(request: EnterRequest): Promise<EnterOutcome> {
    const k = saleKeys(request.saleId);
    const [code, entryId, quantity, enteredAt] = await this.redis.enter(
      k.sale,
      drawKeys(request.saleId).entries,
      rateKey(request.saleId, request.userId),
      k.stats,
      request.userId,
      request.quantity,
      request.nowMs,
      request.entryId,
    );
    const meaning = codeOf("enter", code);
    if (meaning === "entered" || meaning === "replayed") {
      return {
        kind: meaning,
        entry: {
          saleId: request.saleId,
          userId: request.userId,
          entryId,
          quantity: Number(quantity),
          enteredAtMs: Number(enteredAt),
        },
      };
    }
    if (meaning === "not_found") return { kind: "not_found" };
    if (meaning === "rate_limited") return { kind: "rate_limited", retryAfterMs: Number(quantity) };
    return { kind: "refused", reason: meaning };
  }

  async leave(saleId: string, userId: string, entryId: string) {
    const [code] = await this.redis.leave(
      saleKeys(saleId).sale,
      drawKeys(saleId).entries,
      userId,
      entryId,
    );
    return codeOf("leave", code);
  }

  async drawSale(saleId: string): Promise<DrawSale | null> {
    const hash = await this.redis.hgetall(saleKeys(saleId).sale);
    if (hash.stock === undefined || hash.mode !== "draw") return null;
    const n = (field: string) => Number(hash[field] ?? 0);
    const sale: DrawSale = {
      saleId,
      state: hash.drawState === "drawn" ? "drawn" : hash.drawState === "frozen" ? "frozen" : "open",
      entriesOpenAtMs: n("entriesOpenAt"),
      entriesCloseAtMs: n("entriesCloseAt"),
      commitment: hash.drawCommitment ?? "",
      entries: n("entries"),
      stock: n("stock"),
      remaining: n("remaining"),
      held: n("held"),
      paid: n("paid"),
      expiredUnits: n("expiredUnits"),
    };
    if (hash.frozenAt !== undefined) sale.frozenAtMs = n("frozenAt");
    if (hash.drawState === "drawn") {
      sale.drawnAtMs = n("drawnAt");
      sale.cursor = n("drawCursor");
      sale.positions = n("drawEntries");
      sale.winners = n("drawWinners");
    }
    return sale;
  }

  async entryOf(saleId: string, userId: string) {
    const k = drawKeys(saleId);
    const [raw, orderId] = await Promise.all([
      this.redis.hget(k.entries, userId),
      this.redis.hget(k.awards, userId),
    ]);
    const entry = raw ? entryFrom(saleId, userId, raw) : null;
    if (!orderId) return { entry, award: null };
    const json = await this.redis.hget(saleKeys(saleId).orders, orderId);
    return { entry, award: json ? orderRecordFrom(saleId, orderId, json) : null };
  }

  async secrets(saleId: string) {
    const [seed, salt] = await this.redis.hmget(saleKeys(saleId).sale, "drawSeed", "drawSalt");
    if (!seed || !salt) return null;
    return { seed: Buffer.from(seed, "hex"), salt: Buffer.from(salt, "hex") };
  }

  async freeze(saleId: string, nowMs: number, early: boolean) {
    const [code] = await this.redis.freezeDraw(saleKeys(saleId).sale, nowMs, early ? "1" : "");
    return codeOf("freezeDraw", code);
  }

  async *scanEntries(saleId: string): AsyncIterable<DrawEntryRecord[]> {
    const key = drawKeys(saleId).entries;
    let cursor = "0";
    do {
      const [next, flat] = await this.redis.hscan(key, cursor, "COUNT", 10_000);
      cursor = next;
      const page: DrawEntryRecord[] = [];
      for (let i = 0; i + 1 < flat.length; i += 2) {
        page.push(entryFrom(saleId, flat[i] as string, flat[i + 1] as string));
      }
      if (page.length > 0) yield page;
    } while (cursor !== "0");
  }

  async install(
    saleId: string,
    drawn: Iterable<string>,
    result: {
      drawnAtMs: number;
      digest: string;
      entries: number;
      winners: number;
      lastWinner: number;
    },
  ) {
    const k = drawKeys(saleId);
    await this.redis.del(k.drawnStaging);
    let chunk: string[] = [];
    let inFlight: Array<Promise<unknown>> = [];
    const push = async () => {
      if (chunk.length === 0) return;
      inFlight.push(this.redis.rpush(k.drawnStaging, ...chunk));
      chunk = [];
      if (inFlight.length >= STAGE_PIPELINE) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    };
    for (const item of drawn) {
      chunk.push(item);
      if (chunk.length >= STAGE_CHUNK) await push();
    }
    await push();
    await Promise.all(inFlight);
    const [code] = await this.redis.installDraw(
      saleKeys(saleId).sale,
      k.drawnStaging,
      k.drawn,
      result.drawnAtMs,
      result.digest,
      result.winners,
      result.entries,
      result.lastWinner,
    );
    return codeOf("installDraw", code);
  }

  async award(saleId: string, nowMs: number, maxPositions: number, uuids: string[]) {
    const s = saleKeys(saleId);
    const d = drawKeys(saleId);
    const reply = await this.redis.awardDraw(
      s.sale,
      d.drawn,
      d.awards,
      s.orders,
      s.holds,
      s.stats,
      s.buyers,
      nowMs,
      saleId,
      maxPositions,
      ...uuids,
    );
    codeOf("awardDraw", Number(reply[0]));
    const awards: DrawAward[] = [];
    for (let i = 4; i + 6 < reply.length; i += 7) {
      awards.push({
        orderId: String(reply[i]),
        userId: String(reply[i + 1]),
        quantity: Number(reply[i + 2]),
        position: Number(reply[i + 3]),
        reservedAtMs: nowMs,
        hold: {
          expiresAtMs: Number(reply[i + 4]),
          amount: Number(reply[i + 5]),
          currency: String(reply[i + 6]),
        },
      });
    }
    return {
      awards,
      cursor: Number(reply[1]),
      positions: Number(reply[2]),
      remaining: Number(reply[3]),
    };
  }

  drawSaleIds(): Promise<string[]> {
    return this.redis.smembers(DRAW_SALES_KEY);
  }

  async forget(saleId: string): Promise<void> {
    await this.redis.srem(DRAW_SALES_KEY, saleId);
  }

  async lock(saleId: string, ttlMs: number): Promise<string | null> {
    const token = randomUUID();
    const set = await this.redis.set(`draw-lock:${saleId}`, token, "PX", ttlMs, "NX");
    return set === "OK" ? token : null;
  }

  async unlock(saleId: string, token: string): Promise<void> {
    await this.redis.unlock(`draw-lock:${saleId}`, token);
  }
}
