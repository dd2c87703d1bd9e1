// Stands in for the `stripe` package in the Lambda bundles. The payment webhook uses only
// `Stripe.webhooks` (offline signature checks with the endpoint's secret; no call to Stripe's
// API), but the package's entry point brings the whole API client: ~246 KB of the 508 KB
// webhook bundle. This builds the same `webhooks` object from the package's own modules, so the
// verification code is Stripe's, unchanged. The package's `exports` map hides these modules
// from bare imports, hence the paths (esbuild resolves them from the project's node_modules).

import { NodePlatformFunctions } from "../../node_modules/stripe/esm/platform/NodePlatformFunctions.js";
import { createWebhooks } from "../../node_modules/stripe/esm/Webhooks.js";

const webhooks = createWebhooks(new NodePlatformFunctions());
const Stripe = { webhooks };

export { Stripe, webhooks };
export default Stripe;
