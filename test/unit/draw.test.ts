import { createHash, createHmac } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  allocate,
  commitmentOf,
  DRAW_PROCEDURE,
  type DrawEntry,
  drawOrder,
  entriesDigest,
  entryHash,
  hmacSha256,
  nextAwards,
  type PublishedDraw,
  packEntries,
  runDraw,
  unpackEntry,
  verifyDraw,
} from "../../lambdas/domain/draw.js";

const sha = (text: string) => createHash("sha256").update(text).digest();
const seedOf = (n: number) => sha(`seed-${n}`);
const entries = (count: number, quantity = (_i: number) => 1): DrawEntry[] =>
  Array.from({ length: count }, (_, i) => ({ hash: sha(`entry-${i}`), quantity: quantity(i) }));

function publish(
  list: DrawEntry[],
  seed: Buffer,
  stock: number,
): { draw: PublishedDraw; packed: Buffer } {
  const packed = packEntries(list);
  const { digest, winners } = runDraw({ packed, seed, stock });
  return {
    packed,
    draw: {
      procedure: DRAW_PROCEDURE,
      commitment: commitmentOf(seed),
      seed: seed.toString("hex"),
      entries: list.length,
      entriesDigest: digest,
      stock,
      winners: winners.map(({ position, hash, quantity }) => ({ position, hash, quantity })),
    },
  };
}

/** Chi-square statistic of observed counts against equal expectation. */
function chiSquare(counts: number[]): number {
  const total = counts.reduce((a, b) => a + b, 0);
  const expected = total / counts.length;
  return counts.reduce((sum, c) => sum + (c - expected) ** 2 / expected, 0);
}

