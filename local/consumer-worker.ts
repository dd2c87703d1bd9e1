import { localSqsClient } from "./services/sqs-server.js";
import { type SqsLambda, startSqsEventSource } from "./sqs-event-source.js";

/**
 * The consumer of the local stack in a process of its own (forked by
 * stack.ts), as in AWS the consume-orders function runs in its own Lambdas,
 * apart from the ones serving the API: the SQS event source and the handler
 * module, with the stack's environment (the handler reads its configuration
 * from it at cold start) and the event source settings in
 * LOCAL_CONSUMER_SETTINGS (JSON).
 *
 * IPC with the parent:
 *   → { type: "ready" }                        polling
 *   → { type: "batch", processed, failed }     after each batch (the totals so far)
 *   ← { type: "stop" }                         finishes the batches in the handler, exits 0
 * It dies with its parent: when the IPC channel closes (the parent exited, or
 * was killed), it stops polling and exits.
 */

interface ConsumerSettings {
  batchSize?: number;
  batchingWindowMs?: number;
  concurrency?: number;
  timeoutMs?: number;
  waitTimeSeconds?: number;
}

const settings = JSON.parse(process.env.LOCAL_CONSUMER_SETTINGS || "{}") as ConsumerSettings;
const consume = (await import("../lambdas/handlers/consume-orders.js"))
  .handler as unknown as SqsLambda;
const sqs = localSqsClient(process.env.SQS_ENDPOINT ?? "");
const report = (error: unknown) =>
  process.stderr.write(
    `${JSON.stringify({ level: "ERROR", message: "local SQS event source error", function: "consume-orders", error: String(error) })}\n`,
  );
const source = startSqsEventSource({
  sqs,
  queueUrl: process.env.ORDERS_QUEUE_URL ?? "",
  handler: consume,
  ...settings,
  onBatch: () => send({ type: "batch", processed: source.processed, failed: source.failed }),
  onError: report,
});

function send(message: object): void {
  if (process.connected) process.send?.(message);
}

let stopping = false;
async function stop(code: number, graceMs: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  // A batch in the handler finishes and its records are deleted; a stuck one does not hold
  // the exit (its messages come back after the visibility timeout, as after a crash).
  setTimeout(() => process.exit(code), graceMs).unref();
  await source.stop();
  sqs.destroy();
  process.exit(code);
}

process.on("message", (message: { type?: string }) => {
  if (message.type === "stop") void stop(0, (settings.timeoutMs ?? 30_000) + 1_000);
});
// The parent is gone (exited or killed), and the services with it: never outlive it.
process.on("disconnect", () => void stop(0, 2_000));
process.on("SIGTERM", () => void stop(0, 2_000));
process.on("SIGINT", () => {}); // a Ctrl-C reaches the whole group: the parent says when to stop
send({ type: "ready" });
