import { randomBytes } from "node:crypto";
import { parseArgs } from "node:util";
import {
  commitmentOf,
  DRAW_PROCEDURE,
  type DrawEntry,
  newSeed,
  packEntries,
  runDraw,
  verifyDraw,
} from "../../lambdas/domain/draw.js";

/**
 * `npm run bench:draw -- --entries 1000000 --runs 3`: the draw procedure
 * alone (lambdas/domain/draw.ts) over synthetic entries (random hashes,
 * quantities 1-2, stock one unit per thousand entries): packing (sort),
 * drawing (shuffle and allocation) and verifying, each timed, the median of
 * the runs, and the process's peak RSS. The draw function's whole run (Redis
 * scan, Postgres, record, install) is measured by `npm run bench:entries -- --fill N`.
 */
const { values } = parseArgs({
  options: {
    entries: { type: "string", default: "1000000" },
    runs: { type: "string", default: "3" },
  },
});
const n = Number(values.entries);
const runs = Number(values.runs);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

const hashes = randomBytes(n * 32);
const entries: DrawEntry[] = Array.from({ length: n }, (_, i) => ({
  hash: hashes.subarray(i * 32, i * 32 + 32),
  quantity: 1 + (i % 2),
}));
const stock = Math.max(1, Math.round(n / 1000));
const times = { pack: [] as number[], draw: [] as number[], verify: [] as number[] };
for (let run = 1; run <= runs; run++) {
  const seed = newSeed();
  let t = performance.now();
  const packed = packEntries(entries);
  times.pack.push(performance.now() - t);
  t = performance.now();
  const { digest, winners } = runDraw({ packed, seed, stock });
  times.draw.push(performance.now() - t);
  t = performance.now();
  const check = verifyDraw(
    {
      procedure: DRAW_PROCEDURE,
      commitment: commitmentOf(seed),
      seed: seed.toString("hex"),
      entries: n,
      entriesDigest: digest,
      stock,
      winners: winners.map(({ position, hash, quantity }) => ({ position, hash, quantity })),
    },
    packed,
  );
  times.verify.push(performance.now() - t);
  if (!check.ok) throw new Error(`verification failed: ${check.problems.join("; ")}`);
  process.stdout.write(
    `run ${run}: pack ${times.pack.at(-1)?.toFixed(0)} ms, draw ${times.draw.at(-1)?.toFixed(0)} ms, verify ${times.verify.at(-1)?.toFixed(0)} ms (${winners.length} winners)\n`,
  );
}
const result = {
  entries: n,
  runs,
  packMs: Math.round(median(times.pack)),
  drawMs: Math.round(median(times.draw)),
  verifyMs: Math.round(median(times.verify)),
  peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024),
};
process.stdout.write(
  `median over ${runs} runs: pack ${result.packMs} ms, draw ${result.drawMs} ms, verify ${result.verifyMs} ms; peak RSS ${result.peakRssMb} MB\n${JSON.stringify(result)}\n`,
);
