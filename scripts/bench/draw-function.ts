/**
 * The draw function as Lambda runs it, in a process of its own so its memory
 * is its own: loads lambdas/handlers/run-draws.ts (cold start: config,
 * clients), invokes it once with a 300 s, 2048 MB context, and prints one
 * JSON line: the run's report, its wall time and the process's peak RSS.
 * The environment is the local stack's (the bench passes it).
 */
import { lambdaContext } from "../../local/lambda-context.js";

process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";
const { handler } = await import("../../lambdas/handlers/run-draws.js");
const started = performance.now();
const report = await (handler as unknown as (e: unknown, c: unknown) => Promise<unknown>)(
  {},
  lambdaContext("run-draws", 300_000, 2048),
);
const ms = Math.round(performance.now() - started);
const peakRssMb = Math.round(process.resourceUsage().maxRSS / 1024);
process.stdout.write(`${JSON.stringify({ ms, peakRssMb, report })}\n`);
process.exit(0);
