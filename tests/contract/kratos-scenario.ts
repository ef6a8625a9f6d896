/**
 * One scenario of Kratos API calls, run against any Kratos (the double or the real server),
 * reduced to what must agree between them: status codes, error ids, UI message ids, node names
 * and the body's shape (its key paths, two levels deep). Values that differ by nature (ids,
 * times, tokens, URLs) are left out.
 *
 * tests/real/kratos-differential.test.ts runs it against both in one run and records the real
 * answers in tests/contract/fixtures/kratos-scenario.json (KRATOS_RECORD_FIXTURES=1);
 * tests/contract/kratos-double-fixtures.test.ts holds the double to those recorded answers on
 * a machine without Go.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { uniquePhone } from '../helpers/sms-sink.js';

export const fixturePath = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  'fixtures',
  'kratos-scenario.json',
);

/** One step's answer, reduced to what the double must reproduce. */
export interface StepAnswer {
  step: string;
  status: number;
  errorId?: string;
  messageIds: number[];
  nodeNames: string[];
  shape: string[];
}

export function readFixtures(): StepAnswer[] {
  return JSON.parse(readFileSync(fixturePath, 'utf8')) as StepAnswer[];
}

type Json = Record<string, unknown>;

const DATA_KEYS = new Set(['traits', 'metadata_public', 'metadata_admin', 'transient_payload']);

/** Key paths of a JSON body, two levels deep; arrays contribute the keys of all their elements. */
function shapeOf(body: unknown, prefix = '', depth = 0, out = new Set<string>()): Set<string> {
  if (depth >= 2 || body === null || typeof body !== 'object') return out;
  // Every element of an array counts: Kratos orders an identity's addresses by their random ids.
  for (const value of Array.isArray(body) ? body : [body]) {
    if (value === null || typeof value !== 'object') continue;
    for (const [key, child] of Object.entries(value as Json)) {
      const name = Array.isArray(body) ? `${prefix}[].${key}` : `${prefix}${prefix ? '.' : ''}${key}`;
      out.add(name);
      // Traits and metadata hold the identity's data, not the API's shape.
      if (!DATA_KEYS.has(key)) shapeOf(child, name, depth + 1, out);
    }
  }
  return out;
}

function messageIds(body: Json): number[] {
  const ui = body.ui as
    { messages?: { id: number }[]; nodes?: { messages?: { id: number }[] }[] } | undefined;
  const ids = [
    ...(ui?.messages ?? []).map((m) => m.id),
    ...(ui?.nodes ?? []).flatMap((n) => (n.messages ?? []).map((m) => m.id)),
  ];
  return [...new Set(ids)].sort();
}

function nodeNames(body: Json): string[] {
  const nodes = (body.ui as { nodes?: { attributes?: { name?: string } }[] } | undefined)?.nodes ?? [];
  return [...new Set(nodes.map((n) => n.attributes?.name ?? ''))].filter(Boolean).sort();
}

/** The code of the newest courier message of `template` to `recipient` (read, not recorded). */
async function newestCode(adminUrl: string, recipient: string, template: string): Promise<string> {
  const res = await fetch(`${adminUrl}/admin/courier/messages?recipient=${encodeURIComponent(recipient)}`);
  const messages = (await res.json()) as { template_type: string; body: string; created_at: string }[];
  const newest = messages
    .filter((m) => m.template_type === template)
    .sort((a, b) => Date.parse(b.created_at) - Date.parse(a.created_at))[0];
  const code = /\b(\d{6})\b/.exec(newest?.body ?? '')?.[1];
  if (!code) throw new Error(`no ${template} message to ${recipient}`);
  return code;
}

/**
 * Runs the scenario against the Kratos at `publicUrl` and `adminUrl` (its registration web
 * hooks must reach a gateway) and answers every step reduced.
 */
