-- The gateway's copy of each identity's profile, kept in sync from Kratos (web hooks and
-- the gateway's own settings calls), so other parts of the system can read it without Kratos.
CREATE TABLE profiles (
  identity_id        text PRIMARY KEY,
  email              text NOT NULL,
  email_verified     boolean NOT NULL DEFAULT false,
  traits             jsonb NOT NULL DEFAULT '{}'::jsonb,
  -- Kratos' updated_at of the identity this copy was taken from: an older copy never
  -- overwrites a newer one when deliveries arrive out of order.
  kratos_updated_at  timestamptz,
  synced_at          timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX profiles_email_idx ON profiles (lower(email));
