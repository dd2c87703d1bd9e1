import { randomUUID } from "node:crypto";
import { parseArgs } from "node:util";
import { apiGatewayEvent } from "../../../local/apigw-event.js";
import { lambdaContext } from "../../../local/lambda-context.js";

/**
 * A buy function's container that its test SIGKILLs mid-buy: it loads the
 * real buy handler (environment from the parent: SQS_ENDPOINT points at an
 * endpoint that never answers) and starts `--count` buys for sale `--sale`,
 * each by its own buyer. Each reserves in Redis, then hangs in its SQS send
 * until the kill: no message, no release, no answer.
 *
 *   node --import tsx test/faults/support/buy-then-die.ts --sale <id> --count <n>
 */
const { values } = parseArgs({
  options: { sale: { type: "string" }, count: { type: "string" }, prefix: { type: "string" } },
});
const saleId = values.sale ?? "";
const count = Number(values.count ?? "0");
const { handler } = await import("../../../lambdas/handlers/buy.js");
const context = lambdaContext("buy", 60_000);
for (let i = 0; i < count; i++) {
  const userId = `${values.prefix ?? "killed"}-${i}`;
  void handler(
    apiGatewayEvent({
      routeKey: "POST /sales/{saleId}/buy",
      method: "POST",
      path: `/sales/${saleId}/buy`,
      headers: { "content-type": "application/json", "idempotency-key": randomUUID() },
      body: JSON.stringify({ quantity: 1 }),
      pathParameters: { saleId },
      claims: { sub: userId },
      scopes: null,
    }),
    context,
  );
}
process.stdout.write("buying\n");