export async function runKratosScenario(publicUrl: string, adminUrl: string): Promise<StepAnswer[]> {
  const answers: StepAnswer[] = [];
  const email = `scenario-${randomBytes(6).toString('hex')}@example.com`;
  const password = `Scenario-${randomBytes(12).toString('hex')}!`;

  async function call(
    step: string,
    base: string,
    method: string,
    route: string,
    options: { body?: unknown; token?: string } = {},
  ): Promise<Json> {
    const res = await fetch(`${base}${route}`, {
      method,
      headers: {
        Accept: 'application/json',
        ...(options.body ? { 'Content-Type': 'application/json' } : {}),
        ...(options.token ? { 'X-Session-Token': options.token } : {}),
      },
      body: options.body ? JSON.stringify(options.body) : undefined,
      redirect: 'manual',
    });
    const text = await res.text();
    const body = (text ? JSON.parse(text) : {}) as Json;
    const error = body.error as { id?: string } | undefined;
    answers.push({
      step,
      status: res.status,
      ...(error?.id ? { errorId: error.id } : {}),
      messageIds: messageIds(body),
      nodeNames: nodeNames(body),
      shape: [...shapeOf(body)].sort(),
    });
    return body;
  }

  const flowId = (body: Json) => String(body.id);

  // Registration.
  const registration = await call(
    'registration: create API flow',
    publicUrl,
    'GET',
    '/self-service/registration/api',
  );
  await call(
    'registration: password too short',
    publicUrl,
    'POST',
    `/self-service/registration?flow=${flowId(registration)}`,
    {
      body: { method: 'password', password: 'short', traits: { email } },
    },
  );
  await call(
    'registration: success',
    publicUrl,
    'POST',
    `/self-service/registration?flow=${flowId(registration)}`,
    {
      body: { method: 'password', password, traits: { email } },
    },
  );
  const again = await call(
    'registration: second API flow',
    publicUrl,
    'GET',
    '/self-service/registration/api',
  );
  await call(
    'registration: address taken',
    publicUrl,
    'POST',
    `/self-service/registration?flow=${flowId(again)}`,
    {
      body: { method: 'password', password, traits: { email } },
    },
  );

  // Login.
  const login = await call('login: create API flow', publicUrl, 'GET', '/self-service/login/api');
  await call('login: wrong password', publicUrl, 'POST', `/self-service/login?flow=${flowId(login)}`, {
    body: { method: 'password', identifier: email, password: `${password}x` },
  });
  const signedIn = await call(
    'login: success',
    publicUrl,
    'POST',
    `/self-service/login?flow=${flowId(login)}`,
    {
      body: { method: 'password', identifier: email, password },
    },
  );
  const token = String(signedIn.session_token);
  const session = await call('whoami: with token', publicUrl, 'GET', '/sessions/whoami', { token });
  await call('whoami: without credentials', publicUrl, 'GET', '/sessions/whoami');
  await call('login: flow while signed in', publicUrl, 'GET', '/self-service/login/api', { token });
  await call(
    'login: aal2 flow without a second factor',
    publicUrl,
    'GET',
    '/self-service/login/api?aal=aal2',
    {
      token,
    },
  );

  // Settings.
  await call('settings: create API flow', publicUrl, 'GET', '/self-service/settings/api', { token });
  await call('settings: without a session', publicUrl, 'GET', '/self-service/settings/api');

  // Recovery and verification by code.
  const recovery = await call('recovery: create API flow', publicUrl, 'GET', '/self-service/recovery/api');
  await call('recovery: send code', publicUrl, 'POST', `/self-service/recovery?flow=${flowId(recovery)}`, {
    body: { method: 'code', email },
  });
  await call('recovery: wrong code', publicUrl, 'POST', `/self-service/recovery?flow=${flowId(recovery)}`, {
    body: { method: 'code', code: '000000' },
  });
  const verification = await call(
    'verification: create API flow',
    publicUrl,
    'GET',
    '/self-service/verification/api',
  );
  await call(
    'verification: send code',
    publicUrl,
    'POST',
    `/self-service/verification?flow=${flowId(verification)}`,
    {
      body: { method: 'code', email },
    },
  );
  await call(
    'verification: wrong code',
    publicUrl,
    'POST',
    `/self-service/verification?flow=${flowId(verification)}`,
    {
      body: { method: 'code', code: '000000' },
    },
  );

  // Sign-in by an e-mailed code (selfservice.methods.code.passwordless_enabled).
  const unknownCodeLogin = await call(
    'login by code: create API flow',
    publicUrl,
    'GET',
    '/self-service/login/api',
  );
  await call(
    'login by code: unknown address',
    publicUrl,
    'POST',
    `/self-service/login?flow=${flowId(unknownCodeLogin)}`,
    { body: { method: 'code', identifier: `nobody-${randomBytes(6).toString('hex')}@example.com` } },
  );
  const codeLogin = await call('login by code: second API flow', publicUrl, 'GET', '/self-service/login/api');
  const codeRoute = `/self-service/login?flow=${flowId(codeLogin)}`;
  await call('login by code: send code', publicUrl, 'POST', codeRoute, {
    body: { method: 'code', identifier: email },
  });
  await call('login by code: wrong code', publicUrl, 'POST', codeRoute, {
    body: { method: 'code', identifier: email, code: '000000' },
  });
  const loginCode = await newestCode(adminUrl, email, 'login_code_valid');
  await call('login by code: success', publicUrl, 'POST', codeRoute, {
    body: { method: 'code', identifier: email, code: loginCode },
  });
  await call('login by code: code used again', publicUrl, 'POST', codeRoute, {
    body: { method: 'code', identifier: email, code: loginCode },
  });

  // A phone number: the phone trait is a code identifier and a verifiable address, both by SMS.
  const phone = uniquePhone();
  const phoneSettings = await call(
    'settings by SMS: create API flow',
    publicUrl,
    'GET',
    '/self-service/settings/api',
    {
      token,
    },
  );
  const saved = await call(
    'settings by SMS: add a phone number',
    publicUrl,
    'POST',
    `/self-service/settings?flow=${flowId(phoneSettings)}`,
    { token, body: { method: 'profile', traits: { email, phone } } },
  );
  const continueWith = (saved.continue_with ?? []) as {
    action?: string;
    flow?: { id?: string; verifiable_address?: string };
  }[];
  const phoneFlow = continueWith.find(
    (c) => c.action === 'show_verification_ui' && c.flow?.verifiable_address === phone,
  )?.flow?.id;
  if (!phoneFlow) throw new Error('adding a phone number started no verification flow for it');
  const phoneRoute = `/self-service/verification?flow=${phoneFlow}`;
  await call('verification by SMS: wrong code', publicUrl, 'POST', phoneRoute, {
    body: { method: 'code', code: '000000' },
  });
  const phoneCode = await newestCode(adminUrl, phone, 'verification_code_valid');
  await call('verification by SMS: right code', publicUrl, 'POST', phoneRoute, {
    body: { method: 'code', code: phoneCode },
  });
  const smsLogin = await call(
    'login by SMS code: create API flow',
    publicUrl,
    'GET',
    '/self-service/login/api',
  );
  const smsRoute = `/self-service/login?flow=${flowId(smsLogin)}`;
  await call('login by SMS code: send code', publicUrl, 'POST', smsRoute, {
    body: { method: 'code', identifier: phone },
  });
  await call('login by SMS code: wrong code', publicUrl, 'POST', smsRoute, {
    body: { method: 'code', identifier: phone, code: '000000' },
  });
  const smsCode = await newestCode(adminUrl, phone, 'login_code_valid');
  await call('login by SMS code: success', publicUrl, 'POST', smsRoute, {
    body: { method: 'code', identifier: phone, code: smsCode },
  });

  // Admin API.
  const identityId = String((session.identity as Json | undefined)?.id);
  await call('admin: get identity', adminUrl, 'GET', `/admin/identities/${identityId}`);
  await call(
    'admin: get unknown identity',
    adminUrl,
    'GET',
    '/admin/identities/00000000-0000-4000-8000-000000000000',
  );
  await call('admin: create identity with a taken address', adminUrl, 'POST', '/admin/identities', {
    body: { schema_id: 'default', traits: { email } },
  });
  await call(
    'admin: list sessions of the identity',
    adminUrl,
    'GET',
    `/admin/identities/${identityId}/sessions`,
  );

  // Sign-out.
  await call('logout: native', publicUrl, 'DELETE', '/self-service/logout/api', {
    body: { session_token: token },
  });
  await call('whoami: after logout', publicUrl, 'GET', '/sessions/whoami', { token });
  return answers;
}
