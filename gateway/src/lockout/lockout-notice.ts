import type { Config } from '../config.js';
import type { Logger } from '../logging/logger.js';
import type { Mailer } from '../mail/mailer.js';
import type { KratosIdentity } from '../kratos/types.js';

/** What the lockout notice uses. */
export interface NoticeDeps {
  config: Pick<Config, 'LOCKOUT_DURATION_SECONDS' | 'LOCKOUT_MAX_FAILURES'>;
  logger: Logger;
  mailer?: Mailer | undefined;
}

/**
 * Tells the owner that password sign-in was locked. A mail failure is logged and does not
 * undo the lock: the lock protects the account whether or not the notice arrives.
 */
export async function sendLockoutNotice(
  deps: NoticeDeps,
  identity: KratosIdentity,
  until: Date,
): Promise<void> {
  if (!deps.mailer || !identity.email) return;
  const minutes = Math.round(deps.config.LOCKOUT_DURATION_SECONDS / 60);
  try {
    await deps.mailer.send({
      to: identity.email,
      subject: 'Password sign-in to your account was locked',
      text: [
        `Someone entered a wrong password for your account ${deps.config.LOCKOUT_MAX_FAILURES} times.`,
        `To protect it, password sign-in is locked for ${minutes} minutes (until ${until.toISOString()}).`,
        '',
        'Signing in with a passkey still works.',
        'If this was not you, consider changing your password once you are signed in again.',
      ].join('\n'),
    });
  } catch (err) {
    deps.logger.warn('lockout notice not sent', { identityId: identity.id, error: (err as Error).message });
  }
}
