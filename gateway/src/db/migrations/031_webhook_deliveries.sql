-- Kratos web hook deliveries already handled: a repeated delivery (a retry, a replay) is
-- recognised by its key and changes nothing a second time.
CREATE TABLE webhook_deliveries (
  delivery_key  text PRIMARY KEY,
  hook          text NOT NULL,
  identity_id   text NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX webhook_deliveries_received_idx ON webhook_deliveries (received_at);
