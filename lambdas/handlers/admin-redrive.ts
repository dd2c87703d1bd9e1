import * as z from "zod";
import { createSqsClient } from "../adapters/sqs/client.js";
import { redrive } from "../adapters/sqs/redrive.js";
import { ServiceUnavailableError } from "../domain/errors.js";
import { httpHandler } from "../http/http-handler.js";
import { requireScope, validBody } from "../http/request.js";
import { json } from "../http/responses.js";
import { readQueuesConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";

const queues = readQueuesConfig();
const sqs = createSqsClient(queues.sqs);

/**
 * Ten messages per loop, three SQS calls each: 200 messages is ~60 calls,
 * well inside the function's timeout and API Gateway's 30 s limit.
 */
const MAX_PER_CALL = 200;

const requestSchema = z
  .object({ max: z.number().int().min(1).max(MAX_PER_CALL).default(MAX_PER_CALL) })
  .optional()
  .transform((body) => body ?? { max: MAX_PER_CALL });

/**
 * POST /admin/redrive (admin): moves up to `max` (at most 200) DLQ messages
 * back to the orders queue. Bounded so one call fits in an API Gateway
 * timeout; call again while `moved` equals `max`. `npm run redrive` has no
 * such bound.
 */
export const handler = httpHandler(async (event) => {
  const adminId = requireScope(event, "admin");
  const { max } = validBody(event, requestSchema);
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
