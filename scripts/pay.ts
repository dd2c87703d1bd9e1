import { parseArgs } from "node:util";
import { createRedisClient } from "../lambdas/adapters/redis/client.js";
import { saleKeys } from "../lambdas/adapters/redis/keys.js";
import { orderRecordFrom } from "../lambdas/adapters/redis/sale-store.js";
import { saleIdOfOrder } from "../lambdas/domain/sale.js";
import { readRedisConfig } from "../lambdas/platform/config.js";
import { deliverPayment } from "../local/payments.js";
import { useStackEnvDefaults } from "../local/stack-env.js";

/**
 * `npm run pay -- <orderId>`: pays a held order against the running local
 * stack (`npm start`), as the storefront's Stripe account would: the
 * simulated provider signs a `payment_intent.succeeded` event for the
 * amount due with the local webhook secret and delivers it to
 * POST /payments/webhook.
 *
 *   --amount N --currency X   pay this instead of what is due (to see a refusal)
 *   --url URL                 the API (default: the running stack's, from .local/stack/env.json)
 */
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    amount: { type: "string" },
    currency: { type: "string" },
    url: { type: "string" },
  },
});

process.env.POWERTOOLS_LOG_LEVEL ??= "ERROR";
const orderId = positionals[0];
if (!orderId) {
  process.stderr.write("usage: npm run pay -- <orderId> [--amount N --currency eur]\n");
  process.exit(2);
}
const saleId = saleIdOfOrder(orderId);
if (saleId === null) {
  process.stderr.write(`${orderId} is not an order id (<saleId>.<uuid>)\n`);
  process.exit(2);
}
useStackEnvDefaults();
const apiUrl = values.url ?? process.env.LOCAL_API_URL;
if (!apiUrl) {
  process.stderr.write("no API URL: start the stack with `npm start`, or pass --url\n");
  process.exit(2);
}

const redis = await createRedisClient(readRedisConfig());
try {
  const json = await redis.hget(saleKeys(saleId).orders, orderId);
  const record = json === null ? null : orderRecordFrom(saleId, orderId, json);
  const amount = values.amount !== undefined ? Number(values.amount) : record?.hold?.amount;
  const currency = values.currency ?? record?.hold?.currency;
  if (amount === undefined || currency === undefined) {
    process.stderr.write(
      `order ${orderId} is not held for payment in this stack; pass --amount and --currency to send a payment anyway\n`,
    );
    process.exitCode = 1;
  } else {
    const reply = await deliverPayment(apiUrl, { orderId, amount, currency });
    process.stdout.write(`${JSON.stringify({ status: reply.status, body: reply.body })}\n`);
    process.exitCode = reply.status === 200 ? 0 : 1;
  }
} finally {
  redis.disconnect();
}
