import type { Policy } from './access/policy.js';
import type { AuditLog } from './audit/audit-log.js';
import type { Config } from './config.js';
import type { Database } from './db/database.js';
import type { BodyStore } from './files/body-store.js';
import type { Logger } from './http/logger.js';
import type { KeyService } from './keys/key-service.js';
import type { KratosClient } from './kratos/client.js';
import type { Mailer } from './mail/mailer.js';
import type { Kv } from './redis/client.js';
import type { SessionIndex } from './session/session-index.js';
import type { SessionStore } from './session/session-store.js';
import type { TokenCipher } from './session/token-cipher.js';

/**
 * Everything the app needs from the outside, built once by main.ts (or a test) and passed
 * in. Modules take what they need from here instead of importing clients or the clock.
 */
export interface AppDeps {
  config: Config;
  logger: Logger;
  db: Database;
  kv: Kv;
  sessionStore: SessionStore;
  sessionIndex: SessionIndex;
  tokenCipher: TokenCipher;
  kratos: KratosClient;
  audit: AuditLog;
  /** Wrapping keys of file data keys (Vault transit or the local keyring). */
  keys: KeyService;
  /** Encrypted file bodies in the data directory. */
  bodies: BodyStore;
  /** Roles, permissions and attribute conditions (validated at startup from POLICY_FILE). */
  policy: Policy;
  /** Sends notices such as the lockout e-mail (SMTP_URL). */
  mailer?: Mailer;
  clock: () => Date;
  random: (bytes: number) => Buffer;
}
