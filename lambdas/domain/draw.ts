import { Buffer } from "node:buffer";
import { createHash, hash, randomBytes } from "node:crypto";

/**
 * The draw procedure (docs/draws.md#the-procedure), pure and deterministic:
 * the same entry list and seed always give the same order and winners, so
 * anyone holding the published list and the revealed seed can recompute them.
 *
 * - An entry is `HMAC-SHA256(salt, saleId NUL userId)` (32 bytes) and a quantity.
 * - The list is packed: records of 32 hash bytes + uint16 big-endian quantity,
 *   sorted by hash (unsigned bytes), no hash twice. Its digest is sha256 of it.
 * - The order is a Fisher–Yates shuffle whose random words are the 32-bit
 *   big-endian words of HMAC-SHA256(seed, digest || uint32be(k)), k = 0, 1, …,
 *   with rejection sampling, so every order is equally likely.
 * - Stock is allocated along the order: an entry whose quantity fits in what is
 *   left wins it, one that does not is passed over; the walk stops when nothing
 *   is left. Units that come back later go on along the same order (alternates).
 */

export const DRAW_PROCEDURE = "flash-sale-draw/v1";
export const HASH_BYTES = 32;
export const ENTRY_RECORD_BYTES = 34;
export const MAX_ENTRY_QUANTITY = 65_535;
const TWO_TO_32 = 4_294_967_296;
/** The sort packs (prefix, index) into one 64-bit lane: its word order depends on the platform's. */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

export interface DrawEntry {
  hash: Buffer;
  quantity: number;
}

export interface DrawWinner {
  /** Position in the drawn order (0 first). */
  position: number;
  /** Index of the entry in the packed (sorted) list. */
  index: number;
  hash: string;
  quantity: number;
}

export function newSeed(): Buffer {
  return randomBytes(32);
}

const sha256 = (data: Buffer) => createHash("sha256").update(data).digest();

export function commitmentOf(seed: Buffer): string {
  return sha256(seed).toString("hex");
}

const SHA256_BLOCK = 64;

/**
 * HMAC-SHA256 (RFC 2104) with the key's pads computed once: two one-shot
 * sha256 calls a message. createHmac costs ~16 µs a call (a key object each
 * time), which is 16 s over a million entries; this is ~1 µs. The unit test
 * checks it against createHmac.
 */
export function hmacSha256(key: Buffer): (message: Buffer) => Buffer {
  const k = key.length > SHA256_BLOCK ? sha256(key) : key;
  const inner = Buffer.alloc(SHA256_BLOCK, 0x36);
  const outer = Buffer.alloc(SHA256_BLOCK + 32, 0x5c);
  for (let i = 0; i < k.length; i++) {
    inner[i] = (inner[i] as number) ^ (k[i] as number);
    outer[i] = (outer[i] as number) ^ (k[i] as number);
  }
  return (message) => {
    hash("sha256", Buffer.concat([inner, message]), "buffer").copy(outer, SHA256_BLOCK);
    return hash("sha256", outer, "buffer");
  };
}

/** The entry hash of each buyer of one sale: HMAC-SHA256(salt, utf8(saleId) || 0x00 || utf8(userId)). */
export function entryHasher(salt: Buffer, saleId: string): (userId: string) => Buffer {
  const mac = hmacSha256(salt);
  const prefix = Buffer.concat([Buffer.from(saleId, "utf8"), Buffer.of(0)]);
  return (userId) => mac(Buffer.concat([prefix, Buffer.from(userId, "utf8")]));
}

export function entryHash(salt: Buffer, saleId: string, userId: string): Buffer {
  return entryHasher(salt, saleId)(userId);
}

export function entryCount(packed: Buffer): number {
  if (packed.length % ENTRY_RECORD_BYTES !== 0) {
    throw new TypeError(`a packed entry list is a multiple of ${ENTRY_RECORD_BYTES} bytes`);
  }
  return packed.length / ENTRY_RECORD_BYTES;
}

export function unpackEntry(packed: Buffer, index: number): { hash: string; quantity: number } {
  const at = index * ENTRY_RECORD_BYTES;
  return {
    hash: packed.toString("hex", at, at + HASH_BYTES),
    quantity: packed.readUInt16BE(at + HASH_BYTES),
  };
}

/** Compares the hashes of records a and b of the same packed buffer. */
const compareHashes = (packed: Buffer, a: number, b: number) =>
  packed.compare(
    packed,
    b * ENTRY_RECORD_BYTES,
    b * ENTRY_RECORD_BYTES + HASH_BYTES,
    a * ENTRY_RECORD_BYTES,
    a * ENTRY_RECORD_BYTES + HASH_BYTES,
  );

/**
 * The canonical packed list of `entries`. A million entries sort in a native
 * numeric sort of (first 4 hash bytes, index) pairs, with a full compare only
 * among the few that share those 4 bytes.
 */
