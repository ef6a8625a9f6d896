import type { Config } from '../config.js';
import type { CeremonyDeps } from '../factors/ceremony.js';
import type { Logger } from '../logging/logger.js';
import type { Mailer } from '../mail/mailer.js';
import type { SessionDeps } from '../session/sessions.js';

/** What the passkey use cases work with: the ceremony stores, the session, the owner's mail. */
export type PasskeyDeps = CeremonyDeps &
  SessionDeps & {
    config: Pick<Config, 'SESSION_SECRET' | 'EMAIL_CODE_LOGIN' | 'SMS_CODE_LOGIN'>;
    logger: Logger;
    mailer?: Mailer | undefined;
  };
