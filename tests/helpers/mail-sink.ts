import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
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
  const messages: ReceivedMail[] = [];
  const waiters = new Set<() => void>();
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
        messages.push({ to, raw: decodeQuotedPrintable(Buffer.concat(chunks).toString('utf8')) });
        for (const wake of waiters) wake();
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
  const to = (recipient: string) => messages.filter((m) => m.to.includes(recipient.toLowerCase())).reverse();
  return {
    url: `smtp://127.0.0.1:${port}/`,
    port,
    messages,
    to,
    async waitFor(recipient, seen = 0, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = to(recipient);
        if (found.length > seen) return found[0]!;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no mail to ${recipient} within ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const wake = () => {
            waiters.delete(wake);
            clearTimeout(timer);
            resolve();
          };
          const timer = setTimeout(wake, left);
          waiters.add(wake);
        });
      }
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
