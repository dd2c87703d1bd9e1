import { createRedisClient } from "../adapters/redis/client.js";
import { RedisHoldLedger } from "../adapters/redis/hold-ledger.js";
import { createSqsClient } from "../adapters/sqs/client.js";
import { SqsOrderEventQueue } from "../adapters/sqs/order-events.js";
import { type SweepReport, sweepHolds } from "../domain/expire-holds.js";
import { readExpireHoldsConfig } from "../platform/config.js";
import { functionChain } from "../platform/function-chain.js";
import { logger } from "../platform/logger.js";
import { traced } from "../platform/tracing.js";

const config = readExpireHoldsConfig();
const deps = {
  holds: traced("Redis", new RedisHoldLedger(await createRedisClient(config.redis))),
  events: new SqsOrderEventQueue(createSqsClient(config.sqs), config.ordersQueueUrl),
  now: Date.now,
  logger,
};

/**
 * The hold sweeper, on a schedule (EventBridge Scheduler, once a minute, in
 * AWS; a timer in the local stack): expires the holds no buyer's reserve has
 * expired yet and sends the holds' history to the orders queue. Its report
 * (lagMs: how late the oldest expiry was) is logged for the expiry-lag alarm.
 */
export const handler = functionChain<unknown, SweepReport>().handler(async () => {
  const report = await sweepHolds(deps);
  // In AWS every run is logged at info: the expiry-lag metric filter reads lagMs from it.
  // Locally an idle run (every 2 s) logs at debug only, so the console stays readable.
  const busy = report.expired > 0 || report.delivered > 0 || report.failures > 0;
  if (busy || process.env.AWS_LAMBDA_FUNCTION_NAME !== undefined)
    logger.info("hold sweep", { ...report });
  else logger.debug("hold sweep", { ...report });
  return report;
});
