import type { ProfileSummary } from "./cpuprofile.js";
import type { LatencySummary } from "./one-shot.js";

/** The results of `npm run bench`: their shape, the targets, the tables and the markdown summary. */

export type Scenario = "burst" | "jmeter" | "accepting" | "sold-out";
/**
 * ours: the local stack (API Gateway host, JWT check, handler, Redis, SQS).
 * original: the original system's design (Express + node-redis EVAL + SendMessage, no identity).
 * floor: a bare node:http server answering a constant.
 * reference-a: node:http + one EVALSHA of our reserve script, no token, no send.
 */
export type ServerName = "ours" | "original" | "floor" | "reference-a";

export const SERVER_LABELS: Record<ServerName, string> = {
  ours: "ours (local stack)",
  original: "original design",
  floor: "floor (node:http constant)",
  "reference-a": "reference (a): http + EVALSHA",
};

export const SCENARIO_LABELS: Record<Scenario, string> = {
  burst: "burst race: 1,000 buyers at once, own connection each, 100 units",
  jmeter: "JMeter plan: 1,000 buyers over 10 s, 100 units",
  accepting: "distinct buyers, accepting",
  "sold-out": "distinct buyers, sold out",
};

export interface Measured {
  requests: number;
  seconds: number;
  requestsPerSecond: number;
  statusCounts: Record<string, number>;
  /** Requests with no answer: socket errors and timeouts. */
  errors: number;
  latencyMs: LatencySummary;
}

export interface RunCheck {
  ok: boolean;
  detail: string;
  oversold: number;
}

export interface RunResult {
  scenario: Scenario;
  server: ServerName;
  /** Open connections (steady load) or buyers (burst, JMeter plan). */
  connections: number;
  label: string;
  measured: Measured;
  /** Burst: the rounds whose per-percentile median `measured` holds. */
  rounds?: Measured[];
  /** Percent of one core per process during the run (steady load). */
  cpu?: Record<string, number>;
  check?: RunCheck;
}

export interface TargetResult {
  target: string;
  measured: string;
  met: boolean;
}

export interface BenchResults {
  measuredAt: string;
  machine: { cpus: number; busyBeforeStartPercent: number; node: string; loadGenerator: string };
  settings: {
    durationSeconds: number;
    warmupSeconds: number;
    connections: number[];
    tokens: number;
    burstRounds: number;
    jmeterSeconds: number;
    workers: number;
  };
  runs: RunResult[];
  profiles: Array<{
    scenario: "accepting" | "sold-out" | "consumer drain";
    connections: number;
    file: string;
    requestsPerSecond: number;
    cpu: Record<string, number>;
    summary: ProfileSummary;
  }>;
  consumer: {
    orders: number;
    queuedAtStart: number;
    rows: number;
    seconds: number;
    ordersPerSecond: number;
    complete: boolean;
    batchSize: number;
    concurrency: number;
    referenceInsertsPerSecond: number;
    /** The consumer handler fed pre-built events: no queue (in AWS, Lambda's poller receives and deletes). */
    handlerOnlyPerSecond: number;
    ratio: number;
    cpu: Record<string, number>;
  };
  targets: TargetResult[];
  wallSeconds: number;
}

const fmt = (n: number) => n.toLocaleString("en-US");
const x = (ratio: number | undefined) => (ratio === undefined ? "-" : `${ratio.toFixed(2)}×`);

export function runOf(
  results: BenchResults,
  scenario: Scenario,
  server: ServerName,
  connections?: number,
): RunResult | undefined {
  return results.runs.find(
    (r) =>
      r.server === server &&
      (r.scenario === scenario ||
        // The floor answers a constant: one run per connection count serves both steady scenarios.
        (server === "floor" && scenario === "sold-out" && r.scenario === "accepting")) &&
      (connections === undefined || r.connections === connections),
  );
}

const SERVICES = ["redis-server", "fauxqs (SQS)", "postgres"];

/**
 * CPU microseconds per request of the server under test, and of the server
 * plus the services it called: unlike req/s, this hardly moves when other work
 * shares the machine, so it says what a request costs.
 */
export function cpuPerRequest(run: RunResult): { server: number; withServices: number } {
  const cpu = run.cpu ?? {};
  const perRequest = (percent: number) =>
    Math.round(((percent / 100) * run.measured.seconds * 1e6) / Math.max(1, run.measured.requests));
  const server = Object.entries(cpu)
    .filter(([label]) => label.startsWith("server"))
    .reduce((sum, [, percent]) => sum + percent, 0);
  const services = SERVICES.reduce((sum, label) => sum + (cpu[label] ?? 0), 0);
  return { server: perRequest(server), withServices: perRequest(server + services) };
}

