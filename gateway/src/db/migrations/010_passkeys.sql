-- Passkey credentials registered through the gateway's own WebAuthn layer.
CREATE TABLE passkey_users (
  identity_id  text PRIMARY KEY,
  -- Opaque random WebAuthn user handle: neither the identity id nor the e-mail address.
  user_handle  text NOT NULL UNIQUE,
  created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE passkey_credentials (
  id               text PRIMARY KEY,            -- credential id, base64url
  identity_id      text NOT NULL REFERENCES passkey_users (identity_id) ON DELETE CASCADE,
  public_key       bytea NOT NULL,
  counter          bigint NOT NULL DEFAULT 0,
  transports       text[] NOT NULL DEFAULT '{}',
  aaguid           text NOT NULL DEFAULT '00000000-0000-0000-0000-000000000000',
  device_type      text NOT NULL DEFAULT 'singleDevice',
  backed_up        boolean NOT NULL DEFAULT false,
  nickname         text NOT NULL DEFAULT '',
  cloned_suspected boolean NOT NULL DEFAULT false,
  created_at       timestamptz NOT NULL DEFAULT now(),
  last_used_at     timestamptz
);

CREATE INDEX passkey_credentials_identity_idx ON passkey_credentials (identity_id);
