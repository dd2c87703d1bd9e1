import { readFileSync } from "node:fs";
import { readSettings } from "../lib/config.js";

/**
 * What the local API Gateway decides by itself, as the HTTP API in AWS does:
 * its limits (from the same settings the CDK stack deploys), the answers it
 * gives without invoking a function, and the stage's token bucket.
 */

export interface GatewaySettings {
  /** Stage throttling, requests per second (the stack's `throttleRateLimit`). */
  throttleRateLimit: number;
  /** Stage throttling, the bucket's size (the stack's `throttleBurstLimit`). */
  throttleBurstLimit: number;
  /** The HTTP functions' timeout (the stack's `httpTimeoutSeconds`), in ms. */
  functionTimeoutMs: number;
  /** The HTTP functions' memory (the stack's `httpMemoryMb`), reported by the context. */
  functionMemoryMb: number;
  /** The scope the admin routes require (the stack's `adminScope`; handlers read ADMIN_SCOPE). */
  adminScope: string;
  /** HTTP API quota "Payload size": 10 MB. */
  maxPayloadBytes: number;
  /** HTTP API quota "Total combined size of request line and header values": 10,240 bytes. */
  maxRequestLineAndHeaderBytes: number;
}

/** HTTP API quotas: https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-quotas.html */
export const HTTP_API_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024;
export const HTTP_API_MAX_REQUEST_LINE_AND_HEADER_BYTES = 10_240;

/**
 * The settings of the stack `cdk deploy` would deploy: cdk.json's context read
 * by lib/config.ts (its defaults for what cdk.json leaves out), so the local
 * gateway and the stage agree.
 */
export function stackGatewaySettings(
  context: Record<string, unknown> = cdkContext(),
): GatewaySettings {
  const settings = readSettings(context);
  return {
    throttleRateLimit: settings.throttleRateLimit,
    throttleBurstLimit: settings.throttleBurstLimit,
    functionTimeoutMs: settings.httpTimeoutSeconds * 1000,
    functionMemoryMb: settings.httpMemoryMb,
    adminScope: settings.adminScope,
    maxPayloadBytes: HTTP_API_MAX_PAYLOAD_BYTES,
    maxRequestLineAndHeaderBytes: HTTP_API_MAX_REQUEST_LINE_AND_HEADER_BYTES,
  };
}

function cdkContext(): Record<string, unknown> {
  const file = new URL("../cdk.json", import.meta.url);
  const json = JSON.parse(readFileSync(file, "utf8")) as { context?: Record<string, unknown> };
  return json.context ?? {};
}

/**
 * The stage throttle shared out between `workers` processes serving one port
 * (each has its own bucket; node:cluster spreads connections between them).
 */
export function perWorker(settings: GatewaySettings, workers: number): GatewaySettings {
  if (!Number.isInteger(workers) || workers <= 1) return settings;
  return {
    ...settings,
    throttleRateLimit: settings.throttleRateLimit / workers,
    throttleBurstLimit: Math.max(1, Math.ceil(settings.throttleBurstLimit / workers)),
  };
}

/**
 * API Gateway's token bucket: `burst` tokens, refilled at `rate` per second;
 * a request takes one or is throttled
 * (https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-throttling.html).
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    this.tokens = burst;
    this.last = now();
  }

  take(): boolean {
    const now = this.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }
}
