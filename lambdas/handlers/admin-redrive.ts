import { createSqsClient } from "../adapters/sqs/client.js";
import { redrive } from "../adapters/sqs/redrive.js";
import { ServiceUnavailableError } from "../domain/errors.js";
import { redriveRequestSchema } from "../http/admin-schemas.js";
import { httpHandler } from "../http/http-handler.js";
import { requireAdmin, validBody } from "../http/request.js";
import { json } from "../http/responses.js";
import { readQueuesConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";

const queues = readQueuesConfig();
const sqs = createSqsClient(queues.sqs);

/**
 * POST /admin/redrive (admin): moves up to `max` (at most 200) DLQ messages
 * back to the orders queue. Bounded so one call fits in an API Gateway
 * timeout; call again while `moved` equals `max`. `npm run redrive` has no
 * such bound.
 */
export const handler = httpHandler(async (event) => {
  const adminId = requireAdmin(event);
  const { max } = validBody(event, redriveRequestSchema);
  const result = await redrive(sqs, queues.deadLetterQueueUrl, queues.ordersQueueUrl, {
    max,
  }).catch((error: unknown) => {
    logger.error("redrive could not reach SQS", {
      error: error instanceof Error ? error.message : String(error),
    });
    throw new ServiceUnavailableError("Redrive could not reach the queues; retry", 5);
  });
  logger.info("redrive", { adminId, ...result });
  return json(200, result);
});
