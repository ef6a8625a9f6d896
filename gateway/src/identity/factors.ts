/** A second factor an account can have: a gateway passkey, a Kratos TOTP app, Kratos backup codes. */
export type SecondFactor = 'passkey' | 'totp' | 'lookup_secret';
