import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { Order } from "../../domain/order.js";
import { encodeOrderMessage, messageOf } from "../../domain/order-message.js";
import type { OrderQueue } from "../../domain/ports.js";
import type { SqsConfig } from "../../platform/config.js";

/**
 * An SQS client with keep-alive sockets and hard deadlines. The SDK's default
 * handler has no request timeout, so a black-holed endpoint would hang every
 * buy until the Lambda timed out; here a send fails within
 * maxAttempts × (connect + request timeout) and the reservation is released.
 * Note `throwOnRequestTimeout`: without it, current @smithy/node-http-handler
 * only logs a warning when requestTimeout passes and keeps waiting.
 */
export function createSqsClient(config: SqsConfig): SQSClient {
  const agentOptions = { keepAlive: true, maxSockets: 256 };
  return new SQSClient({
    region: config.region,
    endpoint: config.endpoint,
    // Off AWS the queue URL's host (e.g. sqs.us-east-1.localhost) may not resolve;
    // send to the configured endpoint and let the server route by QueueUrl.
    useQueueUrlAsEndpoint: config.endpoint === undefined,
    maxAttempts: config.maxAttempts,
    requestHandler: new NodeHttpHandler({
      connectionTimeout: config.connectTimeoutMs,
      requestTimeout: config.requestTimeoutMs,
      throwOnRequestTimeout: true,
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
    }),
  });
}

export class SqsOrderQueue implements OrderQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly queueUrl: string,
  ) {}

  async send(order: Order): Promise<void> {
    await this.sqs.send(
      new SendMessageCommand({
        QueueUrl: this.queueUrl,
        MessageBody: encodeOrderMessage(messageOf(order)),
      }),
    );
  }
}
