import { randomUUID } from "node:crypto";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { Redis } from "ioredis";
import { rateKey, saleKeys } from "../../lambdas/adapters/redis/keys.js";
import { defineScripts } from "../../lambdas/adapters/redis/scripts.js";
import { createSqsClient, SqsOrderQueue } from "../../lambdas/adapters/sqs/client.js";
import { readSqsConfig } from "../../lambdas/platform/config.js";

/**
 * The reference ceilings of `npm run bench`: the least a buy can cost on this
 * machine. A bare node:http server that, per request, drains the body and
 * makes one EVALSHA of lua/reserve-8.lua (the buy path's own script, same
 * keys, same arguments) through ioredis with auto-pipelining, as the buy
 * handler's client does; then answers 202 or 409. No token check, no event,
 * no middleware. With REFERENCE_SEND=1 (reference b) an accepted buy also
 * makes one SQS SendMessage with the buy handler's own client settings
 * (ORDERS_QUEUE_URL, SQS_ENDPOINT), as the buy path must. Runs in its own
 * process (forked by the bench).
 *
 *   REDIS_URL=... SALE_ID=... tsx scripts/bench/reference-server.ts
 *
 * Sends { type: "ready", url, pid } over IPC (or prints it) once listening.
 */
const redisUrl = process.env.REDIS_URL;
const saleId = process.env.SALE_ID;
if (!redisUrl || !saleId) throw new Error("REDIS_URL and SALE_ID are required");

const redis = defineScripts(new Redis(redisUrl, { enableAutoPipelining: true, noDelay: true }));
const keys = saleKeys(saleId);
const send = process.env.REFERENCE_SEND === "1";
const queue = send
  ? new SqsOrderQueue(createSqsClient(readSqsConfig()), process.env.ORDERS_QUEUE_URL ?? "")
  : undefined;
const USERS = 10_000;
let counter = 0;

const server = createServer((request, response) => {
  const idempotencyKey = request.headers["idempotency-key"];
  request.resume();
  request.on("end", () => {
    counter++;
    const orderId = `${saleId}.${randomUUID()}`;
    const userId = `ref-${counter % USERS}`;
    const nowMs = Date.now();
    redis
      .reserve(
        keys.sale,
        keys.buyers,
        keys.orders,
        keys.idempotency,
        rateKey(saleId, userId),
        keys.stats,
        keys.holds,
        keys.events,
        userId,
        1,
        nowMs,
        orderId,
        typeof idempotencyKey === "string" ? idempotencyKey : "",
        "",
        "",
      )
      .then(async ([code, id]) => {
        if (queue && code === 1) {
          await queue.send({
            orderId: id,
            saleId,
            userId,
            quantity: 1,
            reservedAtMs: nowMs,
          });
        }
        return [code, id] as const;
      })
      .then(([code, id]) => {
        const accepted = code === 1 || code === 2;
        const body = accepted
          ? JSON.stringify({ orderId: id, status: "pending" })
          : JSON.stringify({ error: { code: String(code), message: "refused" } });
        response.writeHead(accepted ? 202 : 409, { "content-type": "application/json" });
        response.end(body);
      })
      .catch(() => {
        response.writeHead(503, { "content-type": "application/json" });
        response.end('{"error":{"code":"SERVICE_UNAVAILABLE"}}');
      });
  });
});
server.keepAliveTimeout = 65_000;

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  const ready = { type: "ready", url: `http://127.0.0.1:${port}`, pid: process.pid };
  if (process.send) process.send(ready);
  else process.stdout.write(`${JSON.stringify(ready)}\n`);
});

const stop = () => {
  server.close();
  server.closeAllConnections();
  redis.disconnect();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
process.on("message", (message: { type?: string }) => {
  if (message?.type === "stop") stop();
});
process.on("disconnect", stop);
