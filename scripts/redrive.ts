import { parseArgs } from "node:util";
import { redrive } from "../lambdas/adapters/sqs/redrive.js";
import { opsContext } from "./ops-context.js";

/** npm run redrive [-- --max N]: moves DLQ messages back to the orders queue. */
const { values } = parseArgs({ options: { max: { type: "string", default: "100000" } } });
const ops = await opsContext();
try {
  const result = await redrive(ops.sqs, ops.queues.deadLetterQueueUrl, ops.queues.ordersQueueUrl, {
    max: Number(values.max),
  });
  console.log(
    `moved ${result.moved} message(s) from the DLQ to the orders queue${result.failed ? `, ${result.failed} failed` : ""}`,
  );
  if (result.skipped > 0) {
    console.log(
      `left ${result.skipped} message(s) in the DLQ that can never be persisted; inspect them there:`,
    );
    for (const { messageId, reason } of result.skippedMessages) {
      console.log(`  ${messageId}: ${reason}`);
    }
  }
  process.exitCode = result.failed > 0 ? 1 : 0;
} finally {
  await ops.close();
}
