import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { CreateQueueCommand, GetQueueAttributesCommand, SQSClient } from "@aws-sdk/client-sqs";
import { freePort, spawnLogged, stopProcess, tcpAccepts, waitUntil } from "./processes.js";

/**
 * fauxqs, an SQS server speaking the JSON protocol of the current AWS SDK,
 * run as a child process. It keeps queues in memory: a stop loses them, and
 * start() creates them again.
 */

export interface QueueSettings {
  /** Receives before a message moves to the DLQ. */
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
}

export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  maxReceiveCount: 5,
  visibilityTimeoutSeconds: 30,
};

export interface SqsService {
  readonly name: "sqs";
  readonly port: number;
  readonly endpoint: string;
  readonly ordersQueueUrl: string;
  readonly deadLetterQueueUrl: string;
  readonly pid: number | undefined;
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Credentials the local server accepts; never real ones. */
export const LOCAL_AWS_ENV = {
  AWS_REGION: "us-east-1",
  // The SDK warns on Node 20; Lambda runs Node 22, so locally it is noise.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true",
  AWS_ACCESS_KEY_ID: "local",
  AWS_SECRET_ACCESS_KEY: "local",
} as const;

export function localSqsClient(endpoint: string): SQSClient {
  return new SQSClient({
    region: LOCAL_AWS_ENV.AWS_REGION,
    endpoint,
    useQueueUrlAsEndpoint: false,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
  });
}

/**
 * Our launcher for fauxqs (its own CLI listens on 0.0.0.0; this one on 127.0.0.1 only).
 * Plain .mjs next to this file, run by Node without a TypeScript loader.
 */
const FAUXQS_LAUNCHER = join(import.meta.dirname, "fauxqs-launcher.mjs");

export async function createSqsService(options: {
  dir: string;
  port?: number;
  queues?: Partial<QueueSettings>;
}): Promise<SqsService> {
  const port = options.port ?? (await freePort());
  const settings: QueueSettings = {
    maxReceiveCount: options.queues?.maxReceiveCount ?? DEFAULT_QUEUE_SETTINGS.maxReceiveCount,
    visibilityTimeoutSeconds:
      options.queues?.visibilityTimeoutSeconds ?? DEFAULT_QUEUE_SETTINGS.visibilityTimeoutSeconds,
  };
  const endpoint = `http://127.0.0.1:${port}`;
  mkdirSync(options.dir, { recursive: true });
  let child: ChildProcess | undefined;
  let urls = { orders: "", dlq: "" };

  return {
    name: "sqs",
    port,
    endpoint,
    get ordersQueueUrl() {
      return urls.orders;
    },
    get deadLetterQueueUrl() {
      return urls.dlq;
    },
    get pid() {
      return child?.pid;
    },
    async start() {
      child = spawnLogged(process.execPath, [FAUXQS_LAUNCHER], join(options.dir, "sqs.log"), {
        env: { ...process.env, FAUXQS_PORT: String(port), FAUXQS_LOGGER: "false" },
        parentDeathSignal: "SIGTERM",
      });
      const proc = child;
      await waitUntil(`SQS server on port ${port}`, () => tcpAccepts(port), 10_000, proc);
      urls = await createOrderQueues(endpoint, settings);
    },
    async stop(signal = "SIGTERM") {
      if (child) await stopProcess(child, signal);
      child = undefined;
    },
  };
}

/** The orders queue and its DLQ, with the same redrive policy the CDK stack sets. */
export async function createOrderQueues(
  endpoint: string,
  settings: QueueSettings,
): Promise<{ orders: string; dlq: string }> {
  const sqs = localSqsClient(endpoint);
  try {
    const dlq = await sqs.send(
      new CreateQueueCommand({
        QueueName: "orders-dlq",
        Attributes: { MessageRetentionPeriod: String(14 * 24 * 3600) },
      }),
    );
    const dlqUrl = dlq.QueueUrl as string;
    const dlqAttributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }),
    );
    const orders = await sqs.send(
      new CreateQueueCommand({
        QueueName: "orders",
        Attributes: {
          VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
          RedrivePolicy: JSON.stringify({
            deadLetterTargetArn: dlqAttributes.Attributes?.QueueArn,
            maxReceiveCount: settings.maxReceiveCount,
          }),
        },
      }),
    );
    return { orders: orders.QueueUrl as string, dlq: dlqUrl };
  } finally {
    sqs.destroy();
  }
}
