import type { SecondFactor } from '../identity/factors.js';
import type { KratosClient } from '../kratos/client.js';
import type { KratosIdentity } from '../kratos/types.js';
import { sameAddress, type EmailFactorStore } from './email-factor.js';
import type { PasskeyStore } from './passkey-store.js';

const KRATOS_FACTORS = ['totp', 'lookup_secret'] as const;

/** What the second-factor questions read: the passkey store, the e-mail factor and Kratos' admin view. */
export interface FactorDeps {
  passkeys: Pick<PasskeyStore, 'usableIds'>;
  emailFactors: Pick<EmailFactorStore, 'addressOf'>;
  /** Texted codes (SMS_CODE_MFA); a caller without them counts none. */
  smsFactors?: Pick<EmailFactorStore, 'addressOf'> | undefined;
  kratos: Pick<KratosClient, 'getIdentity'>;
}

/** What an account has enrolled as second factors, in detail. */
interface AccountFactors {
  /** Usable passkeys (not suspected of being cloned). */
  passkeyIds: string[];
  /** Factors Kratos keeps: `totp`, `lookup_secret`. */
  kratos: SecondFactor[];
  /**
   * Where e-mailed codes go, when the owner turned them on (EMAIL_CODE_MFA) and the address
   * they proved then is still the account's verified address.
   */
  emailAddress: string | undefined;
  /**
   * Where texted codes go, when the owner turned them on (SMS_CODE_MFA) and the number they
   * proved then is still the account's verified phone number.
   */
  phoneNumber: string | undefined;
}

/**
 * The one answer to "which second factors does this identity have": its usable passkeys
 * (any passkey not suspected of being cloned: password + passkey is aal2), the TOTP app
 * and backup codes it enrolled at Kratos, and e-mailed codes if its owner turned them on. Sign-in (what a session owes), step-up, passkey
 * and account settings, jars and the admin API all ask here. `identity` saves the Kratos
 * call when the caller holds a fresh admin view.
 */
export async function accountFactors(
  deps: FactorDeps,
  identityId: string,
  identity?: KratosIdentity,
  /** Usable passkeys the caller knows of (enough where only "has one" matters): the store is not asked. */
  knownPasskeyIds?: string[],
): Promise<AccountFactors> {
  const [passkeyIds, kratosView, emailAddress, phoneNumber] = await Promise.all([
    knownPasskeyIds ? Promise.resolve(knownPasskeyIds) : deps.passkeys.usableIds(identityId),
    identity ? Promise.resolve(identity) : deps.kratos.getIdentity(identityId),
    deps.emailFactors.addressOf(identityId),
    deps.smsFactors?.addressOf(identityId),
  ]);
  const emailStillProven = kratosView?.emailVerified === true && sameAddress(kratosView.email, emailAddress);
  const phoneStillProven =
    kratosView?.phoneVerified === true && phoneNumber !== undefined && kratosView.phone === phoneNumber;
  return {
    passkeyIds,
    kratos: KRATOS_FACTORS.filter((type) => kratosView?.credentialTypes.includes(type)),
    emailAddress: emailStillProven ? kratosView?.email : undefined,
    phoneNumber: phoneStillProven ? kratosView?.phone : undefined,
  };
}

/**
 * The kinds of second factor an identity has (empty: none). `usedPasskeyId`: a passkey of the
 * identity the caller just verified (so usable, not suspected of cloning); the store is not asked.
 */
export async function secondFactorsOf(
  deps: FactorDeps,
  identityId: string,
  identity?: KratosIdentity,
  usedPasskeyId?: string,
): Promise<SecondFactor[]> {
  const factors = await accountFactors(
    deps,
    identityId,
    identity,
    usedPasskeyId === undefined ? undefined : [usedPasskeyId],
  );
  return [
    ...(factors.passkeyIds.length > 0 ? (['passkey'] as const) : []),
    ...factors.kratos,
    ...(factors.emailAddress ? (['email'] as const) : []),
    ...(factors.phoneNumber ? (['sms'] as const) : []),
  ];
}
