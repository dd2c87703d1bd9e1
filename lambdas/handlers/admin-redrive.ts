import * as z from "zod";
import { redrive } from "../domain/redrive.js";
import { httpHandler } from "../http/http-handler.js";
import { requireScope, validBody } from "../http/request.js";
import { json } from "../http/responses.js";
import { readQueuesConfig } from "../platform/config.js";
import { logger } from "../platform/logger.js";
import { createSqsClient } from "../platform/sqs-client.js";

const queues = readQueuesConfig();
const sqs = createSqsClient(queues.sqs);

const requestSchema = z
  .object({ max: z.number().int().min(1).max(10_000).default(1_000) })
  .optional()
  .transform((body) => body ?? { max: 1_000 });

/**
 * POST /admin/redrive (admin): moves up to `max` DLQ messages back to the
 * orders queue. Bounded so one call fits in an API Gateway timeout; call
 * again while `moved` equals `max`.
 */
export const handler = httpHandler(async (event) => {
  const adminId = requireScope(event, "admin");
  const { max } = validBody(event, requestSchema);
  const result = await redrive(sqs, queues.deadLetterQueueUrl, queues.ordersQueueUrl, { max });
  logger.info("redrive", { adminId, ...result });
  return json(200, result);
});