/** One row per scenario: ours beside the original design and the floor, as ratios. */
interface Comparison {
  scenario: Scenario;
  connections: number;
  metric: string;
  ours: string;
  original: string;
  floor: string;
  vsOriginal: string;
  vsFloor: string;
}

function latencyText(run: RunResult | undefined, mean: boolean): string {
  if (!run) return "-";
  const l = run.measured.latencyMs;
  return mean ? `${l.mean} / ${l.p99}` : `${l.p50} / ${l.p99}`;
}

function steadyText(run: RunResult | undefined): string {
  if (!run) return "-";
  return `${fmt(run.measured.requestsPerSecond)} req/s, p99 ${run.measured.latencyMs.p99}`;
}

export function comparisons(results: BenchResults): Comparison[] {
  const rows: Comparison[] = [];
  const ratio = (a: number | undefined, b: number | undefined) =>
    a === undefined || b === undefined || b === 0 ? undefined : a / b;
  for (const scenario of ["burst", "jmeter"] as const) {
    const ours = runOf(results, scenario, "ours");
    if (!ours) continue;
    const original = runOf(results, scenario, "original");
    const floor = runOf(results, scenario, "floor");
    const mean = scenario === "jmeter";
    const p99 = (run: RunResult | undefined) => run?.measured.latencyMs.p99;
    rows.push({
      scenario,
      connections: ours.connections,
      metric: mean ? "mean / p99 ms (p99 ratio)" : "p50 / p99 ms (p99 ratio)",
      ours: latencyText(ours, mean),
      original: latencyText(original, mean),
      floor: latencyText(floor, mean),
      vsOriginal: x(ratio(p99(ours), p99(original))),
      vsFloor: x(ratio(p99(ours), p99(floor))),
    });
  }
  for (const scenario of ["accepting", "sold-out"] as const) {
    for (const connections of results.settings.connections) {
      const ours = runOf(results, scenario, "ours", connections);
      if (!ours) continue;
      const original = runOf(results, scenario, "original", connections);
      const floor = runOf(results, scenario, "floor", connections);
      const rps = (run: RunResult | undefined) => run?.measured.requestsPerSecond;
      const p99 = (run: RunResult | undefined) => run?.measured.latencyMs.p99;
      rows.push({
        scenario,
        connections,
        metric: "req/s (req/s ratio; p99 ratio)",
        ours: steadyText(ours),
        original: steadyText(original),
        floor: steadyText(floor),
        vsOriginal: `${x(ratio(rps(ours), rps(original)))}; p99 ${x(ratio(p99(ours), p99(original)))}`,
        vsFloor: `${x(ratio(rps(ours), rps(floor)))}; p99 ${x(ratio(p99(ours), p99(floor)))}`,
      });
    }
  }
  return rows;
}

