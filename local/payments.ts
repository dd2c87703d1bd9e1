import { randomUUID } from "node:crypto";
import {
  paymentSucceededEvent,
  stripeSignatureHeader,
} from "../lambdas/adapters/payments/stripe.js";

/**
 * The local stack's payment provider: it signs webhook events exactly as
 * Stripe does (`Stripe-Signature: t=<ts>,v1=<HMAC-SHA256 of "<ts>.<body>">`,
 * through the stripe package's own test-header helper) with a local webhook
 * secret, and delivers them to POST /payments/webhook. The webhook function
 * verifies them with the same code it runs in AWS.
 */

/** The local webhook signing secret; LOCAL_PAYMENT_WEBHOOK_SECRET overrides it. Local only: never a real one. */
export const DEFAULT_LOCAL_WEBHOOK_SECRET = "whsec_local_flash_sale_development";

export function localWebhookSecret(): string {
  return process.env.LOCAL_PAYMENT_WEBHOOK_SECRET ?? DEFAULT_LOCAL_WEBHOOK_SECRET;
}

/** What the local stack adds to the handlers' environment for payments. */
export function localPaymentEnv(): Record<string, string> {
  return { PAYMENT_WEBHOOK_SECRET: process.env.PAYMENT_WEBHOOK_SECRET ?? localWebhookSecret() };
}

export interface SimulatedPayment {
  orderId: string;
  amount: number;
  currency: string;
  saleId?: string;
}

/** A signed `payment_intent.succeeded` delivery: the body and its headers. */
export function signedPaymentEvent(
  payment: SimulatedPayment,
  secret: string = localWebhookSecret(),
): { body: string; headers: Record<string, string>; eventId: string } {
  const eventId = `evt_local_${randomUUID().replaceAll("-", "").slice(0, 24)}`;
  const body = paymentSucceededEvent({
    eventId,
    paymentIntentId: `pi_local_${randomUUID().replaceAll("-", "").slice(0, 24)}`,
    orderId: payment.orderId,
    amount: payment.amount,
    currency: payment.currency,
    createdSeconds: Math.floor(Date.now() / 1000),
    ...(payment.saleId !== undefined && { saleId: payment.saleId }),
  });
  return {
    body,
    eventId,
    headers: {
      "content-type": "application/json; charset=utf-8",
      "stripe-signature": stripeSignatureHeader(body, secret),
      "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks) local-simulation",
    },
  };
}

/** Delivers a signed payment to the API's webhook, as Stripe would; returns the status and body. */
export async function deliverPayment(
  apiUrl: string,
  payment: SimulatedPayment,
  secret?: string,
): Promise<{ status: number; body: unknown }> {
  const { body, headers } = signedPaymentEvent(payment, secret);
  const response = await fetch(`${apiUrl}/payments/webhook`, { method: "POST", headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body: parsed };
}
