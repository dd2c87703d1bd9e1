import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import {
  type DrawCheck,
  drawOrder,
  type PublishedDraw,
  verifyDraw,
} from "../lambdas/domain/draw.js";
import { fetchDraw } from "../local/draw-api.js";
import { useStackEnvDefaults } from "../local/stack-env.js";

/**
 * `npm run verify-draw -- --sale <id> [--api <url>] [--hash <hex>]`: recomputes
 * a draw from what it published, as anyone can, with no token: the seed
 * against its commitment, the entry list (every page of
 * GET /sales/{id}/draw/entries) against its digest, and the winners against
 * the procedure (lambdas/domain/draw.ts, docs/draws.md#the-procedure).
 *
 *   --api URL     the API (default FLASH_SALE_API_URL, else the running local stack's)
 *   --file PATH   a saved publication instead: the GET /draw body plus
 *                 "entriesPacked" (base64 of the whole packed list)
 *   --hash HEX    also show this entry (a buyer's, from GET /sales/{id}/entries/me):
 *                 in the list or not, its drawn position, whether it won
 *
 * Exits 0 when everything matches, 1 on any mismatch (every problem printed),
 * 2 when the draw cannot be read or has not run yet.
 */
const { values } = parseArgs({
  options: {
    sale: { type: "string" },
    api: { type: "string" },
    file: { type: "string" },
    hash: { type: "string" },
  },
});
const out = (line: string) => process.stdout.write(`${line}\n`);
const fail = (line: string, code: number): never => {
  process.stderr.write(`${line}\n`);
  process.exit(code);
};

let published: PublishedDraw & { saleId?: string };
let packed: Buffer;
if (values.file) {
  const saved = JSON.parse(readFileSync(values.file, "utf8")) as PublishedDraw & {
    entriesPacked?: string;
  };
  if (typeof saved.entriesPacked !== "string") fail(`${values.file} has no "entriesPacked"`, 2);
  published = saved;
  packed = Buffer.from(saved.entriesPacked ?? "", "base64");
} else {
  if (!values.sale)
    fail("usage: npm run verify-draw -- --sale <saleId> [--api <url>] [--hash <hex>]", 2);
  if (!values.api && !process.env.FLASH_SALE_API_URL) useStackEnvDefaults();
  const api = values.api ?? process.env.FLASH_SALE_API_URL ?? process.env.LOCAL_API_URL;
  if (!api) fail("no API: pass --api <url> (or set FLASH_SALE_API_URL)", 2);
  const fetched = await fetchDraw(api as string, values.sale as string).catch((error: unknown) =>
    fail(`could not read the draw: ${error instanceof Error ? error.message : String(error)}`, 2),
  );
  if (fetched === null) fail(`the draw of ${values.sale} has not run yet (nothing to verify)`, 2);
  published = (fetched as NonNullable<typeof fetched>).draw;
  packed = (fetched as NonNullable<typeof fetched>).packed;
}

const check: DrawCheck = verifyDraw(published, packed);
if (!check.ok) {
  out("DRAW VERIFICATION FAILED");
  for (const problem of check.problems) out(`  - ${problem}`);
  process.exit(1);
}
out(
  `verified: ${published.entries} entries, digest ${check.digest}, ${check.winners} winners for ${published.stock} units; sha256(seed) matches the commitment ${published.commitment}`,
);

if (values.hash) {
  const wanted = values.hash.toLowerCase();
  const index = findEntry(packed, wanted);
  if (index < 0) {
    out(`entry ${wanted}: NOT in the list`);
    process.exit(1);
  }
  const position = drawOrder(packed, Buffer.from(published.seed, "hex")).indexOf(index);
  const won = published.winners.some((w) => w.hash === wanted);
  out(
    `entry ${wanted}: in the list, drawn position ${position}, ${won ? "a winner" : "not among the first winners (an alternate if units come back)"}`,
  );
}

/** Binary search of the sorted list. */
function findEntry(list: Buffer, hex: string): number {
  const target = Buffer.from(hex, "hex");
  if (target.length !== 32) return -1;
  let low = 0;
  let high = list.length / 34 - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    const cmp = list.compare(target, 0, 32, mid * 34, mid * 34 + 32);
    if (cmp === 0) return mid;
    if (cmp < 0) low = mid + 1;
    else high = mid - 1;
  }
  return -1;
}
