import type { Logger } from '../logging/logger.js';
import type { Mailer } from '../mail/mailer.js';

/** What the owner of an account is told about. */
type AccountNotice =
  | { kind: 'factor_added'; factor: 'passkey' | 'totp' | 'lookup_secret' | 'email' | 'sms' }
  | { kind: 'factor_removed'; factor: 'email' | 'sms' }
  | { kind: 'recovered'; removedPasskeys: string[] }
  | { kind: 'passkeys_removed'; removedPasskeys: string[] };

const FACTOR_NAMES = {
  passkey: 'A passkey',
  totp: 'An authenticator app',
  lookup_secret: 'Backup codes',
  email: 'Confirmation by e-mailed code',
  sms: 'Confirmation by texted code',
};

function render(notice: AccountNotice): { subject: string; lines: string[] } {
  const removed = (names: string[]) =>
    names.length === 0
      ? []
      : [
          '',
          'These passkeys were registered before the address was verified and were removed:',
          ...names.map((n) => `  - ${n}`),
        ];
  switch (notice.kind) {
    case 'factor_added':
      return {
        subject: 'A sign-in method was added to your account',
        lines: [
          `${FACTOR_NAMES[notice.factor]} was added to your account as a second factor.`,
          'It counts from your next sign-in.',
          '',
          'If this was not you, recover your account now: every session will be signed out.',
        ],
      };
    case 'factor_removed':
      return {
        subject: 'A sign-in method was removed from your account',
        lines: [
          `${FACTOR_NAMES[notice.factor]} no longer counts as a second factor of your account.`,
          '',
          'If this was not you, recover your account now: every session will be signed out.',
        ],
      };
    case 'recovered':
      return {
        subject: 'Your account was recovered',
        lines: [
          'Someone proved they hold this e-mail address and recovered your account.',
          'Every other session of the account has been signed out.',
          ...removed(notice.removedPasskeys),
          '',
          'If this was not you, recover your account again and change your password.',
        ],
      };
    case 'passkeys_removed':
      return {
        subject: 'Passkeys were removed from your account',
        lines: [
          'Your e-mail address was verified.',
          ...removed(notice.removedPasskeys),
          '',
          'If one of them was yours, sign in and add it again.',
        ],
      };
  }
}

/**
 * Mails the owner of an account about a change to how it signs in. A mail failure is
 * logged and never undoes the change: the change is what protects the account.
 */
export async function notifyOwner(
  deps: { logger: Logger; mailer?: Mailer | undefined },
  email: string,
  notice: AccountNotice,
): Promise<void> {
  if (!deps.mailer || !email) return;
  const { subject, lines } = render(notice);
  try {
    await deps.mailer.send({ to: email, subject, text: lines.join('\n') });
  } catch (err) {
    deps.logger.warn('account notice not sent', { kind: notice.kind, error: (err as Error).message });
  }
}
