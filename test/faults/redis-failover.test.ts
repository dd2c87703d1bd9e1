import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterEach, describe, expect, it } from "vitest";
import { createRedisService, type RedisService } from "../../local/services/redis-server.js";
import { startTcpProxy, type TcpProxy } from "../../local/services/tcp-proxy.js";
import {
  accepted,
  createSale,
  deadPids,
  drained,
  makeBuyers,
  promiseViolations,
  quietRedis,
  readBooks,
  recordFault,
  startLoad,
  startRig,
  statusCounts,
  Teardown,
  waitFor,
  whenAnswered,
} from "./support/harness.js";

/**
 * Fault 8: ElastiCache fails over in the middle of a sale. The primary is
 * demoted to a replica and its replica promoted (Redis' coordinated FAILOVER,
 * what a planned failover or maintenance does: no acknowledged write is lost),
 * and the endpoint's name now points at the new primary (the TCP proxy the
 * functions connect through is retargeted, as the DNS record is).
 *
 * Connections the functions already hold still reach the demoted node, which
 * answers READONLY to every write. Before the Redis client reconnected on
 * READONLY, warm containers kept those sockets and every buy failed until
 * they recycled; now buys must resume within seconds, with nothing oversold
 * and every accepted order a row.
 */

const teardown = new Teardown();
afterEach(() => teardown.run());

const STOCK = 300;
const BUYERS = 420;
const RECOVERY_BOUND_MS = 5_000;

async function replicationUp(service: RedisService): Promise<boolean> {
  const client = quietRedis(service.url);
  try {
    return /master_link_status:up/.test(await client.info("replication"));
  } finally {
    client.disconnect();
  }
}

describe("fault 8: Redis primary demoted mid-sale (failover)", () => {
  it("resumes buys within seconds on the promoted replica; nothing oversold, every accepted buy a row", async () => {
    const started = Date.now();
    let proxy: TcpProxy | undefined;
    const rig = await startRig(teardown, {
      services: { queues: { visibilityTimeoutSeconds: 1, maxReceiveCount: 10 } },
      beforeApp: async (services) => {
        proxy = await startTcpProxy({ targetPort: services.redis?.port ?? 0 });
        teardown.add(() => proxy?.stop() ?? Promise.resolve());
      },
      env: () => ({ REDIS_URL: `redis://127.0.0.1:${proxy?.port}` }),
    });
    const primary = rig.services.redis;
    if (!primary || !proxy) throw new Error("redis or the proxy did not start");

    const replicaDir = mkdtempSync(join(tmpdir(), "flash-sale-replica-"));
    teardown.add(async () => rmSync(replicaDir, { recursive: true, force: true }));
    const replica = await createRedisService({ dir: replicaDir });
    await replica.start();
    teardown.add(() => replica.stop());
    const admin = quietRedis(replica.url);
    teardown.add(async () => admin.disconnect());
    await admin.replicaof("127.0.0.1", primary.port);
    await waitFor("replica in sync", () => replicationUp(replica), 10_000, 50);

    const consumer = rig.startConsumer();
    const saleId = await createSale(rig.app.url, { stock: STOCK });
    const load = startLoad({
      url: rig.app.url,
      saleId,
      buyers: await makeBuyers(BUYERS),
      concurrency: 16,
      workerIntervalMs: 60,
    });
    await whenAnswered(load, 150);

    const failoverAt = Date.now();
    const demoted = quietRedis(primary.url);
    teardown.add(async () => demoted.disconnect());
    await demoted.call("FAILOVER", "TO", "127.0.0.1", String(replica.port), "TIMEOUT", "5000");
    await waitFor(
      "replica promoted",
      async () => /role:master/.test(await admin.info("replication")),
      10_000,
      20,
    );
    proxy.retarget(replica.port);
    const promotedAt = Date.now();

    const outcomes = await load.done;
    const firstAcceptedAfter = outcomes
      .filter((o) => o.status === 202 && o.sentAt >= promotedAt)
      .reduce((min, o) => Math.min(min, o.sentAt + o.ms), Number.POSITIVE_INFINITY);
    const failedAfter = outcomes.filter((o) => o.status >= 500 && o.sentAt >= failoverAt);
    const acceptedCount = accepted(outcomes).length;

    await waitFor(
      "every accepted order persisted",
      async () => (await rig.rowCount(saleId)) >= acceptedCount,
      30_000,
    );
    await drained(rig.sqs, rig.services.sqs?.ordersQueueUrl ?? "");
    await consumer.source.stop();
    const books = await readBooks(admin, rig.db, saleId);
    const violations = promiseViolations(books, outcomes);

    recordFault({
      fault: "8 Redis failover (primary demoted mid-sale)",
      requests: outcomes.length,
      accepted: acceptedCount,
      statuses: statusCounts(outcomes),
      rows: books.rows.length,
      released: books.byState.released,
      dlq: (await rig.depths()).dlq,
      repaired: 0,
      durationMs: Date.now() - started,
      failoverMs: promotedAt - failoverAt,
      recoveredMsAfterPromotion: firstAcceptedAfter - promotedAt,
      failedAfterFailover: failedAfter.length,
      violations,
    });

    expect(violations).toEqual([]);
    expect(books.sold).toBe(STOCK);
    expect(acceptedCount).toBe(STOCK);
    // Buys were accepted again soon after the promotion, on the new primary...
    expect(firstAcceptedAfter - promotedAt).toBeLessThan(RECOVERY_BOUND_MS);
    // ...and nothing kept failing: the answers after the failover are mostly sales.
    expect(failedAfter.length).toBeLessThan(acceptedCount);
    // The sale really moved: the demoted node is a replica of the promoted one.
    expect(await demoted.info("replication")).toMatch(/role:slave/);
    await sleep(0);

    const pids = [...rig.pids(), replica.pid];
    await teardown.run();
    expect(deadPids(pids)).toBe(true);
  });
});
