import type { ProfileSummary } from "./cpuprofile.js";
import type { WrkResult } from "./wrk.js";

/** The results of `npm run bench`: their shape, the targets, the table and the markdown summary. */

export interface RunCheck {
  stock: number;
  sold: number;
  accepted: number;
  oversold: number;
  /** Units sold whose 202 the load generator never counted (in flight when it stopped). */
  inFlightAtStop: number;
  maxPerUser: number;
  perUserLimit: number;
  ok: boolean;
}

export interface RunResult {
  label: string;
  scenario: "reference" | "reference-send" | "accepting" | "sold-out";
  connections: number;
  saleId: string;
  wrk: WrkResult;
  /** Percent of one core per process during the run. */
  cpu: Record<string, number>;
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
    users: number;
    perUserLimit: number;
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
const pct = (ratio: number) => `${(ratio * 100).toFixed(1)}%`;

function referenceOf(
  results: BenchResults,
  connections: number,
  scenario: "reference" | "reference-send" = "reference",
): RunResult | undefined {
  return results.runs.find((r) => r.scenario === scenario && r.connections === connections);
}

export function ratioOf(
  results: BenchResults,
  run: RunResult,
  scenario: "reference" | "reference-send" = "reference",
): number | undefined {
  const reference = referenceOf(results, run.connections, scenario);
  return reference ? run.wrk.requestsPerSecond / reference.wrk.requestsPerSecond : undefined;
}

const SERVICES = ["redis-server", "fauxqs (SQS)", "postgres"];

/**
 * CPU microseconds per request of the server under test, and of the server
 * plus the services it called: unlike req/s, this hardly moves when other work
 * shares the machine, so it says what a request costs.
 */
export function cpuPerRequest(run: RunResult): { server: number; withServices: number } {
  const seconds = run.wrk.seconds;
  const perRequest = (percent: number) =>
    Math.round(((percent / 100) * seconds * 1e6) / Math.max(1, run.wrk.requests));
  // The stack's share is its process plus its HTTP workers, when it runs them.
  const stackShare = Object.entries(run.cpu)
    .filter(([label]) => label.startsWith("stack"))
    .reduce((sum, [, percent]) => sum + percent, 0);
  const server = stackShare || (run.cpu["reference server"] ?? 0);
  const services = SERVICES.reduce((sum, label) => sum + (run.cpu[label] ?? 0), 0);
  return { server: perRequest(server), withServices: perRequest(server + services) };
}

export function evaluateTargets(results: BenchResults): TargetResult[] {
  const targets: TargetResult[] = [];
  for (const run of results.runs.filter((r) => r.scenario === "accepting")) {
    const ratio = ratioOf(results, run) ?? 0;
    targets.push({
      target: `buy path ≥ 50% of the reference ceiling (${run.connections} connections)`,
      measured: `${fmt(run.wrk.requestsPerSecond)} of ${fmt(referenceOf(results, run.connections)?.wrk.requestsPerSecond ?? 0)} req/s = ${pct(ratio)}`,
      met: ratio >= 0.5,
    });
    const withSend = ratioOf(results, run, "reference-send");
    if (withSend !== undefined) {
      targets.push({
        target: `buy path ≥ 70% of reference (b), http + EVALSHA + SendMessage (${run.connections} connections)`,
        measured: `${fmt(run.wrk.requestsPerSecond)} of ${fmt(referenceOf(results, run.connections, "reference-send")?.wrk.requestsPerSecond ?? 0)} req/s = ${pct(withSend)}`,
        met: withSend >= 0.7,
      });
    }
  }
  for (const run of results.runs.filter((r) => r.scenario === "sold-out")) {
    const ratio = ratioOf(results, run) ?? 0;
    targets.push({
      target: `sold-out storm ≥ 100% of reference (a) (${run.connections} connections)`,
      measured: `${fmt(run.wrk.requestsPerSecond)} req/s = ${pct(ratio)}, p99 ${run.wrk.latencyMs.p99} ms`,
      met: ratio >= 1,
    });
  }
  const at100 = results.runs.find((r) => r.scenario === "accepting" && r.connections === 100);
  if (at100) {
    targets.push({
      target: "buy path p99 ≤ 10 ms at 100 connections",
      measured: `p99 ${at100.wrk.latencyMs.p99} ms (p50 ${at100.wrk.latencyMs.p50} ms)`,
      met: at100.wrk.latencyMs.p99 <= 10,
    });
  }
  const checked = results.runs.filter((r) => r.check);
  const oversold = checked.reduce((sum, r) => sum + (r.check?.oversold ?? 0), 0);
  targets.push({
    target: "0 oversold",
    measured: checked
      .map((r) => `${r.check?.sold}/${r.check?.stock}${r.check?.ok ? "" : " (CHECK FAILED)"}`)
      .join(", ")
      .replace(/^/, `${oversold} oversold; sold/stock per run: `),
    met: oversold === 0 && checked.every((r) => r.check?.ok),
  });
  targets.push({
    target: "consumer ≥ 5,000 orders/s into Postgres",
    measured: `${fmt(results.consumer.ordersPerSecond)} orders/s (${fmt(results.consumer.rows)} rows)`,
    met: results.consumer.ordersPerSecond >= 5_000 && results.consumer.complete,
  });
  return targets;
}

function runRows(results: BenchResults): string[][] {
  return results.runs.map((run) => {
    const ratio = run.scenario === "reference" ? 1 : ratioOf(results, run);
    const ratioB =
      run.scenario === "accepting" ? ratioOf(results, run, "reference-send") : undefined;
    const statuses = Object.entries(run.wrk.statusCounts)
      .map(([status, n]) => `${status}×${fmt(n)}`)
      .join(" ");
    const errors = run.wrk.errors.timeout + run.wrk.errors.read + run.wrk.errors.connect;
    return [
      run.scenario === "reference"
        ? "reference (a): http + EVALSHA"
        : run.scenario === "reference-send"
          ? "reference (b): (a) + SendMessage"
          : run.scenario === "accepting"
            ? "buy path, accepting"
            : "buy path, sold out",
      String(run.connections),
      fmt(run.wrk.requestsPerSecond),
      run.wrk.latencyMs.p50.toFixed(1),
      run.wrk.latencyMs.p99.toFixed(1),
      statuses + (errors ? ` (${errors} socket errors/timeouts)` : ""),
      (ratio === undefined ? "-" : pct(ratio)) +
        (ratioB === undefined ? "" : ` (÷ b: ${pct(ratioB)})`),
      `${cpuPerRequest(run).server} / ${cpuPerRequest(run).withServices}`,
    ];
  });
}

const HEADER = [
  "run",
  "conns",
  "req/s",
  "p50 ms",
  "p99 ms",
  "statuses",
  "÷ reference",
  "CPU µs/req (server / +services)",
];

export function formatTable(results: BenchResults): string {
  const rows = [HEADER, ...runRows(results)];
  const widths = HEADER.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? "").length)));
  const line = (row: string[]) =>
    row
      .map((cell, i) =>
        i >= 1 && i <= 4 ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0),
      )
      .join("  ");
  const c = results.consumer;
  return [
    line(HEADER),
    widths.map((w) => "-".repeat(w)).join("  "),
    ...rows.slice(1).map(line),
    "",
    `consumer drain: ${fmt(c.ordersPerSecond)} orders/s (${fmt(c.rows)} rows in ${c.seconds} s, batch ${c.batchSize}, ${c.concurrency} concurrent); direct INSERT reference ${fmt(c.referenceInsertsPerSecond)}/s (${pct(c.ratio)}); handler alone, no queue: ${fmt(c.handlerOnlyPerSecond)}/s`,
    `CPU: the rest of the machine (other work, kernel) used ${restOfMachine(results)}% of one core on average during the runs; figures are lower and noisier the higher that is.`,
    "",
    "Targets:",
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
  const parts = [
    "# npm run bench",
    "",
    `Measured ${results.measuredAt} on ${results.machine.cpus} CPUs (${results.machine.busyBeforeStartPercent}% busy before the start), Node ${results.machine.node}, load by ${results.machine.loadGenerator}; ${results.settings.durationSeconds} s per run after a ${results.settings.warmupSeconds} s warm-up, ${results.settings.users} users, wall time ${results.wallSeconds} s.`,
    "",
    "## Throughput and latency",
    "",
    mdTable(HEADER, runRows(results)),
    "",
    "## Consumer drain into Postgres",
    "",
    `${fmt(c.ordersPerSecond)} orders/s: ${fmt(c.rows)} of ${fmt(c.orders)} rows in ${c.seconds} s (batch ${c.batchSize}, ${c.concurrency} concurrent, the local SQS event source receiving and deleting); the same INSERT issued directly: ${fmt(c.referenceInsertsPerSecond)}/s (${pct(c.ratio)}); the handler alone, fed events without a queue (as Lambda's poller feeds it in AWS): ${fmt(c.handlerOnlyPerSecond)} orders/s.`,
    "",
    "## Targets",
    "",
    mdTable(
      ["target", "measured", ""],
      results.targets.map((t) => [t.target, t.measured, t.met ? "met" : "**missed**"]),
    ),
    "",
    "## Where the time goes",
    "",
    "CPU per process during each run (percent of one core; the machine has " +
      `${results.machine.cpus * 100}%). "rest of the machine" is everything not listed: other work sharing the machine, and the kernel. ` +
      `It averaged ${restOfMachine(results)}% here.`,
    "",
    mdTable(
      ["run", ...cpuLabels(results)],
      [
        ...results.runs.map((run) => [
          `${run.label}`,
          ...cpuLabels(results).map((label) => String(run.cpu[label] ?? "-")),
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
  const values = results.runs.map((run) => run.cpu["rest of the machine"] ?? 0);
  return Math.round(values.reduce((a, b) => a + b, 0) / Math.max(1, values.length));
}

function cpuLabels(results: BenchResults): string[] {
  const labels = new Set<string>();
  for (const run of results.runs) for (const label of Object.keys(run.cpu)) labels.add(label);
  for (const label of Object.keys(results.consumer.cpu)) labels.add(label);
  return [...labels];
}
