import type { ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { queueVisibilityTimeoutSeconds } from "../../lib/config.js";
import { LOCAL_STACK_SETTINGS } from "../stack-settings.js";
import { freePort, spawnLogged, stopProcess, tcpAccepts, waitUntil } from "./processes.js";

/**
 * fauxqs, an SQS server speaking the JSON protocol of the current AWS SDK,
 * run as a child process. Persistent (as `npm start` and startStack({ durable })
 * run it), it keeps queues and messages in SQLite under its folder, written
 * through on every change: a stop, even a SIGKILL, loses no message, and the next
 * start on the same folder finds them (in-flight ones reappear when their
 * visibility timeout ends, as in SQS). Otherwise (the tests' shared services)
 * it keeps them in memory. start() creates the queues, or updates the
 * attributes of the ones it found, as a deploy of the CDK stack would.
 */

export interface QueueSettings {
  /** Receives before a message moves to the DLQ. */
  maxReceiveCount: number;
  visibilityTimeoutSeconds: number;
}

/** The CDK stack's queue settings (cdk.json, lib/config.ts): visibility 6 × consumer timeout + window. */
export const DEFAULT_QUEUE_SETTINGS: QueueSettings = {
  maxReceiveCount: LOCAL_STACK_SETTINGS.maxReceiveCount,
  visibilityTimeoutSeconds: queueVisibilityTimeoutSeconds(LOCAL_STACK_SETTINGS),
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
  // Harmless on Node 24; kept for a run on an older system Node (the SDK warns there).
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
  /** Keep queues and messages in SQLite under dir (survive a stop); default in memory. */
  persistent?: boolean;
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
        env: {
          ...process.env,
          FAUXQS_PORT: String(port),
          FAUXQS_LOGGER: "false",
          FAUXQS_DATA_DIR: options.persistent ? join(options.dir, "data") : "",
        },
        parentDeathSignal: "SIGTERM",
      });
      const proc = child;
      // A child that dies is seen at once; the deadline is only for a slow start (a loaded
      // machine opening old data took more than 10 s), so it is generous.
      await waitUntil(`SQS server on port ${port}`, () => tcpAccepts(port), 30_000, proc);
      urls = await createOrderQueues(endpoint, settings);
    },
    async stop(signal = "SIGTERM") {
      if (child) await stopProcess(child, signal);
      child = undefined;
    },
  };
}

/**
 * The orders queue and its DLQ, with the same redrive policy the CDK stack sets.
 * A queue kept from an earlier run (persistent) keeps its messages and gets
 * this run's attributes, as a CloudFormation update would set them.
 */
export async function createOrderQueues(
  endpoint: string,
  settings: QueueSettings,
): Promise<{ orders: string; dlq: string }> {
  const sqs = localSqsClient(endpoint);
  const ensure = async (name: string, attributes: Record<string, string>): Promise<string> => {
    try {
      const { QueueUrl } = await sqs.send(new GetQueueUrlCommand({ QueueName: name }));
      await sqs.send(new SetQueueAttributesCommand({ QueueUrl, Attributes: attributes }));
      // A kept queue's URL names the port of the run that created it; fauxqs finds
      // queues by region and name whatever the port, so show this run's.
      const url = new URL(QueueUrl as string);
      url.port = new URL(endpoint).port;
      return url.href;
    } catch (error) {
      const missing =
        error instanceof QueueDoesNotExist ||
        (error as { name?: string }).name === "AWS.SimpleQueueService.NonExistentQueue";
      if (!missing) throw error;
      const created = await sqs.send(
        new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
      );
      return created.QueueUrl as string;
    }
  };
  try {
    const dlqUrl = await ensure("orders-dlq", {
      MessageRetentionPeriod: String(14 * 24 * 3600),
    });
    const dlqAttributes = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: dlqUrl, AttributeNames: ["QueueArn"] }),
    );
    const ordersUrl = await ensure("orders", {
      VisibilityTimeout: String(settings.visibilityTimeoutSeconds),
      // The CDK stack's orders queue keeps messages 4 days.
      MessageRetentionPeriod: String(4 * 24 * 3600),
      RedrivePolicy: JSON.stringify({
        deadLetterTargetArn: dlqAttributes.Attributes?.QueueArn,
        maxReceiveCount: settings.maxReceiveCount,
      }),
    });
    return { orders: ordersUrl, dlq: dlqUrl };
  } finally {
    sqs.destroy();
  }
}
