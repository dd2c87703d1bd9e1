import { randomUUID } from "node:crypto";
import type { Context } from "aws-lambda";

/**
 * A Lambda invocation context for handlers run by the local stack: the
 * function's configured timeout counts down from the invocation's start, as
 * `getRemainingTimeInMillis()` does in Lambda, and its memory is the
 * function's.
 */
export function lambdaContext(functionName: string, timeoutMs = 30_000, memoryMb = 1024): Context {
  const deadline = Date.now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: "$LATEST",
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: String(memoryMb),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: "local",
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}
