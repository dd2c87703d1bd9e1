import { spawnSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";

/**
 * npm run loadtest:<race|sustained|spike> [-- options] [-- artillery options]
 *
 *   --target URL        the API (default TARGET_URL, else http://127.0.0.1:3000, the npm start stack)
 *   --duration S        sustained: the run's length; spike: how long the peak is held
 *   --rate N            sustained: buyers per second; spike: the peak's buyers per second
 *   --no-verify         skip the consistency verifier after the run
 *   --drain-timeout S   how long the verifier waits for the queue to drain (default 30)
 *   anything after a second `--` goes to `artillery run` as it is
 *
 * Installs artillery into loadtest/node_modules on first use, gives the sale
 * an id (or takes SALE_ID), runs the scenario, then loadtest/verify.ts on the
 * same sale. Exits non-zero if artillery's `ensure` checks or the verifier fail.
 */

const HERE = import.meta.dirname;
const SCENARIOS = ["race", "sustained", "spike"] as const;
type Scenario = (typeof SCENARIOS)[number];

const { values, positionals } = parseArgs({
  options: {
    target: { type: "string" },
    duration: { type: "string" },
    rate: { type: "string" },
    verify: { type: "boolean", default: true },
    "drain-timeout": { type: "string", default: "30" },
  },
  allowPositionals: true,
  allowNegative: true,
});
const [scenarioArg, ...artilleryArgs] = positionals;
if (!SCENARIOS.includes(scenarioArg as Scenario)) {
  process.stderr.write(`usage: tsx loadtest/run.ts <${SCENARIOS.join("|")}> [options]\n`);
  process.exit(2);
}
const scenario = scenarioArg as Scenario;
const target = (values.target ?? process.env.TARGET_URL ?? "http://127.0.0.1:3000").replace(
  /\/$/,
  "",
);

const env = {
  ...process.env,
  ARTILLERY_DISABLE_TELEMETRY: "true",
  PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD: "1",
};

const artillery = join(HERE, "node_modules", ".bin", "artillery");
if (!existsSync(artillery)) {
  process.stdout.write(
    "installing artillery into loadtest/node_modules (first use, about a minute) ...\n",
  );
  const install = spawnSync("npm", ["ci", "--no-audit", "--no-fund"], {
    cwd: HERE,
    env,
    stdio: "inherit",
  });
  if (install.status !== 0) process.exit(install.status ?? 1);
}

/** Phases from --duration / --rate, as artillery --overrides. */
function phaseOverrides(): object | undefined {
  if (values.duration === undefined && values.rate === undefined) return undefined;
  const duration = Number(values.duration ?? (scenario === "spike" ? 10 : 60));
  const rate = Number(values.rate ?? (scenario === "spike" ? 1000 : 200));
  if (!(duration > 0 && rate > 0)) throw new Error("--duration and --rate must be positive");
  if (scenario === "sustained")
    return { phases: [{ name: "sustained", duration, arrivalRate: rate }] };
  if (scenario === "spike") {
    const quiet = Math.min(10, Math.max(2, duration));
    return {
      phases: [
        { name: "idle", duration: quiet, arrivalRate: 1 },
        { name: "spike", duration: 5, arrivalRate: 1, rampTo: rate },
        { name: "peak", duration, arrivalRate: rate },
        { name: "trickle", duration: quiet, arrivalRate: 5 },
      ],
    };
  }
  throw new Error("race.yml is the fixed classic (1,000 buyers over 10 s); use STOCK to vary it");
}

const stamp = new Date()
  .toISOString()
  .replace(/[-:.TZ]/g, "")
  .slice(0, 14);
const saleId = process.env.SALE_ID || `lt-${scenario}-${stamp}-${randomUUID().slice(0, 4)}`;
const runsDir = process.env.LOADTEST_RUNS_DIR || join(HERE, ".runs");
const runDir = join(runsDir, saleId);
const overrides = phaseOverrides();

process.stdout.write(`artillery run ${scenario}.yml against ${target}, sale ${saleId}\n`);
const run = spawnSync(
  artillery,
  [
    "run",
    "--target",
    target,
    ...(overrides ? ["--overrides", JSON.stringify({ config: overrides })] : []),
    ...artilleryArgs,
    join(HERE, `${scenario}.yml`),
  ],
  { cwd: HERE, env: { ...env, SALE_ID: saleId, LOADTEST_RUNS_DIR: runsDir }, stdio: "inherit" },
);
const artilleryOk = run.status === 0;
if (!artilleryOk)
  process.stdout.write(
    `\nartillery exited with ${run.status}: a check of the run failed (see "Checks" above)\n`,
  );

let verifyOk = true;
if (values.verify && existsSync(join(runDir, "run.json"))) {
  process.stdout.write("\n");
  const verify = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      join(HERE, "verify.ts"),
      "--run",
      runDir,
      "--target",
      target,
      "--drain-timeout",
      values["drain-timeout"],
    ],
    { env, stdio: "inherit" },
  );
  verifyOk = verify.status === 0;
} else if (values.verify) {
  process.stdout.write(`no run record in ${runDir}: the sale was not set up, nothing to verify\n`);
  verifyOk = false;
}
process.exit(artilleryOk && verifyOk ? 0 : 1);
