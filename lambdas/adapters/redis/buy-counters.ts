import type { BuyCounters } from "../../domain/ports.js";
import { latencyField } from "../../domain/stats-counters.js";
import { saleKeys } from "./keys.js";
import type { RedisClient } from "./scripts.js";

/**
 * The buy container's share of a sale's live counters: what Redis never sees
 * (refusals answered from memory, failed sends) and the buy path's latency
 * histogram. Counts accumulate in memory and are flushed at most once per
 * `flushEveryMs` with one pipelined HINCRBY batch that no request waits for,
 * so the dashboard costs the buy path no round trip.
 */

export class BuyStatsRecorder implements BuyCounters {
  private pending = new Map<string, Map<string, number>>();
  private lastFlushMs: number;
  private trailing: ReturnType<typeof setTimeout> | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly now: () => number,
    private readonly flushEveryMs = 1_000,
  ) {
    this.lastFlushMs = now();
  }

  count(saleId: string, field: string, by = 1): void {
    let fields = this.pending.get(saleId);
    if (!fields) {
      fields = new Map();
      this.pending.set(saleId, fields);
    }
    fields.set(field, (fields.get(field) ?? 0) + by);
  }

  latency(saleId: string, ms: number): void {
    this.count(saleId, latencyField(ms));
  }

  /**
   * Sends what has accumulated if the interval has passed; never throws, never
   * blocks a request. Otherwise it arms one timer for when the interval ends,
   * so the counts of a burst's last second do not wait for a next request
   * that may never come (a sale that sold out in under a second). The timer
   * is unref'd: it never keeps a process alive, and a frozen Lambda container
   * runs it when it thaws.
   */
  maybeFlush(): void {
    if (this.pending.size === 0) return;
    const dueInMs = this.flushEveryMs - (this.now() - this.lastFlushMs);
    if (dueInMs > 0) {
      this.trailing ??= setTimeout(() => {
        this.trailing = undefined;
        this.maybeFlush();
      }, dueInMs).unref();
      return;
    }
    this.lastFlushMs = this.now();
    void this.flush();
  }

  async flush(): Promise<void> {
    const batch = this.pending;
    this.pending = new Map();
    if (batch.size === 0) return;
    // Separate commands, not one pipeline: on a Redis Cluster the sales' keys
    // live in different slots. Auto-pipelining still sends them together.
    const writes: Promise<unknown>[] = [];
    for (const [saleId, fields] of batch) {
      const key = saleKeys(saleId).stats;
      for (const [field, count] of fields) writes.push(this.redis.hincrby(key, field, count));
    }
    // Counters are best effort: a lost flush skews a chart, never a sale.
    await Promise.allSettled(writes);
  }
}
