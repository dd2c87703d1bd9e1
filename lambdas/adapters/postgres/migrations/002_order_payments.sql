-- Holds and payments (sales with holdSeconds). An order of such a sale keeps
-- the terms of its hold on its row, and its history as events: held, then
-- paid or expired, and refund_due when a payment came after the hold ended.
-- Orders of sales without a hold have NULL terms and no events, as before.
ALTER TABLE orders
  ADD COLUMN expires_at timestamptz,
  ADD COLUMN amount_due bigint CHECK (amount_due >= 0),
  ADD COLUMN currency   text;

-- One row per order and step: a redelivered event is a no-op
-- (INSERT ... ON CONFLICT DO NOTHING), and events may arrive in any order
-- (the paid event may come before the order's own row).
CREATE TABLE order_events (
  order_id    text        NOT NULL,
  sale_id     text        NOT NULL,
  event       text        NOT NULL CHECK (event IN ('held', 'paid', 'expired', 'refund_due')),
  at          timestamptz NOT NULL,
  amount      bigint,
  currency    text,
  reference   text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (order_id, event)
);

CREATE INDEX order_events_sale_idx ON order_events (sale_id, event);
