import nodemailer from 'nodemailer';
import type { Logger } from '../logging/logger.js';

/** One plain-text notice to one person. */
export interface MailMessage {
  to: string;
  subject: string;
  text: string;
}

/** Sends notices (lockout warnings, ...). The one module that talks SMTP. */
export interface Mailer {
  /** Sends the message; throws when the SMTP server refuses it or cannot be reached. */
  send(message: MailMessage): Promise<void>;
  close(): void;
}

/**
 * A nodemailer SMTP transport for `smtpUrl` (smtp://host:port, smtps://user:pass@host).
 * Without a URL, notices are only logged (without their text): development needs no
 * mail server, and the message body never reaches the logs. `printToConsole` (development
 * only) prints such mails whole on the terminal instead, so `npm run dev` can finish a
 * sign-up by code without a mail server.
 */
export function createMailer(options: {
  smtpUrl?: string;
  from: string;
  logger: Logger;
  printToConsole?: boolean;
}): Mailer {
  if (!options.smtpUrl && options.printToConsole) {
    return {
      send(message) {
        process.stdout.write(
          `\n--- mail (development, SMTP_URL unset) to ${message.to}: ${message.subject}\n${message.text}\n---\n`,
        );
        return Promise.resolve();
      },
      close: () => undefined,
    };
  }
  if (!options.smtpUrl) {
    return {
      send(message) {
        options.logger.info('mail not sent: SMTP_URL is not configured', { subject: message.subject });
        return Promise.resolve();
      },
      close: () => undefined,
    };
  }
  const transport = nodemailer.createTransport({
    url: options.smtpUrl,
    connectionTimeout: 5000,
    greetingTimeout: 5000,
    socketTimeout: 10000,
  });
  return {
    async send(message) {
      await transport.sendMail({ from: options.from, ...message });
    },
    close: () => transport.close(),
  };
}
