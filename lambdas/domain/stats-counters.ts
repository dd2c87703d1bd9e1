import { REFUSAL_REASONS, type RefusalReason } from "./outcomes.js";

/**
 * What a sale's live counters mean. Pure: the raw fields of
 * `{sale:<id>}:stats` in, totals, rates and latency percentiles out.
 *
 * The counters are cumulative; a rate or a percentile "over the last
 * second" is the difference of two snapshots taken about a second apart,
 * divided by the time between them.
 */

/** The stats hash as numbers: field -> count. */
export type RawCounters = Record<string, number>;

/** Upper bounds of the buy path's latency buckets, in ms; a last bucket `inf` catches the rest. */
export const LATENCY_BUCKETS_MS = [
  1, 2, 3, 5, 8, 13, 20, 30, 50, 80, 130, 200, 300, 500, 800, 1300, 2000, 5000,
];

/** The counter field a latency of `ms` falls in. */
export function latencyField(ms: number): string {
  const bound = LATENCY_BUCKETS_MS.find((upper) => ms <= upper);
  return `lat:${bound ?? "inf"}`;
}

export interface OutcomeCounts {
  /** Buy requests that reached a decision: accepted + replayed + rateLimited + all refusals. */
  requests: number;
  /** Reserved by reserve-8.lua, including those whose enqueue then failed (also under errors). */
  accepted: number;
  /** Units reserved by the accepted requests. */
  units: number;
  /** Idempotent replays answered with the original order. */
  replayed: number;
  rateLimited: number;
  /** By reason; SOLD_OUT includes refusals a buy container answered from memory. */
  refused: Record<RefusalReason, number>;
  /** By code, e.g. SERVICE_UNAVAILABLE: the order could not be queued (503, reservation released). */
  errors: Record<string, number>;
}

export interface LatencySummary {
  /** Buy requests measured (the latency histogram's total). */
  count: number;
  p50Ms: number;
  p99Ms: number;
}

/** Parses HGETALL of the stats hash; anything not a number counts as 0. */
export function rawCounters(hash: Record<string, string>): RawCounters {
  const raw: RawCounters = {};
  for (const [field, value] of Object.entries(hash)) {
    const n = Number(value);
    raw[field] = Number.isFinite(n) ? n : 0;
  }
  return raw;
}

/**
 * `after - before`, field by field. A counter that went down (the hash was
 * deleted and started again) counts from zero rather than going negative.
 */
export function counterDelta(before: RawCounters, after: RawCounters): RawCounters {
  const delta: RawCounters = {};
  for (const [field, value] of Object.entries(after)) {
    const previous = before[field] ?? 0;
    delta[field] = value >= previous ? value - previous : value;
  }
  return delta;
}

export function outcomes(raw: RawCounters): OutcomeCounts {
  const refused = Object.fromEntries(
    REFUSAL_REASONS.map((reason) => [reason, raw[`refused:${reason}`] ?? 0]),
  ) as Record<RefusalReason, number>;
  const errors: Record<string, number> = { SERVICE_UNAVAILABLE: 0 };
  for (const [field, value] of Object.entries(raw)) {
    if (field.startsWith("errors:")) errors[field.slice("errors:".length)] = value;
  }
  const accepted = raw.accepted ?? 0;
  const replayed = raw.replayed ?? 0;
  const rateLimited = raw.rate_limited ?? 0;
  const refusedTotal = Object.values(refused).reduce((sum, n) => sum + n, 0);
  return {
    requests: accepted + replayed + rateLimited + refusedTotal,
    accepted,
    units: raw.units ?? 0,
    replayed,
    rateLimited,
    refused,
    errors,
  };
}

/** Each count divided by `seconds`, rounded to 0.01/s. */
export function perSecond(counts: OutcomeCounts, seconds: number): OutcomeCounts {
  const rate = (n: number) => Math.round((n / seconds) * 100) / 100;
  const each = <K extends string>(record: Record<K, number>) =>
    Object.fromEntries(Object.entries<number>(record).map(([k, n]) => [k, rate(n)])) as Record<
      K,
      number
    >;
  return {
    requests: rate(counts.requests),
    accepted: rate(counts.accepted),
    units: rate(counts.units),
    replayed: rate(counts.replayed),
    rateLimited: rate(counts.rateLimited),
    refused: each(counts.refused),
    errors: each(counts.errors),
  };
}

/** The latency histogram (`lat:<upper bound ms>`, `lat:inf`) as buckets sorted by bound. */
export function latencyBuckets(raw: RawCounters): Array<{ le: number; count: number }> {
  const buckets: Array<{ le: number; count: number }> = [];
  for (const [field, count] of Object.entries(raw)) {
    if (!field.startsWith("lat:") || count <= 0) continue;
    const bound = field.slice("lat:".length);
    const le = bound === "inf" ? Number.POSITIVE_INFINITY : Number(bound);
    if (!Number.isNaN(le)) buckets.push({ le, count });
  }
  return buckets.sort((a, b) => a.le - b.le);
}

/**
 * The p-th percentile of a histogram, interpolated linearly inside the bucket
 * that holds it (as Prometheus' histogram_quantile does): the bucket
 * (lower, upper] is assumed evenly filled. Empty buckets may be absent (the
 * hash only has fields that were incremented), so a bucket's lower edge is
 * the configured bound below it (`bounds`, the buy containers'
 * LATENCY_BUCKETS_MS), and the first bucket starts at 0. A percentile in the
 * open last bucket is reported as its lower edge, the largest finite bound:
 * "at least that". Null for an empty histogram.
 */
export function histogramPercentile(
  buckets: Array<{ le: number; count: number }>,
  p: number,
  bounds: readonly number[] = LATENCY_BUCKETS_MS,
): number | null {
  const total = buckets.reduce((sum, bucket) => sum + bucket.count, 0);
  if (total === 0) return null;
  const rank = Math.max((p / 100) * total, Number.MIN_VALUE);
  let below = 0;
  let previous = 0;
  for (const bucket of buckets) {
    if (bucket.count > 0 && below + bucket.count >= rank) {
      const lower = Math.max(previous, ...bounds.filter((bound) => bound < bucket.le));
      if (!Number.isFinite(bucket.le)) return lower;
      const share = (rank - below) / bucket.count;
      return Math.round((lower + (bucket.le - lower) * share) * 10) / 10;
    }
    below += bucket.count;
    if (Number.isFinite(bucket.le)) previous = bucket.le;
  }
  return previous;
}

export function latencySummary(raw: RawCounters): LatencySummary | null {
  const buckets = latencyBuckets(raw);
  const count = buckets.reduce((sum, bucket) => sum + bucket.count, 0);
  if (count === 0) return null;
  return {
    count,
    p50Ms: histogramPercentile(buckets, 50) ?? 0,
    p99Ms: histogramPercentile(buckets, 99) ?? 0,
  };
}
