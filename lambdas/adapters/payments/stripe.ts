import Stripe from "stripe";
import { PaymentSignatureError } from "../../domain/errors.js";
import type { PaymentEvent, PaymentProvider } from "../../domain/ports.js";

/** Stripe's default: a signature older than five minutes is refused (replay protection). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

/** The event this system acts on: a storefront's payment intent for an order has succeeded. */
export const PAYMENT_SUCCEEDED = "payment_intent.succeeded";

interface PaymentIntentLike {
  id?: unknown;
  amount?: unknown;
  amount_received?: unknown;
  currency?: unknown;
  metadata?: Record<string, unknown> | null;
}

/**
 * Stripe as the PaymentProvider: the webhook's signature (`Stripe-Signature:
 * t=<ts>,v1=<HMAC-SHA256 of "<ts>.<raw body>">`) is verified offline by the
 * stripe package with the endpoint's signing secret (`whsec_…`), so no call
 * ever leaves for Stripe. The storefront creates the payment intent with its
 * own Stripe account and puts our order id in `metadata.orderId` (and may put
 * the sale in `metadata.saleId`).
 */
export class StripePaymentProvider implements PaymentProvider {
  constructor(
    private readonly webhookSecret: string,
    private readonly toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
  ) {}

  verify(rawBody: string, signature: string | undefined): PaymentEvent {
    if (signature === undefined || signature.trim() === "") {
      throw new PaymentSignatureError("The Stripe-Signature header is missing");
    }
    let event: Stripe.Event;
    try {
      event = Stripe.webhooks.constructEvent(
        rawBody,
        signature,
        this.webhookSecret,
        this.toleranceSeconds,
      );
    } catch (error) {
      throw new PaymentSignatureError(
        `The Stripe-Signature does not verify: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (event.type !== PAYMENT_SUCCEEDED) {
      return { kind: "ignored", eventId: event.id, type: event.type };
    }
    const intent = event.data.object as PaymentIntentLike;
    const metadata = intent.metadata ?? {};
    const text = (value: unknown) =>
      typeof value === "string" && value !== "" ? value : undefined;
    const amount = intent.amount_received ?? intent.amount;
    return {
      kind: "payment_succeeded",
      eventId: event.id,
      orderId: text(metadata.orderId),
      saleId: text(metadata.saleId),
      amount: typeof amount === "number" ? amount : Number.NaN,
      currency: typeof intent.currency === "string" ? intent.currency.toLowerCase() : "",
      reference: text(intent.id) ?? event.id,
    };
  }
}

/** A Stripe-Signature header for `payload`, exactly as Stripe signs it (the local simulated provider, tests). */
export function stripeSignatureHeader(
  payload: string,
  secret: string,
  timestampSeconds?: number,
): string {
  return Stripe.webhooks.generateTestHeaderString({
    payload,
    secret,
    ...(timestampSeconds !== undefined && { timestamp: timestampSeconds }),
  });
}

/** A `payment_intent.succeeded` event as Stripe sends it (the fields this system reads, and the usual envelope). */
export function paymentSucceededEvent(options: {
  eventId: string;
  paymentIntentId: string;
  orderId: string;
  saleId?: string;
  amount: number;
  currency: string;
  createdSeconds: number;
}): string {
  return JSON.stringify({
    id: options.eventId,
    object: "event",
    api_version: "2025-01-27.acacia",
    created: options.createdSeconds,
    type: PAYMENT_SUCCEEDED,
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    data: {
      object: {
        id: options.paymentIntentId,
        object: "payment_intent",
        amount: options.amount,
        amount_received: options.amount,
        currency: options.currency,
        status: "succeeded",
        metadata: {
          orderId: options.orderId,
          ...(options.saleId !== undefined && { saleId: options.saleId }),
        },
      },
    },
  });
}
