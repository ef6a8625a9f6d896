import type { Logger } from '../logging/logger.js';
import { AppError } from '../errors/app-error.js';
import type { Mailer, MailMessage } from '../mail/mailer.js';

/** What the first step of a sign-up mails to the address it was given. */
type RegistrationMail =
  { kind: 'code'; code: string; minutes: number } | { kind: 'account_exists'; minutes: number };

/** The two mails of a sign-up. Only the holder of the address ever reads which one it got. */
function renderRegistrationMail(to: string, mail: RegistrationMail): MailMessage {
  switch (mail.kind) {
    case 'code':
      return {
        to,
        subject: 'Your sign-up code',
        text: [
          `Your code to finish signing up: ${mail.code}`,
          '',
          `It is valid for ${mail.minutes} minutes.`,
          'If you did not ask to create an account, ignore this mail: nothing is created without the code.',
        ].join('\n'),
      };
    case 'account_exists':
      return {
        to,
        subject: 'Someone tried to sign up with your address',
        text: [
          'Someone tried to create an account with this e-mail address,',
          'but you already have an account: no new account was created and no code was sent.',
          '',
          'If it was you, sign in instead, or recover your account if you forgot how.',
          'If it was not you, you can ignore this mail; your account is unchanged.',
        ].join('\n'),
      };
  }
}

/**
 * Sends a sign-up mail. Both kinds go through here, so a free and a taken address cost
 * the same SMTP round trip. A refused or unreachable mail server is a 503 for both alike:
 * the answer depends on the mail server, never on the account.
 */
export async function sendRegistrationMail(
  deps: { logger: Logger; mailer?: Mailer | undefined },
  to: string,
  mail: RegistrationMail,
): Promise<void> {
  if (!deps.mailer) {
    deps.logger.warn('sign-up mail not sent: no mailer');
    return;
  }
  try {
    await deps.mailer.send(renderRegistrationMail(to, mail));
  } catch (err) {
    deps.logger.warn('sign-up mail not sent', { error: (err as Error).message });
    throw new AppError('mail_unavailable', 503, 'The sign-up e-mail could not be sent. Try again later.');
  }
}
