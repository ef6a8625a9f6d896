import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One text message as it reached the SMS provider's endpoint. */
export interface ReceivedSms {
  to: string;
  body: string;
  /** The Authorization header it came with. */
  authorization: string | undefined;
}

/**
 * A local stand-in for an operator's SMS provider: an HTTP endpoint that takes the JSON body
 * Kratos' courier (kratos/courier/sms.jsonnet) and the gateway post, `{"to", "body"}`, and keeps
 * every message, so tests read codes from the texts as they were sent. `fail(status)` makes it
 * answer every request with that status (a provider outage) until `fail(undefined)`.
 */
export interface SmsSink {
  url: string;
  /** The key the sink expects as `Authorization: Bearer <key>`; other requests get 401. */
  apiKey: string;
  messages: ReceivedSms[];
  /** Messages to `phone`, newest first. */
  to(phone: string): ReceivedSms[];
  /** Resolves with the first message to `phone` after `seen` of them, waiting until `timeoutMs`. */
  waitFor(phone: string, seen?: number, timeoutMs?: number): Promise<ReceivedSms>;
  fail(status: number | undefined): void;
  close(): Promise<void>;
}

/** The code in a text ("Your login code is: 123456"). */
export function smsCode(message: ReceivedSms): string | undefined {
  return /\b(\d{6})\b/.exec(message.body)?.[1];
}

export async function startSmsSink(apiKey = 'test-sms-provider-key'): Promise<SmsSink> {
  const messages: ReceivedSms[] = [];
  const waiters = new Set<() => void>();
  let failing: number | undefined;
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      if (failing !== undefined) {
        res.writeHead(failing).end();
        return;
      }
      if (req.method !== 'POST' || req.headers.authorization !== `Bearer ${apiKey}`) {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"unauthorized"}');
        return;
      }
      let body: { to?: unknown; body?: unknown };
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
      } catch {
        res.writeHead(400).end();
        return;
      }
      if (typeof body.to !== 'string' || typeof body.body !== 'string') {
        res.writeHead(400).end();
        return;
      }
      messages.push({ to: body.to, body: body.body, authorization: req.headers.authorization });
      for (const wake of waiters) wake();
      res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"status":"queued"}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const to = (phone: string) => messages.filter((m) => m.to === phone).reverse();
  return {
    url: `http://127.0.0.1:${port}/messages`,
    apiKey,
    messages,
    to,
    async waitFor(phone, seen = 0, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = to(phone);
        if (found.length > seen) return found[0]!;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no text to ${phone} within ${timeoutMs} ms`);
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
    fail(status) {
      failing = status;
    },
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const AREA_CODES = ['202', '212', '312', '415', '617', '646', '718', '773', '917'];
let counter = 0;

/** A phone number in E.164 no other test uses (a valid US number, as Kratos' `tel` format wants). */
export function uniquePhone(): string {
  const area = AREA_CODES[(process.pid + counter) % AREA_CODES.length]!;
  const seq = (Date.now() * 7 + counter++ * 7919 + process.pid) % 8_000_000;
  return `+1${area}${String(2_000_000 + seq)}`;
}
