import { randomBytes } from "node:crypto";
import { InvokeStore, InvokeStoreBase } from "@aws/lambda-invoke-store";
import type { Context } from "aws-lambda";
import { traceId } from "./apigw-event.js";

/**
 * The Lambda runtime's invoke store, as the Node.js runtime keeps it when one
 * execution environment serves invocations concurrently (an AsyncLocalStorage
 * on `globalThis.awslambda.InvokeStore`): the local host runs many
 * invocations in one process, so each gets its own request id and X-Ray trace
 * header this way, read by Powertools (the logs' `xray_trace_id`) and by our
 * SQS adapter (the message's AWSTraceHeader), exactly as in AWS.
 */
const store = await InvokeStore.getInstanceAsync(true);
const { REQUEST_ID, X_RAY_TRACE_ID } = InvokeStoreBase.PROTECTED_KEYS;

/**
 * A function's trace header as Lambda sets it (`Root=…;Parent=…;Sampled=0`):
 * the root continues the caller's (the gateway's x-amzn-trace-id) when given,
 * otherwise a new trace starts (a queue's batch, a schedule's run).
 */
export function invocationTraceHeader(callerHeader?: string): string {
  const callerRoot = callerHeader?.split(";").find((field) => field.startsWith("Root="));
  return `${callerRoot ?? traceId()};Parent=${randomBytes(8).toString("hex")};Sampled=0`;
}

/** Runs `invoke` as one invocation: its request id and trace header are the store's until it settles. */
export function withinInvocation<T>(context: Context, traceHeader: string, invoke: () => T): T {
  return store.run({ [REQUEST_ID]: context.awsRequestId, [X_RAY_TRACE_ID]: traceHeader }, invoke);
}
