import { createSecretKey, randomUUID } from "node:crypto";
import { SignJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import { localJwtSettings } from "../../local/auth.js";
import {
  accepted,
  type Buyer,
  createSale,
  deadPids,
  drained,
  makeBuyers,
  promiseViolations,
  readBooks,
  recordFault,
  startLoad,
  startRig,
  statusCounts,
  Teardown,
  waitFor,
} from "./support/harness.js";

/**
 * Fault 9: hostile buyers. Ordinary buyers share a sale with validly signed
 * tokens whose `sub` is odd: very long, control characters, NUL, lone
 * surrogates, non-string claims, characters outside the Basic Multilingual
 * Plane, invisible and right-to-left marks, injection attempts. Before the
 * buyer-id contract, some of these got 202 and then never became a row (NUL
 * failed the whole batch's INSERT and took ordinary buyers' orders with it).
 * Now: every 202 is exactly one row, no ordinary order is lost, nothing
 * answers 5xx, and what cannot be a buyer id is refused with 401 before any
 * reservation.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

const ORDINARY = 300;

/** Odd subs that are valid buyer ids: each must be accepted and persisted exactly as sent. */
const ODD_BUT_VALID: string[] = [
  "😀🎟️👟",
  "𝄞".repeat(128), // 256 UTF-16 units: the longest id
  "a".repeat(256),
  "\u200b\u200d\u2060zero-width",
  "\u202eRTL override\u202c",
  "e\u0301\u0302\u0303 combining",
  "'; DROP TABLE orders; --",
  '{"userId":"admin","quantity":1000}',
  'quote " and back\\slash',
  "\ufffe\uffff noncharacters",
  "中文用户",
  " padded ",
  "%00 not a NUL",
  "4242",
];

/** Subs that cannot be buyer ids: refused with 401 before anything is reserved. */
const REFUSED: unknown[] = [
  "a".repeat(257),
  "null\u0000byte",
  "\u0000",
  "line\nbreak",
  "tab\there",
  "bell\u0007",
  "del\u007f",
  "c1\u0085",
  "lone\ud800",
  "\udfff",
  4242,
  ["a", "b"],
  { sub: "nested" },
  true,
  "   ",
];

async function tokenFor(sub: unknown): Promise<string> {
  const key = createSecretKey(Buffer.from(localJwtSettings({}).secret, "utf8"));
  return new SignJWT({ sub } as never)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .setIssuedAt()
    .setExpirationTime("1h")
    .sign(key);
}

describe("fault 9: hostile buyers", () => {
  it("every 202 is exactly one row, no ordinary buyer's order is lost, no 5xx, odd ids refused with 401 and nothing reserved for them", async () => {
    const started = Date.now();
    const rig = await startRig(teardown, {
      services: { queues: { visibilityTimeoutSeconds: 1, maxReceiveCount: 3 } },
    });
    const pids = rig.pids();
    const consumer = rig.startConsumer(rig.app.consume, { batchSize: 10, batchingWindowMs: 20 });
    const saleId = await createSale(rig.app.url, {
      stock: ORDINARY + ODD_BUT_VALID.length,
      perUserLimit: 1,
    });

    const ordinary = await makeBuyers(ORDINARY, "ordinary");
    const odd: Buyer[] = await Promise.all(
      [...ODD_BUT_VALID, ...REFUSED].map(async (sub, i) => ({
        user: typeof sub === "string" ? sub : `non-string-${i}`,
        token: await tokenFor(sub),
        idempotencyKey: randomUUID(),
      })),
    );
    // Interleaved, so the odd ones share batches with ordinary orders.
    const buyers: Buyer[] = [];
    const step = Math.floor(ORDINARY / odd.length);
    ordinary.forEach((buyer, i) => {
      buyers.push(buyer);
      if (i % step === 0 && odd.length > 0) buyers.push(odd.shift() as Buyer);
    });
    buyers.push(...odd);

    const outcomes = await startLoad({ url: rig.app.url, saleId, buyers, concurrency: 16 }).done;
    const acceptedCount = accepted(outcomes).length;
    await waitFor(
      "every accepted order persisted",
      async () => (await rig.rowCount(saleId)) >= acceptedCount,
      30_000,
    );
    await drained(rig.sqs, rig.services.sqs?.ordersQueueUrl ?? "");
    await consumer.source.stop();
    const books = await readBooks(rig.redis, rig.db, saleId);
    const violations = promiseViolations(books, outcomes);
    const byUser = new Map(outcomes.map((o) => [o.user, o]));
    const dlq = (await rig.depths()).dlq;

    recordFault({
      fault: "9 hostile buyers (odd but validly signed identities)",
      requests: outcomes.length,
      accepted: acceptedCount,
      statuses: statusCounts(outcomes),
      rows: books.rows.length,
      released: books.byState.released,
      dlq,
      repaired: 0,
      durationMs: Date.now() - started,
      oddAccepted: ODD_BUT_VALID.filter((sub) => byUser.get(sub)?.status === 202).length,
      oddRefused: outcomes.filter((o) => o.status === 401).length,
      consumerRecordFailures: consumer.stats.failedRecords,
      violations,
    });

    expect(violations).toEqual([]);
    expect(outcomes.filter((o) => o.status === 0 || o.status >= 500)).toEqual([]);
    // Every ordinary buyer and every odd-but-valid id bought, and is a row under its exact id.
    expect(acceptedCount).toBe(ORDINARY + ODD_BUT_VALID.length);
    const rowUsers = new Set(books.rows.map((r) => r.userId));
    for (const sub of ODD_BUT_VALID) expect(rowUsers.has(sub), JSON.stringify(sub)).toBe(true);
    for (const buyer of ordinary) expect(rowUsers.has(buyer.user)).toBe(true);
    // The rest were refused as identities, before any reservation.
    expect(outcomes.filter((o) => o.status === 401)).toHaveLength(REFUSED.length);
    expect(books.orders).toHaveLength(acceptedCount);
    expect(consumer.stats.failedRecords).toBe(0);
    expect(dlq).toBe(0);

    await teardown.run();
    expect(deadPids(pids)).toBe(true);
  });
});
