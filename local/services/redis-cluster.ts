import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { Redis } from "ioredis";
import { waitUntil } from "./processes.js";
import { createRedisService, type RedisService } from "./redis-server.js";
import { requireBinary } from "./system-packages.js";

/**
 * A small Redis Cluster (three masters, no replicas) of real redis-server
 * processes on free ports: what ElastiCache runs in cluster mode, for tests
 * that prove the key layout and the scripts work across slots and nodes.
 */
export interface RedisClusterService {
  readonly nodes: RedisService[];
  /** Any node works as a seed; the client discovers the rest. */
  readonly url: string;
  stop(): Promise<void>;
}

export async function startRedisCluster(dir: string, masters = 3): Promise<RedisClusterService> {
  const nodes: RedisService[] = [];
  for (let i = 0; i < masters; i++) {
    nodes.push(await createRedisService({ dir: join(dir, `node-${i}`), cluster: true }));
  }
  const stop = async () => {
    await Promise.allSettled(nodes.map((node) => node.stop()));
  };
  try {
    await Promise.all(nodes.map((node) => node.start()));
    await promisify(execFile)(requireBinary("redis-cli"), [
      "--cluster",
      "create",
      ...nodes.map((node) => `127.0.0.1:${node.port}`),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    await waitUntil("redis cluster state ok", () => clusterOk(nodes), 15_000);
    return { nodes, url: `redis://127.0.0.1:${nodes[0]?.port}`, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function clusterOk(nodes: RedisService[]): Promise<boolean> {
  const states = await Promise.all(
    nodes.map(async (node) => {
      const client = new Redis({
        port: node.port,
        host: "127.0.0.1",
        lazyConnect: true,
        maxRetriesPerRequest: 0,
      });
      client.on("error", () => {});
      try {
        await client.connect();
        return /cluster_state:ok/.test(String(await client.call("CLUSTER", "INFO")));
      } finally {
        client.disconnect();
      }
    }),
  );
  return states.every(Boolean);
}
