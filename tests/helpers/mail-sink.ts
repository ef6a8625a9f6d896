import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { createInbox } from './inbox.js';
import { SMTPServer } from 'smtp-server';

/** One e-mail as it arrived over SMTP. */
export interface ReceivedMail {
  to: string[];
  raw: string;
}

/**
 * A local SMTP server that keeps every message it receives, so tests read codes from real
 * mail as the courier or the gateway sent it.
 */
export interface MailSink {
  /** smtp://127.0.0.1:<port>/ for the gateway; Kratos needs `?disable_starttls=true` added. */
  url: string;
  port: number;
  messages: ReceivedMail[];
  /** Messages to `recipient`, newest first. */
  to(recipient: string): ReceivedMail[];
  /** Resolves with the first message to `recipient` after `seen` of them, polling until `timeoutMs`. */
  waitFor(recipient: string, seen?: number, timeoutMs?: number): Promise<ReceivedMail>;
  close(): Promise<void>;
}

/** Undoes quoted-printable soft line breaks and escapes, enough to read codes and links. */
function decodeQuotedPrintable(text: string): string {
  return text
    .replace(/=\r?\n/g, '')
    .replace(/=([0-9A-F]{2})/g, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export async function startMailSink(): Promise<MailSink> {
  const inbox = createInbox<ReceivedMail>((m, recipient) => m.to.includes(recipient.toLowerCase()), 'mail');
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    // A reverse DNS look-up of 127.0.0.1 for every connection only slows each mail down.
    disableReverseLookup: true,
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => {
        const to = session.envelope.rcptTo.map((r) => r.address.toLowerCase());
        inbox.add({ to, raw: decodeQuotedPrintable(Buffer.concat(chunks).toString('utf8')) });
        callback();
      });
    },
  });
  // A sender that goes away mid-connection (Kratos stopped at a suite's end resets its courier's
  // socket) is the sender's business; without a listener smtp-server throws it in the test process.
  server.on('error', () => undefined);
  server.listen(0, '127.0.0.1');
  await once(server.server, 'listening');
  const port = (server.server.address() as AddressInfo).port;
  return {
    url: `smtp://127.0.0.1:${port}/`,
    port,
    messages: inbox.messages,
    to: inbox.to,
    waitFor: inbox.waitFor,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
