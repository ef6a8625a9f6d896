-- E-mailed codes as a second factor, per account that turned them on (EMAIL_CODE_MFA). The
-- address is the one proven when it was turned on: the factor counts only while it is still
-- the account's verified address.
CREATE TABLE email_factors (
  identity_id text PRIMARY KEY,
  address     text NOT NULL,
  enabled_at  timestamptz NOT NULL
);
