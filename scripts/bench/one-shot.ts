import { request } from "node:http";

/**
 * The client of the bench's burst and JMeter-plan scenarios: every request on
 * its own new TCP connection (no keep-alive agent), as 1,000 separate buyers
 * (or JMeter threads) each send one. Latency is measured on the client, from
 * the moment the request is issued (connect included) to the last byte of
 * the answer. Bounded: every request gives up after `timeoutMs`.
 */

export interface OneShotRequest {
  method: string;
  path: string;
  headers: Record<string, string>;
  body: string;
}

export interface LatencySummary {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export interface OneShotResult {
  requests: number;
  /** From the first request issued to the last answer. */
  wallMs: number;
  statusCounts: Record<string, number>;
  /** Requests that got no answer: connection errors and timeouts. */
  errors: number;
  latencyMs: LatencySummary;
}

export interface OneShotOptions {
  baseUrl: string;
  count: number;
  /** The i-th request (0-based). */
  build: (i: number) => OneShotRequest;
  /** 0: all at once (a burst); otherwise request i is issued at i × spreadMs / count. */
  spreadMs?: number;
  timeoutMs?: number;
}

export function summarize(samples: number[]): LatencySummary {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) =>
    sorted.length === 0
      ? 0
      : (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0);
  const round = (ms: number) => Math.round(ms * 100) / 100;
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return {
    p50: round(at(50)),
    p90: round(at(90)),
    p99: round(at(99)),
    max: round(sorted.at(-1) ?? 0),
    mean: round(mean),
  };
}

export async function oneShot(options: OneShotOptions): Promise<OneShotResult> {
  const url = new URL(options.baseUrl);
  const timeoutMs = options.timeoutMs ?? 30_000;
  const spreadMs = options.spreadMs ?? 0;
  const built = Array.from({ length: options.count }, (_, i) => options.build(i));
  const latencies: number[] = [];
  const statusCounts: Record<string, number> = {};
  let errors = 0;

  const fire = (spec: OneShotRequest) =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      let settled = false;
      const finish = (status: number | undefined) => {
        if (settled) return;
        settled = true;
        if (status === undefined) errors++;
        else {
          latencies.push(performance.now() - started);
          statusCounts[status] = (statusCounts[status] ?? 0) + 1;
        }
        resolve();
      };
      const req = request(
        {
          host: url.hostname,
          port: url.port,
          method: spec.method,
          path: spec.path,
          agent: false,
          headers: { ...spec.headers, "content-length": String(Buffer.byteLength(spec.body)) },
        },
        (response) => {
          response.resume();
          response.on("end", () => finish(response.statusCode));
          response.on("error", () => finish(undefined));
        },
      );
      req.setTimeout(timeoutMs, () => req.destroy(new Error("timeout")));
      req.on("error", () => finish(undefined));
      req.end(spec.body);
    });

  const began = performance.now();
  const all: Promise<void>[] = [];
  if (spreadMs <= 0) {
    for (const spec of built) all.push(fire(spec));
  } else {
    // One timer per request at its scheduled offset from the start.
    for (let i = 0; i < built.length; i++) {
      const spec = built[i] as OneShotRequest;
      const at = (i * spreadMs) / built.length;
      all.push(
        new Promise<void>((resolve) => {
          setTimeout(
            () => void fire(spec).then(resolve),
            Math.max(0, at - (performance.now() - began)),
          );
        }),
      );
    }
  }
  await Promise.all(all);
  return {
    requests: options.count,
    wallMs: Math.round(performance.now() - began),
    statusCounts,
    errors,
    latencyMs: summarize(latencies),
  };
}
