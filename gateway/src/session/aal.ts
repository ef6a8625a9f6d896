import type { Aal } from '../kratos/types.js';

/** A completed authentication factor, wherever it was completed. */
export interface CompletedMethod {
  /** password, passkey, totp, lookup_secret, code, ... */
  method: string;
  completedAt: string;
  /** For passkeys: the authenticator verified the user (biometric or PIN). */
  userVerified?: boolean;
  /** For methods completed at Kratos: the level Kratos gave the session at that point. */
  aal?: Aal;
}

const SECOND_FACTORS = new Set(['totp', 'lookup_secret', 'passkey', 'webauthn', 'email_code', 'sms_code']);
/** Second factors delivered as codes: no second factor after a first factor that was a code. */
const DELIVERED_CODES = new Set(['email_code', 'sms_code']);
/**
 * First factors that were a code sent to the account (by e-mail or, Kratos' `code` too, by
 * SMS): a second code sent to it proves nothing more.
 */
const INBOX_FIRST_FACTORS = new Set(['code', 'code_recovery', 'link_recovery']);
const FIRST_FACTORS = new Set([
  'password',
  'code',
  'code_recovery',
  'link_recovery',
  'passkey',
  'webauthn',
  'oidc',
]);

/**
 * The AAL table of the product, in one place:
 *
 * | completed factors                                        | AAL  |
 * | password                                                 | aal1 |
 * | passkey, user not verified                               | aal1 |
 * | passkey with user verification                           | aal2 |
 * | password + TOTP, password + backup code, password + passkey | aal2 |
 * | password + e-mailed code (EMAIL_CODE_MFA), passkey + e-mailed code | aal2 |
 * | password + texted code (SMS_CODE_MFA), passkey + texted code | aal2 |
 * | sign-in or recovery code (e-mailed or texted) + e-mailed or texted code | aal1 |
 * | a Kratos session that Kratos itself says is aal2         | aal2 |
 *
 * A user-verified passkey is two factors in one gesture (possession of the key, plus
 * the biometric or PIN it checked), which is what NIST SP 800-63B calls a multi-factor
 * cryptographic authenticator. Kratos counts passkeys as one factor only; this is the gap
 * the gateway closes.
 */
export function computeAal(methods: CompletedMethod[], kratosAal?: Aal): Aal {
  if (kratosAal === 'aal2') return 'aal2';
  if (methods.some((m) => m.method === 'passkey' && m.userVerified)) return 'aal2';
  const firsts = methods.filter((m) => FIRST_FACTORS.has(m.method));
  const seconds = methods.filter((m) => SECOND_FACTORS.has(m.method));
  // Two different factors: a first factor plus a second factor that is not the same completion
  // (nor the same inbox twice).
  const distinct = firsts.some((f) =>
    seconds.some(
      (s) => s.method !== f.method && !(DELIVERED_CODES.has(s.method) && INBOX_FIRST_FACTORS.has(f.method)),
    ),
  );
  return distinct ? 'aal2' : 'aal1';
}
