-- A passkey registered while the account's e-mail address was not verified. Whoever proves
-- the address later (recovery, verification) removes such passkeys, unless the proof comes
-- from a session signed in with that very passkey: an account made in someone else's name
-- before they arrive (pre-account takeover) keeps none of its planted keys.
ALTER TABLE passkey_credentials ADD COLUMN registered_unverified boolean NOT NULL DEFAULT false;