export function evaluateTargets(results: BenchResults): TargetResult[] {
  const targets: TargetResult[] = [];
  const p99 = (run: RunResult | undefined) => run?.measured.latencyMs.p99 ?? Number.NaN;
  const rps = (run: RunResult | undefined) => run?.measured.requestsPerSecond ?? Number.NaN;

  const burst = runOf(results, "burst", "ours");
  if (burst) {
    const original = runOf(results, "burst", "original");
    const floor = runOf(results, "burst", "floor");
    targets.push({
      target: "burst race: p99 ≤ 0.75 × the original design's",
      measured: `${p99(burst)} vs ${p99(original)} ms = ${x(p99(burst) / p99(original))}`,
      met: p99(burst) <= 0.75 * p99(original),
    });
    targets.push({
      target: "burst race: p99 within 2 × the floor's",
      measured: `${p99(burst)} vs ${p99(floor)} ms = ${x(p99(burst) / p99(floor))}`,
      met: p99(burst) <= 2 * p99(floor),
    });
  }
  const jmeter = runOf(results, "jmeter", "ours");
  if (jmeter) {
    const original = runOf(results, "jmeter", "original");
    targets.push({
      target: "JMeter plan: p99 ≤ the original design's",
      measured: `${p99(jmeter)} vs ${p99(original)} ms = ${x(p99(jmeter) / p99(original))}`,
      met: p99(jmeter) <= p99(original),
    });
    targets.push({
      target: "JMeter plan: mean ≤ 15 ms",
      measured: `${jmeter.measured.latencyMs.mean} ms`,
      met: jmeter.measured.latencyMs.mean <= 15,
    });
  }
  const soldOut = runOf(results, "sold-out", "ours", 100);
  if (soldOut) {
    const original = runOf(results, "sold-out", "original", 100);
    const referenceA = runOf(results, "accepting", "reference-a", 100);
    targets.push({
      target: "distinct buyers, 100 connections, sold out: ≥ 3 × the original design's req/s",
      measured: `${fmt(rps(soldOut))} vs ${fmt(rps(original))} req/s = ${x(rps(soldOut) / rps(original))}`,
      met: rps(soldOut) >= 3 * rps(original),
    });
    targets.push({
      target: "distinct buyers, 100 connections, sold out: ≥ 1.0 × reference (a)",
      measured: `${fmt(rps(soldOut))} vs ${fmt(rps(referenceA))} req/s = ${x(rps(soldOut) / rps(referenceA))}`,
      met: rps(soldOut) >= rps(referenceA),
    });
  }
  const accepting = runOf(results, "accepting", "ours", 100);
  if (accepting) {
    const original = runOf(results, "accepting", "original", 100);
    targets.push({
      target: "distinct buyers, 100 connections, accepting: ≥ 1.5 × the original design's req/s",
      measured: `${fmt(rps(accepting))} vs ${fmt(rps(original))} req/s = ${x(rps(accepting) / rps(original))}`,
      met: rps(accepting) >= 1.5 * rps(original),
    });
    targets.push({
      target: "distinct buyers, 100 connections, accepting: p99 ≤ the original design's",
      measured: `${p99(accepting)} vs ${p99(original)} ms = ${x(p99(accepting) / p99(original))}`,
      met: p99(accepting) <= p99(original),
    });
  }
  const checked = results.runs.filter((r) => r.check);
  const oversold = checked.reduce((sum, r) => sum + (r.check?.oversold ?? 0), 0);
  targets.push({
    target: "0 oversold, every consistency check passes",
    measured: `${oversold} oversold; ${checked.filter((r) => !r.check?.ok).length} of ${checked.length} checks failed`,
    met: oversold === 0 && checked.every((r) => r.check?.ok),
  });
  targets.push({
    target: "local consumer drain ≥ 5,000 orders/s into Postgres",
    measured: `${fmt(results.consumer.ordersPerSecond)} orders/s (${fmt(results.consumer.rows)} rows)`,
    met: results.consumer.ordersPerSecond >= 5_000 && results.consumer.complete,
  });
  return targets;
}

const COMPARISON_HEADER = [
  "scenario",
  "conns / buyers",
  "metric",
  "ours",
  "original design",
  "floor",
  "ours ÷ original",
  "ours ÷ floor",
];

function comparisonRows(results: BenchResults): string[][] {
  return comparisons(results).map((c) => [
    SCENARIO_LABELS[c.scenario],
    fmt(c.connections),
    c.metric,
    c.ours,
    c.original,
    c.floor,
    c.vsOriginal,
    c.vsFloor,
  ]);
}

const RUN_HEADER = [
  "scenario",
  "server",
  "conns",
  "req/s",
  "mean ms",
  "p50 ms",
  "p99 ms",
  "max ms",
  "statuses",
  "CPU µs/req (server / +services)",
  "check",
];

function runRows(results: BenchResults): string[][] {
  return results.runs.map((run) => {
    const m = run.measured;
    const statuses = Object.entries(m.statusCounts)
      .map(([status, n]) => `${status}×${fmt(n)}`)
      .join(" ");
    const cpu = run.cpu ? cpuPerRequest(run) : undefined;
    return [
      run.scenario,
      SERVER_LABELS[run.server],
      fmt(run.connections),
      fmt(m.requestsPerSecond),
      String(m.latencyMs.mean),
      String(m.latencyMs.p50),
      String(m.latencyMs.p99),
      String(m.latencyMs.max),
      statuses + (m.errors ? ` (${m.errors} socket errors/timeouts)` : ""),
      cpu ? `${cpu.server} / ${cpu.withServices}` : "-",
      run.check ? (run.check.ok ? "ok" : "FAILED") : "-",
    ];
  });
}

function textTable(header: string[], rows: string[][]): string[] {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ");
  return [line(header), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)];
}

export function formatTable(results: BenchResults): string {
  const c = results.consumer;
  return [
    "Ours beside the original design and the floor (same run, same client, same Redis and SQS server):",
    "",
    ...textTable(COMPARISON_HEADER, comparisonRows(results)),
    "",
    "Every run:",
    "",
    ...textTable(RUN_HEADER, runRows(results)),
    "",
    `consumer drain: ${fmt(c.ordersPerSecond)} orders/s (${fmt(c.rows)} rows in ${c.seconds} s, batch ${c.batchSize}, ${c.concurrency} concurrent); direct INSERT reference ${fmt(c.referenceInsertsPerSecond)}/s (${(c.ratio * 100).toFixed(1)}%); handler alone, no queue: ${fmt(c.handlerOnlyPerSecond)}/s`,
    `CPU: the rest of the machine (other work, kernel) used ${restOfMachine(results)}% of one core on average during the steady runs; figures are lower and noisier the higher that is.`,
    "",
    "Targets (issue 17):",
    ...results.targets.map((t) => `  [${t.met ? "met" : "MISSED"}] ${t.target}: ${t.measured}`),
  ].join("\n");
}