describe("draw procedure", () => {
  it("gives a fixed answer for a fixed list and seed (a change of procedure breaks this)", () => {
    const seed = Buffer.from(Array.from({ length: 32 }, (_, i) => i + 1));
    const { draw, packed } = publish(
      entries(10, (i) => 1 + (i % 3)),
      seed,
      5,
    );
    expect(draw.entriesDigest).toBe(KNOWN.digest);
    expect(Array.from(drawOrder(packed, seed))).toEqual(KNOWN.order);
    expect(draw.winners.map((w) => [w.position, w.quantity])).toEqual(KNOWN.winners);
  });

  it("is deterministic: the same entries in any input order and the same seed give the same draw", () => {
    const list = entries(500, (i) => 1 + (i % 2));
    const shuffled = [...list].reverse();
    const a = publish(list, seedOf(1), 100);
    const b = publish(shuffled, seedOf(1), 100);
    expect(b.packed.equals(a.packed)).toBe(true);
    expect(b.draw).toEqual(a.draw);
    expect(publish(list, seedOf(2), 100).draw.winners).not.toEqual(a.draw.winners);
  });

  it("verifies an honest publication and fails on any change of an entry, the seed or a winner", () => {
    const { draw, packed } = publish(
      entries(50, (i) => 1 + (i % 2)),
      seedOf(3),
      10,
    );
    expect(verifyDraw(draw, packed)).toMatchObject({ ok: true, winners: draw.winners.length });

    const changedHash = Buffer.from(packed);
    changedHash[40] = (changedHash[40] ?? 0) ^ 1;
    const changedQuantity = Buffer.from(packed);
    changedQuantity.writeUInt16BE(3, 32);
    const dropped = packed.subarray(34);
    const added = packEntries([
      ...entries(50, (i) => 1 + (i % 2)),
      { hash: sha("extra"), quantity: 1 },
    ]);
    const reordered = Buffer.concat([
      packed.subarray(34, 68),
      packed.subarray(0, 34),
      packed.subarray(68),
    ]);
    for (const tampered of [changedHash, changedQuantity, dropped, added, reordered]) {
      const check = verifyDraw(draw, tampered);
      expect(check.ok).toBe(false);
    }
    const otherSeed = seedOf(4);
    expect(verifyDraw({ ...draw, seed: otherSeed.toString("hex") }, packed).ok).toBe(false);
    // A new seed with a matching commitment: the winners no longer follow.
    expect(
      verifyDraw(
        { ...draw, seed: otherSeed.toString("hex"), commitment: commitmentOf(otherSeed) },
        packed,
      ).ok,
    ).toBe(false);
    const [first, second, ...rest] = draw.winners;
    if (!first || !second) throw new Error("two winners expected");
    for (const winners of [
      [{ ...first, position: first.position + 1 }, second, ...rest],
      [{ ...first, hash: second.hash }, second, ...rest],
      [{ ...first, quantity: first.quantity + 1 }, second, ...rest],
      [second, ...rest],
      [second, first, ...rest],
    ]) {
      const check = verifyDraw({ ...draw, winners }, packed);
      expect(check.ok).toBe(false);
      if (!check.ok) expect(check.problems.length).toBeGreaterThan(0);
    }
    expect(verifyDraw({ ...draw, procedure: "other/v9" }, packed).ok).toBe(false);
    expect(verifyDraw({ ...draw, stock: 11 }, packed).ok).toBe(false);
  });

  it("is uniform: over 20,000 draws each of 10 entrants wins equally often (chi-square, df 9, significance 0.001)", () => {
    const list = entries(10);
    const packed = packEntries(list);
    const wins = new Array(10).fill(0);
    const lastPlace = new Array(10).fill(0);
    for (let draw = 0; draw < 20_000; draw++) {
      const order = drawOrder(packed, seedOf(1_000 + draw));
      const { winners } = allocate(packed, order, 1);
      wins[winners[0]?.index ?? 0]++;
      lastPlace[order[9] ?? 0]++;
    }
    // Critical value of chi-square with 9 degrees of freedom at 0.001: 27.877.
    expect(chiSquare(wins)).toBeLessThan(27.877);
    expect(chiSquare(lastPlace)).toBeLessThan(27.877);
  });

  it("puts one entrant at each position equally often (chi-square, df 6, significance 0.001)", () => {
    const packed = packEntries(entries(7));
    const positions = new Array(7).fill(0);
    for (let draw = 0; draw < 14_000; draw++) {
      const order = Array.from(drawOrder(packed, seedOf(50_000 + draw)));
      positions[order.indexOf(3)]++;
    }
    // Critical value with 6 degrees of freedom at 0.001: 22.458.
    expect(chiSquare(positions)).toBeLessThan(22.458);
  });

  it("allocates along the drawn order honouring quantities, and goes on from a position with returned units", () => {
    const list = entries(12, (i) => (i < 6 ? 2 : 1));
    const packed = packEntries(list);
    const order = drawOrder(packed, seedOf(9));
    const { winners, unitsAwarded, lastPosition } = allocate(packed, order, 5);
    expect(unitsAwarded).toBe(5);
    expect(winners.reduce((sum, w) => sum + w.quantity, 0)).toBe(5);
    // Every entry before the last winner that is not a winner did not fit.
    let left = 5;
    for (let p = 0; p <= lastPosition; p++) {
      const { quantity } = unpackEntry(packed, order[p] ?? 0);
      const won = winners.some((w) => w.position === p);
      expect(won).toBe(quantity <= left);
      if (won) left -= quantity;
    }
    const next = nextAwards(packed, order, lastPosition + 1, 2);
    expect(next.awards[0]?.position).toBeGreaterThan(lastPosition);
    expect(next.awards.reduce((sum, w) => sum + w.quantity, 0)).toBe(2 - next.unitsLeft);
    // Stock above the entries' total: everyone wins, in drawn order.
    expect(allocate(packed, order, 1_000).winners.map((w) => w.position)).toEqual(
      Array.from({ length: 12 }, (_, p) => p),
    );
  });

  it("sorts entries that share their first bytes by the whole hash", () => {
    const shared = Array.from({ length: 20 }, (_, i) => {
      const hash = sha(`tie-${i}`);
      hash.writeUInt32BE(0xdeadbeef, 0);
      return { hash, quantity: 1 };
    });
    const packed = packEntries([...shared, ...entries(30)]);
    for (let i = 1; i < 50; i++) {
      expect(
        Buffer.compare(
          packed.subarray((i - 1) * 34, i * 34 - 2),
          packed.subarray(i * 34, i * 34 + 32),
        ),
      ).toBe(-1);
    }
  });

  it("refuses a duplicate hash, a bad quantity or a hash of the wrong size", () => {
    const [one] = entries(1);
    if (!one) throw new Error("no entry");
    expect(() => packEntries([one, { ...one }])).toThrow(/duplicate/);
    expect(() => packEntries([{ hash: one.hash, quantity: 0 }])).toThrow(/quantity/);
    expect(() => packEntries([{ hash: one.hash, quantity: 70_000 }])).toThrow(/quantity/);
    expect(() => packEntries([{ hash: one.hash.subarray(1), quantity: 1 }])).toThrow(/32 bytes/);
    expect(() => entriesDigest(Buffer.alloc(33))).toThrow(/multiple/);
  });

  it("hashes a buyer with the sale's salt: stable, distinct per sale and buyer, and the commitment is sha256(seed)", () => {
    const salt = sha("salt");
    expect(entryHash(salt, "s1", "alice").equals(entryHash(salt, "s1", "alice"))).toBe(true);
    expect(entryHash(salt, "s1", "alice").equals(entryHash(salt, "s2", "alice"))).toBe(false);
    // The NUL separator: no (sale, buyer) split of the same text collides.
    expect(entryHash(salt, "s1a", "b").equals(entryHash(salt, "s1", "ab"))).toBe(false);
    expect(commitmentOf(seedOf(1))).toBe(createHash("sha256").update(seedOf(1)).digest("hex"));
    // The fast HMAC is RFC 2104's, as createHmac computes it, for short, block-long and long keys.
    for (const key of [sha("k"), Buffer.alloc(64, 7), Buffer.alloc(100, 9), Buffer.alloc(0)]) {
      for (const message of [Buffer.alloc(0), Buffer.from("s1\0alice"), Buffer.alloc(300, 1)]) {
        expect(
          hmacSha256(key)(message).equals(createHmac("sha256", key).update(message).digest()),
        ).toBe(true);
      }
    }
  });
});

/** Computed once with this procedure and written down: the draw's known answer. */
const KNOWN = {
  digest: "5beb4693718c40264636f4cab5a90657c41d9de57f8cddea1d9e270d12babe47",
  order: [5, 0, 7, 6, 4, 2, 9, 1, 8, 3],
  winners: [
    [0, 1],
    [1, 1],
    [2, 3],
  ],
};
