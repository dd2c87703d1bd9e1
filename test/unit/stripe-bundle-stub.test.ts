import Stripe from "stripe";
import { describe, expect, it } from "vitest";
// The module the Lambda bundles use in place of `stripe` (lib/bundling.ts BUNDLE_STUBS).
import stub from "../../lib/bundle-stubs/stripe-webhooks.mjs";

const secret = "whsec_test_stub";
const payload = JSON.stringify({
  id: "evt_1",
  type: "payment_intent.succeeded",
  data: { object: {} },
});
const now = () => Math.floor(Date.now() / 1000);

describe("the bundles' stand-in for stripe verifies webhooks as the package does", () => {
  it("accepts what Stripe signs and returns the same event", () => {
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret });
    expect(stub.webhooks.constructEvent(payload, header, secret, 300)).toEqual(
      Stripe.webhooks.constructEvent(payload, header, secret, 300),
    );
  });

  it("refuses a changed body, a wrong secret and a stale timestamp, like the package", () => {
    const header = Stripe.webhooks.generateTestHeaderString({ payload, secret });
    const stale = Stripe.webhooks.generateTestHeaderString({
      payload,
      secret,
      timestamp: now() - 301,
    });
    const cases: Array<[string, string, string]> = [
      [payload.replace("evt_1", "evt_2"), header, secret],
      [payload, header, "whsec_other"],
      [payload, stale, secret],
      [payload, "t=1,v1=00", secret],
    ];
    for (const [body, sig, key] of cases) {
      expect(() => Stripe.webhooks.constructEvent(body, sig, key, 300)).toThrow();
      expect(() => stub.webhooks.constructEvent(body, sig, key, 300)).toThrow();
    }
  });
});
