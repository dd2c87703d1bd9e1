import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { join } from "node:path";
import type { Cluster } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createRedisClient } from "../../lambdas/adapters/redis/client.js";
import { homeShard, saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { RedisSaleStore } from "../../lambdas/adapters/redis/sale-store.js";
import { newOrderId } from "../../lambdas/domain/sale.js";
import { readRedisConfig } from "../../lambdas/platform/config.js";
import { RUNS_DIR } from "../../local/services/index.js";
import { type RedisClusterService, startRedisCluster } from "../../local/services/redis-cluster.js";
import { uniqueSaleId } from "../support/fixtures.js";

// A real three-master Redis Cluster, as ElastiCache runs in cluster mode.
let cluster: RedisClusterService;
let client: Cluster;
let reservations: RedisSaleStore;
const dir = join(RUNS_DIR, `cluster-${process.pid}-${Date.now()}`);
const NOW = Date.now();

beforeAll(async () => {
  cluster = await startRedisCluster(dir);
  client = (await createRedisClient(
    readRedisConfig({ REDIS_URL: cluster.url, REDIS_CLUSTER: "true" }),
  )) as Cluster;
  reservations = new RedisSaleStore(client);
});
afterAll(async () => {
  client?.disconnect();
  await cluster?.stop();
  rmSync(dir, { recursive: true, force: true });
});

const buy = (saleId: string, userId: string) =>
  reservations.reserve({
    saleId,
    userId,
    quantity: 1,
    nowMs: NOW,
    orderId: newOrderId(saleId, randomUUID()),
    idempotencyKey: undefined,
  });

describe("on a Redis Cluster", () => {
  it("runs an unsharded sale: every key of the sale in one slot, one node", async () => {
    const saleId = uniqueSaleId("cl");
    await reservations.upsertSale(
      { id: saleId, name: "c", stock: 5, perUserLimit: 1, startsAtMs: 0, endsAtMs: 0 },
      NOW,
    );
    const outcomes = await Promise.all(Array.from({ length: 20 }, (_, i) => buy(saleId, `u${i}`)));
    expect(outcomes.filter((o) => o.kind === "accepted")).toHaveLength(5);
    const accepted = outcomes.find((o) => o.kind === "accepted");
    if (accepted?.kind !== "accepted") throw new Error("expected an accepted buy");
    const owner = `u${outcomes.indexOf(accepted)}`;
    expect(await reservations.release(saleId, accepted.orderId, owner)).toBe("released");
    expect(await reservations.getSale(saleId, NOW)).toMatchObject({ remaining: 1, sold: 4 });
  });

  it("spreads a sharded sale over the nodes and still sells exactly the stock with exact limits", async () => {
    const saleId = uniqueSaleId("cl");
    const shards = 6;
    await reservations.upsertSale(
      {
        id: saleId,
        name: "hot",
        stock: 120,
        perUserLimit: 2,
        startsAtMs: 0,
        endsAtMs: 0,
        rateLimit: { burst: 0, perSecond: 1 },
        shards,
      },
      NOW,
    );
    const nodesOfShards = new Set(
      await Promise.all(
        Array.from({ length: shards }, async (_, s) => {
          const slot = Number(await client.call("CLUSTER", "KEYSLOT", saleKeys(saleId, s).sale));
          const owner = (client.slots[slot] ?? [])[0];
          return owner;
        }),
      ),
    );
    expect(nodesOfShards.size).toBeGreaterThan(1);

    const outcomes = await Promise.all(
      Array.from({ length: 3_000 }, (_, i) => buy(saleId, `user-${Math.floor(i / 6)}`)),
    );
    expect(outcomes.filter((o) => o.kind === "accepted")).toHaveLength(120);
    expect(await reservations.getSale(saleId, NOW)).toMatchObject({
      stock: 120,
      remaining: 0,
      sold: 120,
      status: "sold_out",
    });

    const held = new Map<string, number>();
    for (let s = 0; s < shards; s++) {
      for (const [user, units] of Object.entries(
        await client.hgetall(saleKeys(saleId, s).buyers),
      )) {
        expect(homeShard(user, shards)).toBe(s);
        held.set(user, (held.get(user) ?? 0) + Number(units));
      }
    }
    expect([...held.values()].reduce((a, b) => a + b, 0)).toBe(120);
    expect(Math.max(...held.values())).toBeLessThanOrEqual(2);
    expect(await reservations.listOrders(saleId)).toHaveLength(120);
  });
});
