/**
 * A second factor an account can have: a gateway passkey, a Kratos TOTP app, Kratos backup
 * codes, or codes the gateway e-mails (EMAIL_CODE_MFA) or texts (SMS_CODE_MFA), for accounts
 * that turned them on.
 */
export type SecondFactor = 'passkey' | 'totp' | 'lookup_secret' | 'email' | 'sms';
