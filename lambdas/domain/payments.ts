import {
  OrderNotFoundError,
  OrderNotPayableError,
  PaymentEventInvalidError,
  PaymentMismatchError,
  PaymentSaleMismatchError,
} from "./errors.js";
import type { HoldLedger, Logger, PaymentEvent, PaymentProvider, PayOutcome } from "./ports.js";
import { ORDER_ID_PATTERN, saleIdOfOrder } from "./sale.js";

export interface PaymentDeps {
  provider: PaymentProvider;
  holds: HoldLedger;
  now: () => number;
  logger: Logger;
}

export interface PaymentReceipt {
  /** The event's id, so the provider's logs and ours can be matched. */
  eventId: string;
  orderId: string | null;
  /** paid: the order is sold; refund_due: it had expired, the money must go back; ignored: not a payment event. */
  result: "paid" | "refund_due" | "ignored";
  /** True when this event (or another for the same order) was already recorded. */
  duplicate: boolean;
}

/**
 * The payment webhook's use case: verify the provider's signature, then one
 * atomic Redis call (lua/pay-7.lua) decides between paid and refund_due.
 * The answer is the provider's acknowledgement: 2xx once the outcome is
 * recorded (a redelivery is answered the same and changes nothing); 4xx for
 * what retrying cannot fix (no such order, wrong amount, another sale).
 */
export async function receivePayment(
  deps: PaymentDeps,
  rawBody: string,
  signature: string | undefined,
): Promise<PaymentReceipt> {
  const event: PaymentEvent = deps.provider.verify(rawBody, signature);
  if (event.kind === "ignored") {
    deps.logger.info("payment event ignored", { eventId: event.eventId, type: event.type });
    return { eventId: event.eventId, orderId: null, result: "ignored", duplicate: false };
  }
  const orderId = event.orderId;
  if (orderId === undefined || !ORDER_ID_PATTERN.test(orderId)) {
    throw new PaymentEventInvalidError(
      "The payment's metadata.orderId is missing or is not an order id of this system",
    );
  }
  const saleId = saleIdOfOrder(orderId) as string;
  if (event.saleId !== undefined && event.saleId !== saleId) {
    throw new PaymentSaleMismatchError(orderId);
  }
  if (
    !Number.isSafeInteger(event.amount) ||
    event.amount < 0 ||
    !/^[a-z]{3}$/.test(event.currency)
  ) {
    throw new PaymentEventInvalidError("The payment's amount or currency is not usable");
  }
  const outcome: PayOutcome = await deps.holds.pay({
    orderId,
    saleId,
    amount: event.amount,
    currency: event.currency,
    reference: event.reference,
    nowMs: deps.now(),
  });
  const context = { eventId: event.eventId, orderId, outcome, reference: event.reference };
  switch (outcome) {
    case "paid":
    case "already_paid":
      deps.logger.info("payment recorded", context);
      return { eventId: event.eventId, orderId, result: "paid", duplicate: outcome !== "paid" };
    case "refund_due":
    case "already_refund_due":
      deps.logger.warn("payment after the hold ended: refund due", context);
      return {
        eventId: event.eventId,
        orderId,
        result: "refund_due",
        duplicate: outcome !== "refund_due",
      };
    case "unknown_order":
      deps.logger.warn("payment for an unknown order", context);
      throw new OrderNotFoundError(orderId);
    case "not_payable":
      deps.logger.warn("payment for an order that is not held for payment", context);
      throw new OrderNotPayableError(orderId);
    case "mismatch":
      deps.logger.error("payment does not match the order; recorded as an anomaly", context);
      throw new PaymentMismatchError(orderId);
  }
}
