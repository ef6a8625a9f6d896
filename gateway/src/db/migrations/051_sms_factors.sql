-- Texted codes as a second factor, per account that turned them on (SMS_CODE_MFA). The address
-- is the phone number (E.164) proven when it was turned on: the factor counts only while it is
-- still the account's verified phone number.
CREATE TABLE sms_factors (
  identity_id text PRIMARY KEY,
  address     text NOT NULL,
  enabled_at  timestamptz NOT NULL
);
