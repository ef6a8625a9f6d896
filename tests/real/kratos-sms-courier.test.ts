/**
 * Kratos' courier `sms` channel, with the real Kratos v1.3.1 and the project's kratos.yml: a
 * sign-in code for a phone trait and the verification code of a phone number set through a
 * settings flow are posted to the SMS provider's endpoint (the tests' SMS sink) as
 * kratos/courier/sms.jsonnet renders them, with the provider key as a bearer token.
 *
 * This Kratos has a database of its own: the Kratos servers of a run share one, and whichever of
 * their couriers is quickest delivers a message, to its own endpoint.
 *
 * Part of the real-stack tier (`npm run test:real`), which builds on `npm run real:build`.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { startRealKratos, type RealKratos } from '../helpers/real-kratos.js';
import { smsCode, startSmsSink, uniquePhone, type SmsSink } from '../helpers/sms-sink.js';

let kratos: RealKratos;
let sink: SmsSink;
/** Stands in for the gateway's web hooks (kratos.yml's after-settings hook must be answered). */
let hooks: Server;

before(async () => {
  sink = await startSmsSink('courier-test-key-0123456789');
  hooks = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(204).end());
  });
  hooks.listen(0, '127.0.0.1');
  await once(hooks, 'listening');
  const hookBase = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
  const shared = process.env.KRATOS_REAL_DSN;
  delete process.env.KRATOS_REAL_DSN;
  try {
    kratos = await startRealKratos({
      webhookUrl: (hook) => `${hookBase}/hooks/kratos/${hook}`,
      env: { SMS_PROVIDER_URL: sink.url, SMS_PROVIDER_API_KEY: sink.apiKey },
    });
  } finally {
    if (shared !== undefined) process.env.KRATOS_REAL_DSN = shared;
  }
});
after(async () => {
  await kratos?.close();
  await sink?.close();
  await new Promise((resolve) => hooks?.close(resolve));
});

async function call(base: string, method: string, route: string, body?: unknown, token?: string) {
  const res = await fetch(`${base}${route}`, {
    method,
    headers: {
      Accept: 'application/json',
      ...(body ? { 'Content-Type': 'application/json' } : {}),
      ...(token ? { 'X-Session-Token': token } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  return { status: res.status, body: (await res.json()) as Record<string, any> };
}

describe('Kratos’ courier sms channel (kratos.yml courier.channels)', () => {
  it('texts a sign-in code to a phone trait through the SMS provider endpoint, with the bearer key', async () => {
    const phone = uniquePhone();
    const created = await call(kratos.adminUrl, 'POST', '/admin/identities', {
      schema_id: 'default',
      traits: { email: uniqueEmail('sms'), phone },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const flow = await call(kratos.publicUrl, 'GET', '/self-service/login/api');
    const sent = await call(kratos.publicUrl, 'POST', `/self-service/login?flow=${flow.body.id}`, {
      method: 'code',
      identifier: phone,
    });
    assert.equal(sent.status, 400);
    assert.equal(sent.body.state, 'sent_email');
    const text = await sink.waitFor(phone);
    assert.match(text.body, /^Your login code is: \d{6}\n?$/);
    assert.equal(text.authorization, `Bearer ${sink.apiKey}`);
    const done = await call(kratos.publicUrl, 'POST', `/self-service/login?flow=${flow.body.id}`, {
      method: 'code',
      identifier: phone,
      code: smsCode(text),
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.equal(done.body.session.identity.id, created.body.id);
  });

  it('texts the verification code of a phone number set through a settings flow', async () => {
    const email = uniqueEmail('sms');
    const created = await call(kratos.adminUrl, 'POST', '/admin/identities', {
      schema_id: 'default',
      traits: { email },
      credentials: { password: { config: { password: STRONG_PASSWORD } } },
    });
    assert.equal(created.status, 201);
    const login = await call(kratos.publicUrl, 'GET', '/self-service/login/api');
    const signedIn = await call(kratos.publicUrl, 'POST', `/self-service/login?flow=${login.body.id}`, {
      method: 'password',
      identifier: email,
      password: STRONG_PASSWORD,
    });
    assert.equal(signedIn.status, 200, JSON.stringify(signedIn.body));
    const token = String(signedIn.body.session_token);
    const phone = uniquePhone();
    const settings = await call(kratos.publicUrl, 'GET', '/self-service/settings/api', undefined, token);
    const saved = await call(
      kratos.publicUrl,
      'POST',
      `/self-service/settings?flow=${settings.body.id}`,
      { method: 'profile', traits: { email, phone } },
      token,
    );
    assert.equal(saved.status, 200, JSON.stringify(saved.body));
    const text = await sink.waitFor(phone);
    assert.match(text.body, /^Your verification code is: \d{6}\n?$/);
    assert.equal(text.authorization, `Bearer ${sink.apiKey}`);
  });
});