export function packEntries(entries: Iterable<DrawEntry>): Buffer {
  const list = Array.isArray(entries) ? (entries as DrawEntry[]) : [...entries];
  const n = list.length;
  const raw = Buffer.allocUnsafe(n * ENTRY_RECORD_BYTES);
  list.forEach((entry, i) => {
    if (!Buffer.isBuffer(entry.hash) || entry.hash.length !== HASH_BYTES) {
      throw new TypeError(`entry ${i}: a hash is ${HASH_BYTES} bytes`);
    }
    const { quantity } = entry;
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_ENTRY_QUANTITY) {
      throw new TypeError(`entry ${i}: quantity must be an integer in 1..${MAX_ENTRY_QUANTITY}`);
    }
    entry.hash.copy(raw, i * ENTRY_RECORD_BYTES);
    raw.writeUInt16BE(quantity, i * ENTRY_RECORD_BYTES + HASH_BYTES);
  });
  return packRecords(raw).packed;
}

/**
 * The canonical list of records written in any order into `raw` (34 bytes
 * each, as in the list), and where each came from: `original[i]` is the
 * position in `raw` of the list's record i. The draw runner writes a million
 * entries straight into one buffer this way, with no object per entry.
 */
export function packRecords(raw: Buffer): { packed: Buffer; original: Uint32Array } {
  const n = entryCount(raw);
  for (let i = 0; i < n; i++) {
    if (raw.readUInt16BE(i * ENTRY_RECORD_BYTES + HASH_BYTES) < 1) {
      throw new TypeError(`entry ${i}: quantity must be an integer in 1..${MAX_ENTRY_QUANTITY}`);
    }
  }
  const order = sortedIndices(raw, n);
  const packed = Buffer.allocUnsafe(n * ENTRY_RECORD_BYTES);
  for (let i = 0; i < n; i++) {
    const from = (order[i] as number) * ENTRY_RECORD_BYTES;
    raw.copy(packed, i * ENTRY_RECORD_BYTES, from, from + ENTRY_RECORD_BYTES);
  }
  for (let i = 1; i < n; i++) {
    if (compareHashes(packed, i - 1, i) === 0) {
      throw new TypeError(`duplicate entry hash ${unpackEntry(packed, i).hash}`);
    }
  }
  return { packed, original: order };
}

function sortedIndices(raw: Buffer, n: number): Uint32Array {
  if (!LITTLE_ENDIAN) {
    return Uint32Array.from(
      Array.from({ length: n }, (_, i) => i).sort((a, b) => compareHashes(raw, a, b)),
    );
  }
  // Each 64-bit key: high word the hash's first 4 bytes, low word the index.
  const keys = new Uint32Array(n * 2);
  for (let i = 0; i < n; i++) {
    keys[2 * i] = i;
    keys[2 * i + 1] = raw.readUInt32BE(i * ENTRY_RECORD_BYTES);
  }
  new BigUint64Array(keys.buffer).sort();
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = keys[2 * i] as number;
  // Runs that share their first 4 bytes: ordered by the whole hash.
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && keys[2 * end + 1] === keys[2 * start + 1]) end++;
    if (end - start > 1) {
      const run = Array.from(order.subarray(start, end)).sort((a, b) => compareHashes(raw, a, b));
      order.set(run, start);
    }
    start = end;
  }
  return order;
}

export function entriesDigest(packed: Buffer): string {
  entryCount(packed);
  return sha256(packed).toString("hex");
}

/** The 32-bit words of HMAC-SHA256(seed, digest || uint32be(k)), k = 0, 1, …, in order. */
function wordStream(seed: Buffer, digest: Buffer): () => number {
  const mac = hmacSha256(seed);
  const message = Buffer.alloc(HASH_BYTES + 4);
  digest.copy(message, 0);
  let block: Buffer = Buffer.alloc(0);
  let k = 0;
  let offset = HASH_BYTES;
  return () => {
    if (offset === HASH_BYTES) {
      message.writeUInt32BE(k++, HASH_BYTES);
      block = mac(message);
      offset = 0;
    }
    const word = block.readUInt32BE(offset);
    offset += 4;
    return word;
  };
}

/** The drawn order: result[p] is the packed-list index of the entry at position p. */
export function drawOrder(packed: Buffer, seed: Buffer): Uint32Array {
  const n = entryCount(packed);
  const perm = new Uint32Array(n);
  for (let i = 0; i < n; i++) perm[i] = i;
  const next = wordStream(seed, sha256(packed));
  for (let i = n - 1; i >= 1; i--) {
    const bound = i + 1;
    // The largest multiple of bound below 2^32: words at or above it are drawn again.
    const limit = TWO_TO_32 - (TWO_TO_32 % bound);
    let word = next();
    while (word >= limit) word = next();
    const j = word % bound;
    const swap = perm[i] as number;
    perm[i] = perm[j] as number;
    perm[j] = swap;
  }
  return perm;
}

