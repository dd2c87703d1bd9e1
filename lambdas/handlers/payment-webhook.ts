import { StripePaymentProvider } from "../adapters/payments/stripe.js";
import { createRedisClient } from "../adapters/redis/client.js";
import { RedisHoldLedger } from "../adapters/redis/hold-ledger.js";
import { secretString } from "../adapters/secrets.js";
import { receivePayment } from "../domain/payments.js";
import { httpHandler, MAX_WEBHOOK_BODY_BYTES } from "../http/http-handler.js";
import { header, rawBody } from "../http/request.js";
import { json } from "../http/responses.js";
import { readPaymentWebhookConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";
import { traced } from "../platform/tracing.js";

// Cold start: config, the signing secret (Secrets Manager in AWS, once) and the Redis client.
const config = readPaymentWebhookConfig();
const secret = config.webhookSecret ?? (await secretString(config.webhookSecretArn as string));
const deps = {
  provider: new StripePaymentProvider(secret),
  holds: traced("Redis", new RedisHoldLedger(await createRedisClient(config.redis))),
  now: Date.now,
  logger,
};

/**
 * POST /payments/webhook: the payment provider's signed event. Public: its
 * only authority is the signature over the raw body. One Redis call records
 * the payment (or the refund due), then 200; what retrying cannot fix is 4xx.
 */
export const handler = httpHandler(
  async (event) => {
    const receipt = await receivePayment(deps, rawBody(event), header(event, "stripe-signature"));
    return json(200, { received: true, ...receipt });
  },
  { public: true, maxBodyBytes: MAX_WEBHOOK_BODY_BYTES },
);
