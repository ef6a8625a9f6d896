import type { Policy } from './access/policy.js';
import type { Guard } from './access/require-auth.js';
import type { AuditLog } from './audit/audit-log.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import type { ChallengeStore } from './factors/challenge-store.js';
import type { EmailFactorStore } from './factors/email-factor.js';
import type { PasskeyStore } from './factors/passkey-store.js';
import type { AssertionVerifier } from './factors/assertion-verifier.js';
import type { RelyingParty } from './factors/relying-party.js';
import type { BodyStore } from './files/body-store.js';
import type { Logger } from './logging/logger.js';
import type { KeyService } from './keys/key-service.js';
import type { KratosClient } from './kratos/client.js';
import type { Mailer } from './mail/mailer.js';
import type { SmsSender } from './mail/sms-sender.js';
import type { Kv } from './redis/client.js';
import type { SessionIndex } from './session/session-index.js';
import type { SessionStore } from './session/session-store.js';
import type { TokenCipher } from './session/token-cipher.js';

/**
 * Everything the app needs from the outside, built once by main.ts (or a test) and passed
 * in. Routes hand each use case the few of these it uses, never the whole bag.
 */
export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Database;
  kv: Kv;
  sessionStore: SessionStore;
  sessionIndex: SessionIndex;
  tokenCipher: TokenCipher;
  /** Passkey credentials and WebAuthn user handles (the one owner of their tables). */
  passkeys: PasskeyStore;
  /** Who turned e-mailed codes on as a second factor (EMAIL_CODE_MFA), for which address. */
  emailFactors: EmailFactorStore;
  /** Who turned texted codes on as a second factor (SMS_CODE_MFA), for which phone number. */
  smsFactors: EmailFactorStore;
  /** Sends texts to the operator's SMS provider (SMS_PROVIDER_URL); undefined without one. */
  smsSender?: SmsSender | undefined;
  /** Pending WebAuthn challenges, single use. */
  challenges: ChallengeStore;
  /** The WebAuthn relying party (RP ID, origins, user verification) from the configuration. */
  rp: RelyingParty;
  /** Checks passkey assertions (signatures on node:crypto, keys imported once). */
  assertions: AssertionVerifier;
  kratos: KratosClient;
  audit: AuditLog;
  /** Wrapping keys of file data keys (Vault transit or the local keyring). */
  keys: KeyService;
  /** Encrypted file bodies in the data directory. */
  bodies: BodyStore;
  /** Roles, permissions and attribute conditions (validated at startup from POLICY_FILE). */
  policy: Policy;
  /** The access check every route uses: sign-in, level, recency, roles and the policy. */
  guard: Guard;
  /** Sends notices such as the lockout e-mail (SMTP_URL). */
  mailer?: Mailer;
  clock: () => Date;
  random: (bytes: number) => Buffer;
}