/**
 * The walk along the drawn order from `fromPosition` with `units` to give: an
 * entry that fits wins, one that does not is passed over; it stops when no
 * unit is left or the order ends.
 */
export function nextAwards(
  packed: Buffer,
  order: Uint32Array,
  fromPosition: number,
  units: number,
): { awards: DrawWinner[]; nextPosition: number; unitsLeft: number } {
  const awards: DrawWinner[] = [];
  let left = units;
  let position = fromPosition;
  while (left > 0 && position < order.length) {
    const index = order[position] as number;
    const { hash, quantity } = unpackEntry(packed, index);
    if (quantity <= left) {
      awards.push({ position, index, hash, quantity });
      left -= quantity;
    }
    position++;
  }
  return { awards, nextPosition: position, unitsLeft: left };
}

export function allocate(
  packed: Buffer,
  order: Uint32Array,
  stock: number,
): { winners: DrawWinner[]; unitsAwarded: number; lastPosition: number } {
  const { awards, unitsLeft } = nextAwards(packed, order, 0, stock);
  return {
    winners: awards,
    unitsAwarded: stock - unitsLeft,
    lastPosition: awards.at(-1)?.position ?? -1,
  };
}

export function runDraw(input: { packed: Buffer; seed: Buffer; stock: number }): {
  digest: string;
  order: Uint32Array;
  winners: DrawWinner[];
} {
  const order = drawOrder(input.packed, input.seed);
  return {
    digest: entriesDigest(input.packed),
    order,
    winners: allocate(input.packed, order, input.stock).winners,
  };
}

/** What a draw publishes (GET /sales/{saleId}/draw), as verify-draw reads it. */
export interface PublishedDraw {
  procedure: string;
  commitment: string;
  seed: string;
  entries: number;
  entriesDigest: string;
  stock: number;
  winners: Array<{ position: number; hash: string; quantity: number }>;
}

export type DrawCheck =
  | { ok: true; digest: string; winners: number }
  | { ok: false; problems: string[] };

/** Recomputes a published draw from its packed entry list; lists every mismatch. */
export function verifyDraw(published: PublishedDraw, packed: Buffer): DrawCheck {
  const problems: string[] = [];
  if (published.procedure !== DRAW_PROCEDURE) {
    problems.push(
      `unknown procedure ${published.procedure} (this verifier knows ${DRAW_PROCEDURE})`,
    );
  }
  const seed = Buffer.from(published.seed ?? "", "hex");
  if (seed.length === 0 || seed.toString("hex") !== published.seed?.toLowerCase()) {
    problems.push("the seed is not hex");
  } else if (commitmentOf(seed) !== published.commitment) {
    problems.push(
      `sha256(seed) is ${commitmentOf(seed)}, not the commitment ${published.commitment} published at creation`,
    );
  }
  if (packed.length % ENTRY_RECORD_BYTES !== 0) {
    problems.push(
      `the entry list is ${packed.length} bytes, not a multiple of ${ENTRY_RECORD_BYTES}`,
    );
    return { ok: false, problems };
  }
  const n = packed.length / ENTRY_RECORD_BYTES;
  if (n !== published.entries)
    problems.push(`the list holds ${n} entries, not ${published.entries}`);
  for (let i = 1; i < n; i++) {
    if (compareHashes(packed, i - 1, i) >= 0) {
      problems.push(`the list is not sorted by hash without repeats at entry ${i}`);
      break;
    }
  }
  for (let i = 0; i < n; i++) {
    const quantity = packed.readUInt16BE(i * ENTRY_RECORD_BYTES + HASH_BYTES);
    if (quantity < 1) {
      problems.push(`entry ${i} has quantity 0`);
      break;
    }
  }
  const digest = sha256(packed).toString("hex");
  if (digest !== published.entriesDigest) {
    problems.push(`the list's digest is ${digest}, not the published ${published.entriesDigest}`);
  }
  if (problems.length > 0) return { ok: false, problems };

  const { winners } = runDraw({ packed, seed, stock: published.stock });
  const claimed = published.winners ?? [];
  if (claimed.length !== winners.length) {
    problems.push(`the draw gives ${winners.length} winners, the publication ${claimed.length}`);
  }
  for (let i = 0; i < Math.max(claimed.length, winners.length); i++) {
    const mine = winners[i];
    const theirs = claimed[i];
    if (
      !mine ||
      !theirs ||
      mine.position !== theirs.position ||
      mine.hash !== theirs.hash ||
      mine.quantity !== theirs.quantity
    ) {
      problems.push(
        `winner ${i}: recomputed ${mine ? `${mine.position}/${mine.hash}/${mine.quantity}` : "none"}, published ${theirs ? `${theirs.position}/${theirs.hash}/${theirs.quantity}` : "none"}`,
      );
    }
  }
  return problems.length > 0
    ? { ok: false, problems }
    : { ok: true, digest, winners: winners.length };
}
