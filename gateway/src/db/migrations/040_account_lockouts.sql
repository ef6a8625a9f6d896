-- Failed password attempts and locks, per login identifier (hashed). Kept in Postgres so
-- that a lock survives a gateway restart and holds across every replica.
CREATE TABLE account_lockouts (
  identifier_hash   text PRIMARY KEY,
  identity_id       text,
  failures          integer NOT NULL DEFAULT 0,
  window_started_at timestamptz NOT NULL,
  locked_until      timestamptz,
  updated_at        timestamptz NOT NULL
);

CREATE INDEX account_lockouts_identity_idx ON account_lockouts (identity_id);
