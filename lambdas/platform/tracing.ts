import type { MiddlewareObj } from "@middy/core";

/**
 * X-Ray tracing with Powertools Tracer, in AWS only. The tracer is loaded
 * only where Lambda runs the function with tracing on: aws-xray-sdk-core
 * starts an async_hooks namespace (cls-hooked) when imported, which taxes
 * every promise of the process. The local stack, the tests and the benchmarks
 * run many invocations in one process with no X-Ray daemon to send to, so
 * there the tracer is never imported and every helper below is a pass-through.
 *
 * Off in Lambda with POWERTOOLS_TRACE_ENABLED=false (the Tracer's own switch).
 */
const SERVICE_NAME = process.env.POWERTOOLS_SERVICE_NAME ?? "flash-sale";

const inLambda = (process.env.AWS_EXECUTION_ENV ?? "").startsWith("AWS_Lambda_");
const wanted = inLambda && (process.env.POWERTOOLS_TRACE_ENABLED ?? "true") !== "false";

const powertools = wanted
  ? {
      ...(await import("@aws-lambda-powertools/tracer")),
      ...(await import("@aws-lambda-powertools/tracer/middleware")),
    }
  : undefined;

/**
 * The container's tracer, or undefined when tracing is off. HTTP(S) calls are
 * not captured globally: the SDK clients are captured one by one
 * (captureClient), and nothing else here calls out over HTTP.
 */
export const tracer = powertools
  ? new powertools.Tracer({ serviceName: SERVICE_NAME, captureHTTPsRequests: false })
  : undefined;

/**
 * The handler's segment (`## <handler>`, with the cold-start annotation) as a
 * middy middleware; undefined when tracing is off. Responses are not recorded:
 * they can carry order ids and buyers' data, and X-Ray is no place for them.
 */
export function tracingMiddleware(): MiddlewareObj | undefined {
  if (!powertools || !tracer) return undefined;
  return powertools.captureLambdaHandler(tracer, { captureResponse: false }) as MiddlewareObj;
}

/** An AWS SDK v3 client whose calls become X-Ray subsegments (`SQS`, `SecretsManager`, …). */
export function captureClient<T>(client: T): T {
  return tracer ? tracer.captureAWSv3Client(client) : client;
}

/**
 * A port (an adapter object) whose method calls each become a subsegment
 * named `<service>.<method>`, marked remote, with its error if it fails: the
 * Redis scripts and Postgres statements show in the trace as SQS does.
 * Subsegments hang from the handler's segment; the ports make no nested calls
 * worth a tree. Returns the port itself when tracing is off: no proxy, no cost.
 */
export function traced<T extends object>(service: string, port: T): T {
  const active = tracer;
  if (!active) return port;
  return new Proxy(port, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver);
      if (typeof value !== "function" || typeof property !== "string" || property === "constructor")
        return value;
      return function tracedMethod(this: unknown, ...args: unknown[]) {
        const subsegment = active.getSegment()?.addNewSubsegment(`${service}.${property}`);
        if (subsegment) subsegment.namespace = "remote";
        const close = (error?: unknown) => {
          try {
            if (error !== undefined) subsegment?.addError(error as Error, true);
            subsegment?.close();
          } catch {
            // A segment that fails to close loses its trace data, never the call.
          }
        };
        let result: unknown;
        try {
          result = Reflect.apply(value, target, args);
        } catch (error) {
          close(error);
          throw error;
        }
        if (result instanceof Promise)
          return result.then(
            (resolved) => {
              close();
              return resolved;
            },
            (error: unknown) => {
              close(error);
              throw error;
            },
          );
        close();
        return result;
      };
    },
  });
}

/**
 * The current invocation's X-Ray trace header (`Root=…;Parent=…;Sampled=…`):
 * Lambda's runtime keeps it in its invoke store when one container serves
 * invocations concurrently (the local host does the same) and in
 * `_X_AMZN_TRACE_ID` otherwise. Undefined outside an invocation.
 */
export function currentTraceHeader(): string | undefined {
  const store = (
    globalThis as { awslambda?: { InvokeStore?: { getXRayTraceId(): string | undefined } } }
  ).awslambda?.InvokeStore;
  const header = store?.getXRayTraceId() ?? process.env._X_AMZN_TRACE_ID;
  return header?.startsWith("Root=") ? header : undefined;
}
