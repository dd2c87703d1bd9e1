-- Orders persisted by the consumer. order_id is the key that makes a
-- redelivered SQS message a no-op (INSERT ... ON CONFLICT DO NOTHING).
CREATE TABLE orders (
  order_id     text        PRIMARY KEY,
  sale_id      text        NOT NULL,
  user_id      text        NOT NULL,
  quantity     integer     NOT NULL CHECK (quantity > 0),
  reserved_at  timestamptz NOT NULL,
  persisted_at timestamptz NOT NULL DEFAULT now(),
  status       text        NOT NULL DEFAULT 'confirmed' CHECK (status IN ('confirmed', 'cancelled'))
);

CREATE INDEX orders_sale_idx ON orders (sale_id, reserved_at);
CREATE INDEX orders_user_idx ON orders (user_id, reserved_at);
