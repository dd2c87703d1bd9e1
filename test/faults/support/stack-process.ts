import { parseArgs } from "node:util";
import { startStack } from "../../../local/stack.js";

/**
 * The whole local stack (services, local API Gateway, consumer) in a process
 * of its own, so a fault test can SIGKILL all of it at once and start it
 * again on the same data. Prints one JSON line when ready:
 * { url, env, pids: { node, redis, postgres, sqs } }.
 *
 *   node --import tsx test/faults/support/stack-process.ts --dir <data dir>
 */
const { values } = parseArgs({ options: { dir: { type: "string" } } });
if (!values.dir) {
  process.stderr.write("usage: stack-process.ts --dir <data dir>\n");
  process.exit(2);
}

const stack = await startStack({
  dir: values.dir,
  durable: true,
  port: 0,
  visibilityTimeoutSeconds: 5,
  maxReceiveCount: 5,
  // Fault 6 shows what the manual reconcile finds after a power loss: the
  // scheduled repair (which would finish the same orders) stays off.
  repairIntervalMs: 0,
  consumer: { batchSize: 10, batchingWindowMs: 50, concurrency: 2 },
});
const { services } = stack;
process.stdout.write(
  `${JSON.stringify({
    url: stack.url,
    env: stack.env,
    pids: {
      node: process.pid,
      redis: services.redis?.pid,
      postgres: services.postgres?.pid,
      sqs: services.sqs?.pid,
    },
  })}\n`,
);

let stopping = false;
async function shutdown(code: number): Promise<void> {
  if (stopping) return;
  stopping = true;
  await stack.stop();
  process.exit(code);
}
process.on("SIGTERM", () => void shutdown(0));
process.on("SIGINT", () => void shutdown(0));
// Never outlive the test that started us (unless it is the one killing us).
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) void shutdown(1);
}, 500).unref();