function mdTable(header: string[], rows: string[][]): string {
  return [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}

export function formatMarkdown(results: BenchResults): string {
  const c = results.consumer;
  const s = results.settings;
  const parts = [
    "# npm run bench",
    "",
    `Measured ${results.measuredAt} on ${results.machine.cpus} CPUs (${results.machine.busyBeforeStartPercent}% busy before the start), Node ${results.machine.node}; steady load by ${results.machine.loadGenerator}, ${s.durationSeconds} s per run after a ${s.warmupSeconds} s warm-up, ${fmt(s.tokens)} distinct buyer tokens; burst and JMeter plan by a Node client, one new connection per request (burst: median of ${s.burstRounds} rounds); our stack with ${s.workers || "no"} HTTP worker(s); wall time ${results.wallSeconds} s.`,
    "",
    "## Ours beside the original design and the floor",
    "",
    "Latency ratios: below 1× is better than the other server. Throughput ratios: above 1× is better.",
    "",
    mdTable(COMPARISON_HEADER, comparisonRows(results)),
    "",
    "## Targets (issue 17)",
    "",
    mdTable(
      ["target", "measured", ""],
      results.targets.map((t) => [t.target, t.measured, t.met ? "met" : "**missed**"]),
    ),
    "",
    "## Every run",
    "",
    mdTable(RUN_HEADER, runRows(results)),
    "",
    ...results.runs
      .filter((r) => r.check)
      .map((r) => `- ${r.label}: ${r.check?.ok ? "ok" : "**FAILED**"}: ${r.check?.detail}`),
    "",
    "## Consumer drain into Postgres",
    "",
    `${fmt(c.ordersPerSecond)} orders/s: ${fmt(c.rows)} of ${fmt(c.orders)} rows in ${c.seconds} s (batch ${c.batchSize}, ${c.concurrency} concurrent, the local SQS event source receiving and deleting); the same INSERT issued directly: ${fmt(c.referenceInsertsPerSecond)}/s (${(c.ratio * 100).toFixed(1)}%); the handler alone, fed events without a queue (as Lambda's poller feeds it in AWS): ${fmt(c.handlerOnlyPerSecond)} orders/s.`,
    "",
    "## Where the time goes",
    "",
    `CPU per process during each steady run (percent of one core; the machine has ${results.machine.cpus * 100}%). "rest of the machine" is everything not listed: other work sharing the machine, and the kernel. It averaged ${restOfMachine(results)}% here.`,
    "",
    mdTable(
      ["run", ...cpuLabels(results)],
      [
        ...results.runs
          .filter((run) => run.cpu)
          .map((run) => [
            run.label,
            ...cpuLabels(results).map((label) => String(run.cpu?.[label] ?? "-")),
          ]),
        ["consumer drain", ...cpuLabels(results).map((label) => String(c.cpu[label] ?? "-"))],
      ],
    ),
  ];
  for (const profile of results.profiles) {
    parts.push(
      "",
      profile.scenario === "consumer drain"
        ? `### Consumer profile: draining the queue (${fmt(profile.requestsPerSecond)} orders/s)`
        : `### Stack process profile: ${profile.scenario}, ${profile.connections} connections (${fmt(profile.requestsPerSecond)} req/s while profiled)`,
      "",
      `\`${profile.file}\` (open in Chrome DevTools or speedscope). Idle ${profile.summary.idlePercent}% of the samples.`,
      "",
      "Self time per package (time in Node internals and native code charged to the package that called it):",
      "",
      mdTable(
        ["package", "ms", "%"],
        profile.summary.byPackage.map((p) => [p.name, fmt(p.ms), String(p.percent)]),
      ),
      "",
      "Top functions by self time:",
      "",
      mdTable(
        ["function", "where", "ms", "%"],
        profile.summary.topFunctions.map((f) => [
          `\`${f.name}\``,
          f.where,
          fmt(f.ms),
          String(f.percent),
        ]),
      ),
    );
  }
  return `${parts.join("\n")}\n`;
}

function restOfMachine(results: BenchResults): number {
  const values = results.runs
    .filter((r) => r.cpu)
    .map((run) => run.cpu?.["rest of the machine"] ?? 0);
  return Math.round(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length));
}

function cpuLabels(results: BenchResults): string[] {
  const labels = new Set<string>();
  for (const run of results.runs) for (const label of Object.keys(run.cpu ?? {})) labels.add(label);
  for (const label of Object.keys(results.consumer.cpu)) labels.add(label);
  return [...labels];
}
