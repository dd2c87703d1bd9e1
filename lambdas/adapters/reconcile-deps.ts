import type { SQSClient } from "@aws-sdk/client-sqs";
import type pg from "pg";
import type { ReconcileDeps } from "../domain/reconcile.js";
import { traced } from "../platform/tracing.js";
import { PostgresOrderRows } from "./postgres/order-rows.js";
import { RedisHoldLedger } from "./redis/hold-ledger.js";
import { RedisSaleStore } from "./redis/sale-store.js";
import type { RedisClient } from "./redis/scripts.js";
import { sqsQueueDepths } from "./sqs/queue-depths.js";

/**
 * Reconcile's ports over the real stores: the one wiring the admin route, the
 * ops commands, the demo and the fault harness share. Each port traced in
 * AWS (lambdas/platform/tracing.ts), a pass-through elsewhere.
 */
export function reconcileDeps(stores: {
  redis: RedisClient;
  db: pg.Pool;
  sqs: SQSClient;
  queues: { ordersQueueUrl: string; deadLetterQueueUrl: string };
}): ReconcileDeps {
  return {
    reservations: traced("Redis", new RedisSaleStore(stores.redis)),
    payments: traced("Redis", new RedisHoldLedger(stores.redis)),
    orderRows: traced("Postgres", new PostgresOrderRows(stores.db)),
    now: Date.now,
    queueDepths: sqsQueueDepths(stores.sqs, stores.queues),
  };
}
