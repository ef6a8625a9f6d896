import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createInbox } from './inbox.js';
import { kratosTarget } from './kratos-target.js';

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
  const inbox = createInbox<ReceivedSms>((m, phone) => m.to === phone, 'text');
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
      inbox.add({ to: body.to, body: body.body, authorization: req.headers.authorization });
      res.writeHead(201, { 'Content-Type': 'application/json' }).end('{"status":"queued"}');
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/messages`,
    apiKey,
    messages: inbox.messages,
    to: inbox.to,
    waitFor: inbox.waitFor,
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

/** A courier message as Kratos' admin API lists it. */
interface CourierMessage {
  body: string;
  type: string;
  template_type: string;
  created_at: string;
}

/** The texts Kratos' courier queued for `phone`, newest first (its admin courier API). */
export async function kratosTexts(kratos: { adminUrl: string }, phone: string): Promise<CourierMessage[]> {
  const res = await fetch(`${kratos.adminUrl}/admin/courier/messages?recipient=${encodeURIComponent(phone)}`);
  assert.equal(res.status, 200);
  const messages = (await res.json()) as CourierMessage[];
  return messages
    .filter((m) => m.type === 'sms')
    .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at));
}

/**
 * Runs `send`, then answers the code of the text it made Kratos send to `phone`. The text is read
 * through Kratos' admin courier API: in the real tier every Kratos of a run shares one database,
 * so whichever courier is quickest delivers a message, to its own SMS sink. Against the double,
 * which delivers its own texts, the text must also have reached `sink` as Kratos' http channel
 * posts it (tests/real/kratos-sms-courier.test.ts holds real Kratos' courier to the same).
 */
export async function textedByKratos(
  kratos: { adminUrl: string },
  sink: SmsSink | undefined,
  phone: string,
  send: () => Promise<unknown>,
): Promise<{ code: string; body: string }> {
  const before = (await kratosTexts(kratos, phone)).length;
  const sinkSeen = sink?.to(phone).length ?? 0;
  await send();
  const deadline = Date.now() + 15_000;
  let texts = await kratosTexts(kratos, phone);
  while (texts.length <= before) {
    if (Date.now() > deadline) throw new Error(`Kratos queued no text to ${phone}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    texts = await kratosTexts(kratos, phone);
  }
  const body = texts[0]!.body;
  const code = /\b(\d{6})\b/.exec(body)?.[1];
  assert.ok(code, `the text carries a code: ${body}`);
  if (kratosTarget === 'double' && sink) {
    const delivered = await sink.waitFor(phone, sinkSeen);
    assert.equal(delivered.body, body, 'the SMS provider got the text Kratos queued');
    assert.equal(delivered.authorization, `Bearer ${sink.apiKey}`, 'with the provider key');
  }
  return { code, body };
}
