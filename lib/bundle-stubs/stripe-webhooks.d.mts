import type Stripe from "stripe";

/** The `webhooks` of the stripe package, built from its own modules (see stripe-webhooks.mjs). */
export declare const webhooks: typeof Stripe.webhooks;
declare const stub: { webhooks: typeof Stripe.webhooks };

export { stub as Stripe };
export default stub;
