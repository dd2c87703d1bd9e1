/**
 * What an answer of the API was, for clients that count outcomes (the demo,
 * the artillery processor, the verifier). Two layers answer with two shapes,
 * in AWS as locally:
 * - the API's own errors, from the handlers: `{"error": {"code", "message"}}`;
 * - refusals API Gateway makes before any function runs (no route, token,
 *   scope, stage throttle, size, a failed function): `{"message": "..."}`.
 * Anything else is unknown. No imports: artillery bundles it into the processor.
 */
export type ApiOutcome =
  | { layer: "api"; code: string }
  | { layer: "gateway"; code: string }
  | { layer: "unknown"; code: string };

export function outcomeOf(status: number, body: unknown): ApiOutcome {
  let value = body;
  if (typeof value === "string") {
    try {
      value = JSON.parse(value);
    } catch {
      value = undefined;
    }
  }
  if (typeof value === "object" && value !== null) {
    const error = (value as { error?: { code?: unknown } }).error;
    if (typeof error?.code === "string") return { layer: "api", code: error.code };
    const message = (value as { message?: unknown }).message;
    if (error === undefined && typeof message === "string")
      // "Too Many Requests" -> TOO_MANY_REQUESTS
      return { layer: "gateway", code: message.toUpperCase().replace(/[^A-Z0-9]+/g, "_") };
  }
  return { layer: "unknown", code: `HTTP_${status}` };
}

/** A counter or table label: `SOLD_OUT`, `gateway TOO_MANY_REQUESTS`, `HTTP_502`. */
export function outcomeLabel(outcome: ApiOutcome): string {
  return outcome.layer === "gateway" ? `gateway ${outcome.code}` : outcome.code;
}
