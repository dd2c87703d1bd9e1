import { Duration, type RemovalPolicy, Validations } from "aws-cdk-lib";
import { Queue, QueueEncryption } from "aws-cdk-lib/aws-sqs";
import { Construct } from "constructs";
import { queueVisibilityTimeoutSeconds } from "../config.js";

export interface OrdersQueueProps {
  /** The consumer's timeout; the visibility timeout is derived from it. */
  consumerTimeoutSeconds: number;
  /** The event source's batching window, which also holds messages invisible. */
  batchingWindowSeconds: number;
  /** Receives before a message is moved to the DLQ. */
  maxReceiveCount: number;
  /** Of both queues (RETAIN in prod: accepted orders may still be in them). */
  removalPolicy?: RemovalPolicy;
}

/**
 * The orders queue (accepted buys waiting to be written to Postgres) and its
 * DLQ. The visibility timeout follows AWS's rule for Lambda event sources: at
 * least six times the function timeout, plus the batching window, so a batch
 * that is retried by the poller is not delivered twice in parallel.
 */
export class OrdersQueue extends Construct {
  readonly queue: Queue;
  readonly deadLetterQueue: Queue;

  constructor(scope: Construct, id: string, props: OrdersQueueProps) {
    super(scope, id);

    this.deadLetterQueue = new Queue(this, "DeadLetterQueue", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
      removalPolicy: props.removalPolicy,
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: "AwsSolutions-SQS3",
      reason:
        "This is the dead-letter queue of the orders queue; a DLQ of a DLQ would only hide the messages further. It keeps them 14 days (the maximum) and an alarm fires on the first one.",
    });

    this.queue = new Queue(this, "Queue", {
      encryption: QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      visibilityTimeout: OrdersQueue.visibilityTimeout(props),
      retentionPeriod: Duration.days(4),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount },
      removalPolicy: props.removalPolicy,
    });
  }

  static visibilityTimeout(props: OrdersQueueProps): Duration {
    // The same rule the local stack's queue uses (lib/config.ts).
    return Duration.seconds(
      queueVisibilityTimeoutSeconds({
        consumerTimeoutSeconds: props.consumerTimeoutSeconds,
        consumerBatchingWindowSeconds: props.batchingWindowSeconds,
      }),
    );
  }
}
