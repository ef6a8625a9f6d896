import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startKratosDouble, type KratosDouble, type KratosDoubleOptions } from '../doubles/kratos/index.js';
import {
  codeFrom,
  createClock,
  createContractClient,
  messageIds,
  node,
  totpCode,
  type CallResult,
} from './kratos-contract-helpers.js';

const PASSWORD = 'correct horse battery staple';
/** Operation id -> statuses seen, across every suite of this file. */
const exercised = new Map<string, Set<number>>();
let counter = 0;
const uniqueEmail = (label: string): string => `${label}-${(counter += 1)}-${Date.now()}@example.com`;

type Client = ReturnType<typeof createContractClient>;

interface DoubleHandle {
  clock: ReturnType<typeof createClock>;
  client: Client;
  readonly kratos: KratosDouble;
}

/** Starts a double for one suite, with a contract-checking client and a movable clock. */
function useDouble(options: KratosDoubleOptions = {}): DoubleHandle {
  const clock = createClock();
  let kratos: KratosDouble | undefined;
  const current = (): KratosDouble => {
    if (!kratos) throw new Error('double not started');
    return kratos;
  };
  before(async () => {
    kratos = await startKratosDouble({ now: clock.now, ...options });
  });
  after(async () => {
    await kratos?.close();
  });
  const client = createContractClient(
    () => current().publicUrl,
    () => current().adminUrl,
    exercised,
  );
  return {
    clock,
    client,
    get kratos() {
      return current();
    },
  };
}

async function register(client: Client, email: string, password = PASSWORD): Promise<CallResult> {
  const flow = await client.pub('GET', '/self-service/registration/api');
  return client.pub('POST', `/self-service/registration?flow=${flow.body.id}`, {
    json: { method: 'password', password, traits: { email } },
  });
}

async function seedIdentity(
  client: Client,
  email: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const created = await client.admin('POST', '/admin/identities', {
    json: {
      schema_id: 'default',
      traits: { email },
      credentials: { password: { config: { password: PASSWORD } } },
      ...extra,
    },
  });
  assert.equal(created.status, 201);
  return created.body.id;
}

async function login(client: Client, identifier: string, password = PASSWORD): Promise<CallResult> {
  const flow = await client.pub('GET', '/self-service/login/api');
  return client.pub('POST', `/self-service/login?flow=${flow.body.id}`, {
    json: { method: 'password', identifier, password },
  });
}

async function tokenFor(client: Client, email: string): Promise<string> {
  const result = await login(client, email);
  assert.equal(result.status, 200);
  return result.body.session_token;
}

async function latestCode(client: Client, email: string): Promise<string> {
  const messages = await client.admin(
    'GET',
    `/admin/courier/messages?recipient=${encodeURIComponent(email)}`,
  );
  assert.ok(messages.body.length > 0, `no message for ${email}`);
  return codeFrom(messages.body[0].body);
}

describe('Kratos double: health and metadata', () => {
  const double = useDouble();
  const { client } = double;

  it('moves an admin path outside /admin there with a 307, as Kratos does', async () => {
    for (const path of ['/health/ready', '/identities?per_page=1']) {
      const res = await fetch(`${double.kratos.adminUrl}${path}`, { redirect: 'manual' });
      await res.arrayBuffer();
      assert.equal(res.status, 307, path);
      assert.equal(res.headers.get('location'), `/admin${path}`);
    }
    const ready = await fetch(`${double.kratos.adminUrl}/admin/health/ready`);
    assert.deepEqual(await ready.json(), { status: 'ok' });
  });

  it('answers an identity read before Express exactly as its Express route does', async () => {
    const id = await seedIdentity(client, 'fast-read@example.com', { metadata_admin: { note: "it's" } });
    const read = async (query: string) => {
      const res = await fetch(`${double.kratos.adminUrl}/admin/identities/${id}${query}`);
      return {
        status: res.status,
        type: res.headers.get('content-type'),
        etag: res.headers.get('etag'),
        body: await res.text(),
      };
    };
    for (const query of [
      '',
      '?include_credential=password',
      '?include_credential=password&include_credential=totp',
    ]) {
      const fast = await read(query);
      double.kratos.setLatency(1); // with latency, every request goes through Express
      const routed = await read(query);
      double.kratos.setLatency(0);
      assert.deepEqual(fast, routed, query);
      assert.equal(fast.status, 200);
      assert.equal(fast.etag, null, 'Kratos answers without an ETag');
    }
    const unknown = await fetch(
      `${double.kratos.adminUrl}/admin/identities/00000000-0000-0000-0000-000000000000`,
    );
    assert.equal(unknown.status, 404, 'an unknown id goes on to the route, which answers 404');
    const malformed = await fetch(`${double.kratos.adminUrl}/admin/identities/%E0%A4%A`);
    await malformed.arrayBuffer();
    assert.ok(malformed.status >= 400 && malformed.status < 500, String(malformed.status));
  });

  it('answers alive and ready on both ports (the admin port through its redirect)', async () => {
    assert.deepEqual((await client.pub('GET', '/health/alive')).body, { status: 'ok' });
    assert.deepEqual((await client.pub('GET', '/health/ready')).body, { status: 'ok' });
    for (const path of ['/health/alive', '/health/ready']) {
      const res = await fetch(`${double.kratos.adminUrl}${path}`);
      assert.deepEqual(await res.json(), { status: 'ok' }, path);
    }
  });

  it('serves its version and the identity schema', async () => {
    assert.equal((await client.pub('GET', '/version')).body.version, 'v1.3.1');
    const schemas = await client.pub('GET', '/schemas');
    assert.equal(schemas.body[0].id, 'default');
    assert.equal((await client.pub('GET', '/schemas/default')).status, 200);
    assert.equal((await client.pub('GET', '/schemas/unknown')).status, 404);
  });
});

describe('Kratos double: registration API flow', () => {
  const { client, clock } = useDouble();

  it('offers the profile step first and the password node only after a password failure', async () => {
    const flow = await client.pub('GET', '/self-service/registration/api');
    assert.equal(flow.status, 200);
    assert.equal(flow.body.type, 'api');
    assert.equal(flow.body.active, undefined);
    assert.deepEqual(
      flow.body.ui.nodes.map((n: { attributes: { name: string } }) => n.attributes.name),
      ['csrf_token', 'traits.email', 'traits.phone', 'traits.name.first', 'traits.name.last', 'method'],
    );
    assert.equal(node(flow.body, 'traits.email').attributes.type, 'email');
    assert.equal(node(flow.body, 'traits.phone').attributes.type, 'tel');
    assert.equal(node(flow.body, 'traits.phone').attributes.autocomplete, 'tel');
    assert.equal(node(flow.body, 'password'), undefined);
    assert.equal(node(flow.body, 'method').attributes.value, 'profile');
    assert.equal(node(flow.body, 'method').group, 'profile');
    const failed = await client.pub('POST', `/self-service/registration?flow=${flow.body.id}`, {
      json: { method: 'password', password: 'short', traits: { email: uniqueEmail('step') } },
    });
    assert.equal(failed.status, 400);
    const password = node(failed.body, 'password');
    assert.equal(password.attributes.autocomplete, 'new-password');
    assert.equal(password.messages[0].id, 4000032);
    assert.equal(node(failed.body, 'method').attributes.value, 'password');
  });

  it('registers, returns identity, session and token, and sends a verification code', async () => {
    const email = uniqueEmail('reg');
    const result = await register(client, email);
    assert.equal(result.status, 200);
    assert.equal(result.body.identity.traits.email, email);
    assert.equal(result.body.session.identity.id, result.body.identity.id);
    assert.match(result.body.session_token, /^ory_st_/);
    const actions = result.body.continue_with.map((c: { action: string }) => c.action);
    assert.deepEqual(actions, ['show_verification_ui', 'set_ory_session_token']);
    assert.match(await latestCode(client, email), /^\d{6}$/);
  });

  it('rejects a password shorter than the configured minimum with 4000032', async () => {
    const result = await register(client, uniqueEmail('short'), 'short');
    assert.equal(result.status, 400);
    assert.equal(node(result.body, 'password').messages[0].id, 4000032);
  });

  it('rejects a password too similar to the identifier with 4000031', async () => {
    const email = uniqueEmail('similar');
    const result = await register(client, email, `${email}1`);
    assert.equal(result.status, 400);
    assert.equal(node(result.body, 'password').messages[0].id, 4000031);
  });

  it('rejects traits that break the identity schema, on the trait node', async () => {
    const flow = await client.pub('GET', '/self-service/registration/api');
    const missing = await client.pub('POST', `/self-service/registration?flow=${flow.body.id}`, {
      json: { method: 'password', password: PASSWORD, traits: {} },
    });
    assert.equal(missing.status, 400);
    assert.equal(node(missing.body, 'traits.email').messages[0].id, 4000002);
    const invalid = await client.pub('POST', `/self-service/registration?flow=${flow.body.id}`, {
      json: { method: 'password', password: PASSWORD, traits: { email: 'not-an-email' } },
    });
    assert.equal(invalid.status, 400);
    assert.equal(node(invalid.body, 'traits.email').messages[0].id, 4000001);
    assert.equal(node(invalid.body, 'traits.email').attributes.value, 'not-an-email');
  });

  it('rejects an existing identifier with 4000007', async () => {
    const email = uniqueEmail('dup');
    assert.equal((await register(client, email)).status, 200);
    const again = await register(client, email.toUpperCase());
    assert.equal(again.status, 400);
    assert.deepEqual(messageIds(again.body), [4000007]);
  });

  it('rejects an unknown method with 4010003', async () => {
    const flow = await client.pub('GET', '/self-service/registration/api');
    const result = await client.pub('POST', `/self-service/registration?flow=${flow.body.id}`, {
      json: { method: 'oidc' },
    });
    assert.equal(result.status, 400);
    assert.deepEqual(messageIds(result.body), [4010003]);
  });

  it('refuses to start while a session is presented', async () => {
    const result = await register(client, uniqueEmail('logged'));
    const flow = await client.pub('GET', '/self-service/registration/api', {
      headers: { 'x-session-token': result.body.session_token },
    });
    assert.equal(flow.status, 400);
    assert.equal(flow.body.error.id, 'session_already_available');
  });

  it('answers 404 for an unknown flow and 410 with a new flow id for an expired one', async () => {
    const unknown = await client.pub(
      'POST',
      '/self-service/registration?flow=00000000-0000-4000-8000-000000000000',
      {
        json: { method: 'password' },
      },
    );
    assert.equal(unknown.status, 404);
    const flow = await client.pub('GET', '/self-service/registration/api');
    const flowById = await client.pub('GET', `/self-service/registration/flows?id=${flow.body.id}`);
    assert.equal(flowById.body.id, flow.body.id);
    clock.advance(11 * 60_000);
    const expired = await client.pub('POST', `/self-service/registration?flow=${flow.body.id}`, {
      json: { method: 'password', password: PASSWORD, traits: { email: uniqueEmail('late') } },
    });
    assert.equal(expired.status, 410);
    assert.equal(expired.body.error.id, 'self_service_flow_expired');
    assert.match(expired.body.use_flow_id, /^[0-9a-f-]{36}$/);
  });
});

describe('Kratos double: login API flow, whoami and logout', () => {
  const { client, clock } = useDouble();
  const email = uniqueEmail('login');
  before(async () => {
    await seedIdentity(client, email);
  });

  it('offers identifier, password and submit nodes like Kratos', async () => {
    const flow = await client.pub('GET', '/self-service/login/api');
    assert.equal(flow.status, 200);
    assert.deepEqual(
      flow.body.ui.nodes.map((n: { attributes: { name: string } }) => n.attributes.name),
      ['identifier', 'csrf_token', 'password', 'method'],
    );
    assert.equal(flow.body.requested_aal, 'aal1');
  });

  it('logs in with a password and returns session and token', async () => {
    const result = await login(client, email.toUpperCase());
    assert.equal(result.status, 200);
    assert.equal(result.body.session.authenticator_assurance_level, 'aal1');
    assert.equal(result.body.session.authentication_methods[0].method, 'password');
  });

  it('answers 400 with 4000006 for wrong credentials and keeps the identifier', async () => {
    for (const identifier of [email, uniqueEmail('nobody')]) {
      const result = await login(client, identifier, 'wrong password here');
      assert.equal(result.status, 400);
      assert.deepEqual(messageIds(result.body), [4000006]);
      assert.equal(node(result.body, 'identifier').attributes.value, identifier);
    }
  });

  it('marks missing fields as required', async () => {
    const flow = await client.pub('GET', '/self-service/login/api');
    const result = await client.pub('POST', `/self-service/login?flow=${flow.body.id}`, {
      json: { method: 'password' },
    });
    assert.equal(result.status, 400);
    assert.equal(node(result.body, 'identifier').messages[0].id, 4000002);
    assert.equal(node(result.body, 'password').messages[0].id, 4000002);
  });

  it('refuses an inactive identity with the disabled-account message', async () => {
    const inactive = uniqueEmail('inactive');
    await seedIdentity(client, inactive, { state: 'inactive' });
    const result = await login(client, inactive);
    assert.equal(result.status, 400);
    assert.equal(result.body.ui.messages[0].text, 'This account was disabled.');
  });

  it('resolves whoami by token, refuses without a session, and logs out', async () => {
    const token = await tokenFor(client, email);
    const whoami = await client.pub('GET', '/sessions/whoami', { headers: { 'x-session-token': token } });
    assert.equal(whoami.status, 200);
    assert.equal(whoami.body.identity.traits.email, email);
    const none = await client.pub('GET', '/sessions/whoami');
    assert.equal(none.status, 401);
    assert.equal(none.body.error.code, 401);
    assert.equal(none.body.error.id, undefined);
    assert.equal(
      (await client.pub('DELETE', '/self-service/logout/api', { json: { session_token: token } })).status,
      204,
    );
    assert.equal(
      (await client.pub('GET', '/sessions/whoami', { headers: { 'x-session-token': token } })).status,
      401,
    );
    assert.equal(
      (await client.pub('DELETE', '/self-service/logout/api', { json: { session_token: token } })).status,
      403,
    );
    assert.equal((await client.pub('DELETE', '/self-service/logout/api', { json: {} })).status, 400);
  });

  it('refreshes an existing session with refresh=true', async () => {
    const token = await tokenFor(client, email);
    const flow = await client.pub('GET', '/self-service/login/api?refresh=true', {
      headers: { 'x-session-token': token },
    });
    assert.equal(flow.body.refresh, true);
    assert.equal(node(flow.body, 'identifier').attributes.value, email);
    const refused = await client.pub('GET', '/self-service/login/api', {
      headers: { 'x-session-token': token },
    });
    assert.equal(refused.status, 400);
    clock.advance(60_000);
    const done = await client.pub('POST', `/self-service/login?flow=${flow.body.id}`, {
      headers: { 'x-session-token': token },
      json: { method: 'password', identifier: email, password: PASSWORD },
    });
    assert.equal(done.status, 200);
    assert.equal(done.body.session_token, token);
    assert.equal(done.body.session.authentication_methods.length, 2);
  });

  it('lists, revokes one and revokes all other sessions of the caller', async () => {
    const current = await tokenFor(client, email);
    await tokenFor(client, email);
    const headers = { 'x-session-token': current };
    const others = await client.pub('GET', '/sessions', { headers });
    assert.ok(others.body.length >= 1);
    const me = await client.pub('GET', '/sessions/whoami', { headers });
    assert.equal((await client.pub('DELETE', `/sessions/${me.body.id}`, { headers })).status, 400);
    assert.equal((await client.pub('DELETE', `/sessions/${others.body[0].id}`, { headers })).status, 204);
    const revoked = await client.pub('DELETE', '/sessions', { headers });
    assert.equal(revoked.status, 200);
    assert.equal((await client.pub('GET', '/sessions', { headers })).body.length, 0);
    assert.equal((await client.pub('GET', '/sessions', {})).status, 401);
  });

  it('answers 410 for an expired login flow', async () => {
    const flow = await client.pub('GET', '/self-service/login/api');
    clock.advance(11 * 60_000);
    const expired = await client.pub('POST', `/self-service/login?flow=${flow.body.id}`, {
      json: { method: 'password', identifier: email, password: PASSWORD },
    });
    assert.equal(expired.status, 410);
    assert.equal((await client.pub('GET', `/self-service/login/flows?id=${flow.body.id}`)).status, 410);
  });
});

describe('Kratos double: browser login and logout', () => {
  const { client } = useDouble();
  const email = uniqueEmail('browser');
  before(async () => {
    await seedIdentity(client, email);
  });

  it('redirects to the login UI with a CSRF cookie, or answers JSON', async () => {
    const redirect = await client.pub('GET', '/self-service/login/browser', {
      headers: { accept: 'text/html' },
    });
    assert.equal(redirect.status, 303);
    assert.match(redirect.headers.get('location') ?? '', /flow=/);
    assert.match(redirect.headers.get('set-cookie') ?? '', /^csrf_token_/);
    const json = await client.pub('GET', '/self-service/login/browser');
    assert.equal(json.body.type, 'browser');
    assert.notEqual(node(json.body, 'csrf_token').attributes.value, '');
  });

  it('refuses a submission without the CSRF token', async () => {
    const flow = await client.pub('GET', '/self-service/login/browser');
    const result = await client.pub('POST', `/self-service/login?flow=${flow.body.id}`, {
      form: { method: 'password', identifier: email, password: PASSWORD },
    });
    assert.equal(result.status, 403);
    assert.equal(result.body.error.id, 'security_csrf_violation');
  });

  it('sets an HttpOnly ory_kratos_session cookie that whoami and logout accept', async () => {
    const flow = await client.pub('GET', '/self-service/login/browser');
    const csrfCookie = (flow.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const done = await client.pub('POST', `/self-service/login?flow=${flow.body.id}`, {
      headers: { cookie: csrfCookie, accept: 'text/html' },
      form: {
        method: 'password',
        identifier: email,
        password: PASSWORD,
        csrf_token: node(flow.body, 'csrf_token').attributes.value,
      },
    });
    assert.equal(done.status, 303);
    const setCookie = done.headers.get('set-cookie') ?? '';
    assert.match(setCookie, /ory_kratos_session=[^;]+;.*HttpOnly/i);
    const cookie = setCookie.split(';')[0] ?? '';
    assert.equal((await client.pub('GET', '/sessions/whoami', { headers: { cookie } })).status, 200);
    const logout = await client.pub('GET', '/self-service/logout/browser', { headers: { cookie } });
    assert.equal(logout.status, 200);
    assert.equal((await client.pub('GET', '/self-service/logout/browser')).status, 401);
    const url = new URL(logout.body.logout_url);
    const out = await client.pub('GET', `${url.pathname}${url.search}`, {
      headers: { cookie, accept: 'text/html' },
    });
    assert.equal(out.status, 303);
    assert.equal((await client.pub('GET', '/sessions/whoami', { headers: { cookie } })).status, 401);
  });

  it('starts browser registration, recovery and verification flows by redirect or JSON', async () => {
    for (const kind of ['registration', 'recovery', 'verification']) {
      const redirect = await client.pub('GET', `/self-service/${kind}/browser`, {
        headers: { accept: 'text/html' },
      });
      assert.equal(redirect.status, 303, kind);
      const json = await client.pub('GET', `/self-service/${kind}/browser`);
      assert.equal(json.body.type, 'browser', kind);
    }
  });

  it('starts a browser settings flow for a cookie session only', async () => {
    assert.equal((await client.pub('GET', '/self-service/settings/browser')).status, 401);
    const flow = await client.pub('GET', '/self-service/login/browser');
    const csrfCookie = (flow.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const done = await client.pub('POST', `/self-service/login?flow=${flow.body.id}`, {
      headers: { cookie: csrfCookie },
      json: {
        method: 'password',
        identifier: email,
        password: PASSWORD,
        csrf_token: node(flow.body, 'csrf_token').attributes.value,
      },
    });
    const cookie = (done.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const settings = await client.pub('GET', '/self-service/settings/browser', { headers: { cookie } });
    assert.equal(settings.status, 200);
    assert.equal(settings.body.identity.traits.email, email);
  });

  it('answers JSON with the session for SPA submissions', async () => {
    const flow = await client.pub('GET', '/self-service/login/browser');
    const csrfCookie = (flow.headers.get('set-cookie') ?? '').split(';')[0] ?? '';
    const done = await client.pub('POST', `/self-service/login?flow=${flow.body.id}`, {
      headers: { cookie: csrfCookie },
      json: {
        method: 'password',
        identifier: email,
        password: PASSWORD,
        csrf_token: node(flow.body, 'csrf_token').attributes.value,
      },
    });
    assert.equal(done.status, 200);
    assert.equal(done.body.session.identity.traits.email, email);
    assert.equal(done.body.session_token, undefined);
  });
});

describe('Kratos double: admin identities', () => {
  const { client } = useDouble();

  it('creates an identity with a password, metadata and state', async () => {
    const email = uniqueEmail('admin');
    const created = await client.admin('POST', '/admin/identities', {
      json: {
        schema_id: 'default',
        traits: { email },
        metadata_public: { roles: ['user'] },
        metadata_admin: { note: 'seeded' },
        credentials: { password: { config: { password: PASSWORD } } },
      },
    });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body.credentials.password.identifiers, [email]);
    assert.equal(created.body.credentials.password.config, undefined);
    assert.equal((await login(client, email)).status, 200);
  });

  it('refuses invalid traits with 400 and a taken identifier with 409', async () => {
    const bad = await client.admin('POST', '/admin/identities', {
      json: { schema_id: 'default', traits: { email: 'x' } },
    });
    assert.equal(bad.status, 400);
    const email = uniqueEmail('taken');
    await seedIdentity(client, email);
    const dup = await client.admin('POST', '/admin/identities', {
      json: { schema_id: 'default', traits: { email } },
    });
    assert.equal(dup.status, 409);
  });

  it('gets an identity with and without credential configs, and 404 when unknown', async () => {
    const id = await seedIdentity(client, uniqueEmail('get'));
    const plain = await client.admin('GET', `/admin/identities/${id}`);
    assert.equal(plain.body.credentials.password.config, undefined);
    const withPassword = await client.admin('GET', `/admin/identities/${id}?include_credential=password`);
    assert.match(withPassword.body.credentials.password.config.hashed_password, /^\$/);
    assert.equal(
      (await client.admin('GET', '/admin/identities/00000000-0000-4000-8000-000000000000')).status,
      404,
    );
  });

  it('lists by credentials identifier and pages with Link headers', async () => {
    const email = uniqueEmail('list');
    const id = await seedIdentity(client, email);
    await seedIdentity(client, uniqueEmail('list'));
    const found = await client.admin(
      'GET',
      `/admin/identities?credentials_identifier=${encodeURIComponent(email)}`,
    );
    assert.deepEqual(
      found.body.map((i: { id: string }) => i.id),
      [id],
    );
    const first = await client.admin('GET', '/admin/identities?page_size=1');
    assert.equal(first.body.length, 1);
    const next = /<([^>]+)>; rel="next"/.exec(first.headers.get('link') ?? '')?.[1];
    assert.ok(next);
    const second = await client.admin('GET', new URL(next).pathname + new URL(next).search);
    assert.notEqual(second.body[0].id, first.body[0].id);
  });

  it('patches traits and metadata, refusing denied paths', async () => {
    const id = await seedIdentity(client, uniqueEmail('patch'));
    const patched = await client.admin('PATCH', `/admin/identities/${id}`, {
      json: [
        { op: 'add', path: '/metadata_public', value: { roles: ['admin'] } },
        { op: 'add', path: '/traits/name', value: { first: 'Ada' } },
      ],
    });
    assert.equal(patched.status, 200);
    assert.deepEqual(patched.body.metadata_public, { roles: ['admin'] });
    assert.equal(patched.body.traits.name.first, 'Ada');
    const denied = await client.admin('PATCH', `/admin/identities/${id}`, {
      json: [{ op: 'replace', path: '/id', value: 'x' }],
    });
    assert.equal(denied.status, 400);
    const unknown = await client.admin('PATCH', '/admin/identities/00000000-0000-4000-8000-000000000000', {
      json: [],
    });
    assert.equal(unknown.status, 404);
  });

  it('updates with PUT, and deactivation ends whoami for existing sessions', async () => {
    const email = uniqueEmail('put');
    const id = await seedIdentity(client, email);
    const token = await tokenFor(client, email);
    const updated = await client.admin('PUT', `/admin/identities/${id}`, {
      json: {
        schema_id: 'default',
        traits: { email },
        state: 'inactive',
        metadata_admin: { reason: 'abuse' },
      },
    });
    assert.equal(updated.status, 200);
    assert.equal(updated.body.state, 'inactive');
    assert.ok(updated.body.state_changed_at);
    assert.equal(
      (await client.pub('GET', '/sessions/whoami', { headers: { 'x-session-token': token } })).status,
      401,
    );
    const invalid = await client.admin('PUT', `/admin/identities/${id}`, {
      json: { schema_id: 'default', traits: {}, state: 'active' },
    });
    assert.equal(invalid.status, 400);
  });

  it('issues an operator recovery code that completes a recovery flow', async () => {
    const email = uniqueEmail('operator');
    const id = await seedIdentity(client, email);
    const issued = await client.admin('POST', '/admin/recovery/code', {
      json: { identity_id: id, flow_type: 'api' },
    });
    assert.equal(issued.status, 201);
    const flowId = new URL(issued.body.recovery_link).searchParams.get('flow');
    const done = await client.pub('POST', `/self-service/recovery?flow=${flowId}`, {
      json: { method: 'code', code: issued.body.recovery_code },
    });
    assert.equal(done.status, 200);
    assert.equal(done.body.state, 'passed_challenge');
    const unknown = await client.admin('POST', '/admin/recovery/code', {
      json: { identity_id: '00000000-0000-4000-8000-000000000000' },
    });
    assert.equal(unknown.status, 404);
    const badLifespan = await client.admin('POST', '/admin/recovery/code', {
      json: { identity_id: id, expires_in: 'soon' },
    });
    assert.equal(badLifespan.status, 400);
  });

  it('deletes second-factor credentials but not the password', async () => {
    const email = uniqueEmail('creds');
    const id = await seedIdentity(client, email);
    assert.equal((await client.admin('DELETE', `/admin/identities/${id}/credentials/password`)).status, 400);
    assert.equal((await client.admin('DELETE', `/admin/identities/${id}/credentials/totp`)).status, 404);
  });

  it('lists and revokes the sessions of an identity, then deletes it', async () => {
    const email = uniqueEmail('sessions');
    const id = await seedIdentity(client, email);
    const token = await tokenFor(client, email);
    const sessions = await client.admin('GET', `/admin/identities/${id}/sessions`);
    assert.equal(sessions.body.length, 1);
    assert.equal((await client.admin('DELETE', `/admin/identities/${id}/sessions`)).status, 204);
    assert.equal(
      (await client.pub('GET', '/sessions/whoami', { headers: { 'x-session-token': token } })).status,
      401,
    );
    assert.equal((await client.admin('GET', `/admin/identities/${id}/sessions?active=true`)).body.length, 0);
    assert.equal((await client.admin('DELETE', `/admin/identities/${id}`)).status, 204);
    assert.equal((await client.admin('DELETE', `/admin/identities/${id}`)).status, 404);
    assert.equal((await client.admin('GET', `/admin/identities/${id}/sessions`)).status, 404);
  });
});

describe('Kratos double: admin sessions', () => {
  const { client } = useDouble();

  it('lists, gets, extends and revokes sessions', async () => {
    const email = uniqueEmail('adminsession');
    await seedIdentity(client, email);
    const token = await tokenFor(client, email);
    const whoami = await client.pub('GET', '/sessions/whoami', { headers: { 'x-session-token': token } });
    const list = await client.admin('GET', '/admin/sessions?expand=identity');
    assert.ok(list.body.some((s: { id: string }) => s.id === whoami.body.id));
    const got = await client.admin('GET', `/admin/sessions/${whoami.body.id}?expand=identity`);
    assert.equal(got.body.identity.traits.email, email);
    const extended = await client.admin('PATCH', `/admin/sessions/${whoami.body.id}/extend`);
    assert.equal(extended.status, 200);
    assert.equal((await client.admin('DELETE', `/admin/sessions/${whoami.body.id}`)).status, 204);
    assert.equal(
      (await client.pub('GET', '/sessions/whoami', { headers: { 'x-session-token': token } })).status,
      401,
    );
    assert.equal((await client.admin('GET', `/admin/sessions/${whoami.body.id}`)).body.active, false);
    assert.equal(
      (await client.admin('GET', '/admin/sessions/00000000-0000-4000-8000-000000000000')).status,
      404,
    );
    assert.equal((await client.admin('PATCH', `/admin/sessions/${whoami.body.id}/extend`)).status, 404);
  });
});

describe('Kratos double: recovery by code', () => {
  const double = useDouble();
  const { client, clock } = double;
  const email = uniqueEmail('recover');
  before(async () => {
    await seedIdentity(client, email);
  });

  async function sentFlow(address: string): Promise<CallResult> {
    const flow = await client.pub('GET', '/self-service/recovery/api');
    assert.deepEqual(
      flow.body.ui.nodes.map((n: { attributes: { name: string } }) => n.attributes.name),
      ['csrf_token', 'email', 'method'],
    );
    assert.equal(flow.body.active, 'code');
    return client.pub('POST', `/self-service/recovery?flow=${flow.body.id}`, {
      json: { method: 'code', email: address },
    });
  }

  it('sends a code and answers the same for unknown addresses', async () => {
    const known = await sentFlow(email);
    assert.equal(known.status, 200);
    assert.equal(known.body.state, 'sent_email');
    assert.deepEqual(messageIds(known.body), [1060003]);
    const sentBefore = double.kratos.state.courier.length;
    const unknown = await sentFlow(uniqueEmail('ghost'));
    assert.equal(unknown.status, 200);
    assert.deepEqual(messageIds(unknown.body), [1060003]);
    assert.equal(double.kratos.state.courier.length, sentBefore);
  });

  it('refuses a wrong code with 4060006 and a malformed address with a node message', async () => {
    const flow = await sentFlow(email);
    const wrong = await client.pub('POST', `/self-service/recovery?flow=${flow.body.id}`, {
      json: { method: 'code', code: '000000' },
    });
    // Kratos v1.3.1 answers a wrong code with 200 and the refusal on the flow, not with 400.
    assert.equal(wrong.status, 200);
    assert.deepEqual(messageIds(wrong.body), [4060006]);
    assert.equal(wrong.body.state, 'sent_email');
    assert.equal(wrong.body.continue_with, undefined);
    assert.deepEqual(wrong.body.transient_payload, {});
    const start = await client.pub('GET', '/self-service/recovery/api');
    const malformed = await client.pub('POST', `/self-service/recovery?flow=${start.body.id}`, {
      json: { method: 'code', email: 'nope' },
    });
    assert.equal(malformed.status, 400);
    assert.equal(node(malformed.body, 'email').messages[0].id, 4000001);
  });

  it('recovers with the emailed code into a privileged session and a settings flow, once', async () => {
    const flow = await sentFlow(email);
    const code = await latestCode(client, email);
    const done = await client.pub('POST', `/self-service/recovery?flow=${flow.body.id}`, {
      json: { method: 'code', code },
    });
    assert.equal(done.status, 200);
    assert.equal(done.body.state, 'passed_challenge');
    const token = done.body.continue_with.find(
      (c: { action: string }) => c.action === 'set_ory_session_token',
    ).ory_session_token;
    const settings = done.body.continue_with.find(
      (c: { action: string }) => c.action === 'show_settings_ui',
    ).flow;
    const changed = await client.pub('POST', `/self-service/settings?flow=${settings.id}`, {
      headers: { 'x-session-token': token },
      json: { method: 'password', password: 'a brand new passphrase' },
    });
    assert.equal(changed.status, 200);
    assert.equal((await login(client, email, 'a brand new passphrase')).status, 200);
    const identityId = (
      await client.pub('GET', '/sessions/whoami', { headers: { 'x-session-token': token } })
    ).body.identity.id;
    const sessions = async (): Promise<number> =>
      (await client.admin('GET', `/admin/identities/${identityId}/sessions`)).body.length;
    const sessionsBefore = await sessions();
    const reused = await client.pub('POST', `/self-service/recovery?flow=${flow.body.id}`, {
      json: { method: 'code', code },
    });
    assert.equal(reused.status, 200);
    assert.deepEqual(messageIds(reused.body), [4060006]);
    assert.equal(await sessions(), sessionsBefore, 'a used code must not sign anyone in again');
  });

  it('refuses to start for a signed-in caller and expires after its lifespan', async () => {
    const token = await tokenFor(client, email).catch(() => undefined);
    if (token) {
      const refused = await client.pub('GET', '/self-service/recovery/api', {
        headers: { 'x-session-token': token },
      });
      assert.equal(refused.status, 400);
    }
    const flow = await sentFlow(email);
    const code = await latestCode(client, email);
    clock.advance(16 * 60_000);
    const expired = await client.pub('POST', `/self-service/recovery?flow=${flow.body.id}`, {
      json: { method: 'code', code },
    });
    assert.equal(expired.status, 410);
    assert.equal((await client.pub('GET', `/self-service/recovery/flows?id=${flow.body.id}`)).status, 410);
  });
});

describe('Kratos double: verification by code and the courier', () => {
  const { client } = useDouble();

  it('verifies an address with the emailed code', async () => {
    const email = uniqueEmail('verify');
    const id = await seedIdentity(client, email);
    const flow = await client.pub('GET', '/self-service/verification/api');
    // Kratos renders API verification flows without a CSRF token node.
    assert.deepEqual(
      flow.body.ui.nodes.map((n: { attributes: { name: string } }) => n.attributes.name),
      ['email', 'method'],
    );
    assert.equal(flow.body.active, 'code');
    const sent = await client.pub('POST', `/self-service/verification?flow=${flow.body.id}`, {
      json: { method: 'code', email },
    });
    assert.equal(sent.status, 200);
    assert.deepEqual(messageIds(sent.body), [1080003]);
    assert.equal(node(sent.body, 'csrf_token'), undefined);
    const wrong = await client.pub('POST', `/self-service/verification?flow=${flow.body.id}`, {
      json: { method: 'code', code: '123' },
    });
    // Kratos v1.3.1 answers a wrong code with 200 and the refusal on the flow, not with 400.
    assert.equal(wrong.status, 200);
    assert.deepEqual(messageIds(wrong.body), [4070006]);
    assert.equal(wrong.body.state, 'sent_email');
    assert.equal(
      (await client.admin('GET', `/admin/identities/${id}`)).body.verifiable_addresses[0].verified,
      false,
    );
    const code = await latestCode(client, email);
    const done = await client.pub('POST', `/self-service/verification?flow=${flow.body.id}`, {
      json: { method: 'code', code },
    });
    assert.equal(done.status, 200);
    assert.equal(done.body.state, 'passed_challenge');
    assert.deepEqual(messageIds(done.body), [1080002]);
    const identity = await client.admin('GET', `/admin/identities/${id}`);
    assert.equal(identity.body.verifiable_addresses[0].verified, true);
    assert.equal(identity.body.verifiable_addresses[0].status, 'completed');
    const again = await client.pub('POST', `/self-service/verification?flow=${flow.body.id}`, {
      json: { method: 'code', code },
    });
    assert.equal(again.status, 200);
    assert.deepEqual(messageIds(again.body), [4070006]);
    assert.equal(
      (await client.pub('GET', `/self-service/verification/flows?id=${flow.body.id}`)).status,
      200,
    );
  });

  it('lists courier messages newest first, by recipient, and gets one', async () => {
    const email = uniqueEmail('courier');
    await register(client, email);
    const flow = await client.pub('GET', '/self-service/verification/api');
    await client.pub('POST', `/self-service/verification?flow=${flow.body.id}`, {
      json: { method: 'code', email },
    });
    const messages = await client.admin(
      'GET',
      `/admin/courier/messages?recipient=${encodeURIComponent(email)}`,
    );
    assert.equal(messages.body.length, 2);
    assert.ok(messages.body[0].created_at >= messages.body[1].created_at);
    const one = await client.admin('GET', `/admin/courier/messages/${messages.body[0].id}`);
    assert.equal(one.body.template_type, 'verification_code_valid');
    assert.equal(
      (await client.admin('GET', '/admin/courier/messages/00000000-0000-4000-8000-000000000000')).status,
      404,
    );
    assert.equal((await client.admin('GET', '/admin/courier/messages?status=bogus')).status, 400);
  });
});

describe('Kratos double: settings, TOTP, backup codes and aal2 login', () => {
  const { client, clock } = useDouble();
  const email = uniqueEmail('mfa');
  let token = '';
  before(async () => {
    await seedIdentity(client, email);
    token = await tokenFor(client, email);
  });
  const auth = () => ({ 'x-session-token': token });

  it('requires a session for settings flows', async () => {
    const result = await client.pub('GET', '/self-service/settings/api');
    assert.equal(result.status, 401);
  });

  it('updates the profile and rejects invalid traits', async () => {
    const flow = await client.pub('GET', '/self-service/settings/api', { headers: auth() });
    assert.equal(node(flow.body, 'traits.email').attributes.value, email);
    const saved = await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: auth(),
      json: { method: 'profile', traits: { email, name: { first: 'Grace', last: 'Hopper' } } },
    });
    assert.equal(saved.status, 200);
    assert.equal(saved.body.state, 'success');
    assert.deepEqual(messageIds(saved.body), [1050001]);
    assert.equal(saved.body.identity.traits.name.first, 'Grace');
    const invalid = await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: auth(),
      json: { method: 'profile', traits: { email: 'bad' } },
    });
    assert.equal(invalid.status, 400);
    const other = await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: auth(),
      json: { method: 'unknown' },
    });
    assert.deepEqual(messageIds(other.body), [4010004]);
  });

  it('enrolls TOTP with a code from the offered secret, rejecting a wrong one', async () => {
    const flow = await client.pub('GET', '/self-service/settings/api', { headers: auth() });
    assert.match(node(flow.body, 'totp_qr').attributes.src, /^data:image\/png;base64,/);
    const secret = node(flow.body, 'totp_secret_key').attributes.text.text;
    const wrong = await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: auth(),
      json: { method: 'totp', totp_code: '000000' },
    });
    assert.equal(wrong.status, 400);
    assert.equal(node(wrong.body, 'totp_code').messages[0].id, 4000008);
    const ok = await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: auth(),
      json: { method: 'totp', totp_code: totpCode(secret, clock.now()) },
    });
    assert.equal(ok.status, 200);
    assert.ok(node(ok.body, 'totp_unlink'));
    const fresh = await tokenFor(client, email);
    const whoami = await client.pub('GET', '/sessions/whoami', { headers: { 'x-session-token': fresh } });
    assert.equal(whoami.status, 403);
    assert.equal(whoami.body.error.id, 'session_aal2_required');
    const settings = await client.pub('GET', '/self-service/settings/api', {
      headers: { 'x-session-token': fresh },
    });
    assert.equal(settings.status, 403);
  });

  it('raises a session to aal2 with a TOTP code', async () => {
    const identity = await client.admin(
      'GET',
      `/admin/identities?credentials_identifier=${encodeURIComponent(email)}`,
    );
    const full = await client.admin(
      'GET',
      `/admin/identities/${identity.body[0].id}?include_credential=totp`,
    );
    const secret = new URL(full.body.credentials.totp.config.totp_url).searchParams.get('secret') ?? '';
    const fresh = await tokenFor(client, email);
    const headers = { 'x-session-token': fresh };
    assert.equal((await client.pub('GET', '/self-service/login/api?aal=aal2')).status, 401);
    const flow = await client.pub('GET', '/self-service/login/api?aal=aal2', { headers });
    assert.equal(flow.body.requested_aal, 'aal2');
    assert.ok(node(flow.body, 'totp_code'));
    const wrong = await client.pub('POST', `/self-service/login?flow=${flow.body.id}`, {
      headers,
      json: { method: 'totp', totp_code: '000000' },
    });
    assert.equal(wrong.status, 400);
    assert.equal(node(wrong.body, 'totp_code').messages[0].id, 4000008);
    const done = await client.pub('POST', `/self-service/login?flow=${flow.body.id}`, {
      headers,
      json: { method: 'totp', totp_code: totpCode(secret, clock.now()) },
    });
    assert.equal(done.status, 200);
    assert.equal(done.body.session.authenticator_assurance_level, 'aal2');
    assert.equal(done.body.session_token, fresh);
    assert.deepEqual(done.body.continue_with, []);
    assert.equal((await client.pub('GET', '/sessions/whoami', { headers })).status, 200);
    const fulfilled = await client.pub('GET', '/self-service/login/api?aal=aal2', { headers });
    assert.equal(fulfilled.status, 400);
    assert.equal(fulfilled.body.error.id, 'session_already_available');
  });

  it('offers an aal2 flow without nodes to an identity without a second factor', async () => {
    const plain = uniqueEmail('single');
    await seedIdentity(client, plain);
    const flow = await client.pub('GET', '/self-service/login/api?aal=aal2', {
      headers: { 'x-session-token': await tokenFor(client, plain) },
    });
    assert.equal(flow.status, 200);
    assert.equal(flow.body.requested_aal, 'aal2');
    assert.deepEqual(flow.body.ui.nodes, []);
    assert.deepEqual(messageIds(flow.body), [1010004]);
  });

  it('generates, confirms and reveals backup codes; each logs in once', async () => {
    const flow = await client.pub('GET', '/self-service/settings/api', { headers: auth() });
    const generated = await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: auth(),
      json: { method: 'lookup_secret', lookup_secret_regenerate: true },
    });
    assert.equal(generated.status, 200);
    const codes: string[] = node(generated.body, 'lookup_secret_codes').attributes.text.context.secrets.map(
      (s: { text: string }) => s.text,
    );
    assert.equal(codes.length, 12);
    const confirmed = await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: auth(),
      json: { method: 'lookup_secret', lookup_secret_confirm: true },
    });
    assert.equal(confirmed.status, 200);
    const revealed = await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: auth(),
      json: { method: 'lookup_secret', lookup_secret_reveal: true },
    });
    assert.ok(node(revealed.body, 'lookup_secret_codes'));

    const useCode = async (code: string): Promise<CallResult> => {
      const fresh = await tokenFor(client, email);
      const aal2 = await client.pub('GET', '/self-service/login/api?aal=aal2', {
        headers: { 'x-session-token': fresh },
      });
      return client.pub('POST', `/self-service/login?flow=${aal2.body.id}`, {
        headers: { 'x-session-token': fresh },
        json: { method: 'lookup_secret', lookup_secret: code },
      });
    };
    const first = await useCode(codes[0] ?? '');
    assert.equal(first.status, 200);
    assert.equal(first.body.session.authentication_methods.at(-1).method, 'lookup_secret');
    const reused = await useCode(codes[0] ?? '');
    assert.equal(reused.status, 400);
    assert.equal(node(reused.body, 'lookup_secret').messages[0].id, 4000012);
    const invalid = await useCode('notacode');
    assert.equal(node(invalid.body, 'lookup_secret').messages[0].id, 4000016);
  });

  it('asks for re-authentication when the session is older than the privileged window', async () => {
    clock.advance(16 * 60_000);
    const flow = await client.pub('GET', '/self-service/settings/api', { headers: auth() });
    const result = await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: auth(),
      json: { method: 'password', password: 'another long passphrase' },
    });
    assert.equal(result.status, 403);
    assert.equal(result.body.error.id, 'session_refresh_required');
    const unlink = await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: auth(),
      json: { method: 'totp', totp_unlink: true },
    });
    assert.equal(unlink.status, 403);
  });

  it('keeps settings flows to the session that created them', async () => {
    const flow = await client.pub('GET', '/self-service/settings/api', { headers: auth() });
    const other = await seedIdentity(client, uniqueEmail('intruder')).then(() => undefined);
    assert.equal(other, undefined);
    const intruder = await tokenFor(
      client,
      (await client.admin('GET', '/admin/identities')).body.at(-1).traits.email,
    );
    const result = await client.pub('GET', `/self-service/settings/flows?id=${flow.body.id}`, {
      headers: { 'x-session-token': intruder },
    });
    assert.equal(result.status, 403);
  });
});

describe('Kratos double: web hooks', () => {
  const received: { path: string; key: string | undefined; body: Record<string, unknown> }[] = [];
  let answer: (path: string) => { status: number; body?: unknown } = () => ({ status: 200 });
  let server: Server;
  let hookBase = '';
  const double = useDouble({
    webhookUrl: (hook) => `${hookBase}/hooks/kratos/${hook}`,
    webhookApiKey: 'test-webhook-key',
  });
  const { client } = double;

  before(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      received.push({
        path: req.url ?? '',
        key: req.headers['x-webhook-key'] as string | undefined,
        body: JSON.parse(Buffer.concat(chunks).toString('utf8')),
      });
      const reply = answer(req.url ?? '');
      res.writeHead(reply.status, { 'content-type': 'application/json' });
      res.end(reply.body === undefined ? '' : JSON.stringify(reply.body));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    hookBase = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('delivers after-registration with the api key and applies the parsed metadata', async () => {
    answer = () => ({ status: 200, body: { identity: { metadata_public: { roles: ['user'] } } } });
    const email = uniqueEmail('hook');
    const result = await register(client, email);
    assert.equal(result.status, 200);
    assert.deepEqual(result.body.identity.metadata_public, { roles: ['user'] });
    const delivery = received.find((r) => r.path.endsWith('/after-registration'));
    assert.equal(delivery?.key, 'test-webhook-key');
    assert.equal(delivery?.body.event, 'after-registration');
    assert.equal(delivery?.body.flow_type, 'api');
    assert.equal((delivery?.body.identity as { traits: { email: string } }).traits.email, email);
  });

  it('applies traits, admin metadata and verified flags from a parsed answer', async () => {
    const email = uniqueEmail('hooktraits');
    answer = () => ({
      status: 200,
      body: {
        identity: {
          traits: { email, name: { first: 'Hooked' } },
          metadata_admin: { source: 'hook' },
          verifiable_addresses: [{ value: email, verified: true }],
        },
      },
    });
    const result = await register(client, email);
    assert.equal(result.status, 200);
    assert.equal(result.body.identity.traits.name.first, 'Hooked');
    assert.equal(result.body.identity.verifiable_addresses[0].verified, true);
    const stored = await client.admin('GET', `/admin/identities/${result.body.identity.id}`);
    assert.deepEqual(stored.body.metadata_admin, { source: 'hook' });
  });

  it('lets a 4xx answer with messages interrupt the registration', async () => {
    answer = () => ({
      status: 400,
      body: {
        messages: [
          {
            instance_ptr: '#/traits/email',
            messages: [{ id: 4000001, text: 'Not allowed.', type: 'error' }],
          },
        ],
      },
    });
    const email = uniqueEmail('blocked');
    const result = await register(client, email);
    assert.equal(result.status, 400);
    assert.equal(node(result.body, 'traits.email').messages[0].text, 'Not allowed.');
    const listed = await client.admin(
      'GET',
      `/admin/identities?credentials_identifier=${encodeURIComponent(email)}`,
    );
    assert.equal(listed.body.length, 0);
  });

  it('delivers after-login (in the background) and after-settings', async () => {
    answer = () => ({ status: 200 });
    const email = uniqueEmail('hooklogin');
    await seedIdentity(client, email);
    const token = await tokenFor(client, email);
    const flow = await client.pub('GET', '/self-service/settings/api', {
      headers: { 'x-session-token': token },
    });
    await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: { 'x-session-token': token },
      json: { method: 'profile', traits: { email, name: { first: 'Hook' } } },
    });
    const login = received.find(
      (r) =>
        r.path.endsWith('/after-login') &&
        (r.body.identity as { traits: { email: string } }).traits.email === email,
    );
    assert.ok((login?.body.session as { aal: string } | undefined)?.aal);
    assert.ok(received.some((r) => r.path.endsWith('/after-settings')));
    assert.ok(double.kratos.state.webhookDeliveries.length >= 3);
  });

  it('delivers after-verification and after-recovery without letting them block the flow', async () => {
    answer = () => ({ status: 500 });
    const email = uniqueEmail('hookrecover');
    await seedIdentity(client, email);
    const verification = await client.pub('GET', '/self-service/verification/api');
    await client.pub('POST', `/self-service/verification?flow=${verification.body.id}`, {
      json: { method: 'code', email },
    });
    const verified = await client.pub('POST', `/self-service/verification?flow=${verification.body.id}`, {
      json: { method: 'code', code: await latestCode(client, email) },
    });
    assert.equal(verified.status, 200);
    const recovery = await client.pub('GET', '/self-service/recovery/api');
    await client.pub('POST', `/self-service/recovery?flow=${recovery.body.id}`, {
      json: { method: 'code', email },
    });
    const recovered = await client.pub('POST', `/self-service/recovery?flow=${recovery.body.id}`, {
      json: { method: 'code', code: await latestCode(client, email) },
    });
    assert.equal(recovered.status, 200);
    for (let i = 0; i < 50 && !received.some((r) => r.path.endsWith('/after-recovery')); i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    assert.ok(received.some((r) => r.path.endsWith('/after-verification')));
    assert.ok(received.some((r) => r.path.endsWith('/after-recovery')));
  });

  it('fails a settings update when its blocking hook fails', async () => {
    answer = () => ({ status: 503 });
    const email = uniqueEmail('hookfail');
    await seedIdentity(client, email);
    const token = await tokenFor(client, email);
    const flow = await client.pub('GET', '/self-service/settings/api', {
      headers: { 'x-session-token': token },
    });
    const result = await client.pub('POST', `/self-service/settings?flow=${flow.body.id}`, {
      headers: { 'x-session-token': token },
      json: { method: 'profile', traits: { email, name: { first: 'Down' } } },
    });
    assert.equal(result.status, 500);
  });
});

describe('Kratos double: outage and latency controls', () => {
  const double = useDouble();
  const { client } = double;

  it('stops listening, keeps state and listens again on the same ports', async () => {
    const email = uniqueEmail('outage');
    await seedIdentity(client, email);
    const kratos = double.kratos;
    const publicUrl = kratos.publicUrl;
    await kratos.stop();
    await assert.rejects(fetch(`${publicUrl}/health/alive`));
    await kratos.start();
    assert.equal(kratos.publicUrl, publicUrl);
    assert.equal((await login(client, email)).status, 200);
  });

  it('delays responses by the configured latency', async () => {
    double.kratos.setLatency(150);
    const started = Date.now();
    await client.pub('GET', '/health/alive');
    assert.ok(Date.now() - started >= 140);
    double.kratos.setLatency(0);
  });
});

describe('Kratos double: contract coverage', () => {
  it('exercised every operation the gateway relies on, each checked against the API document', () => {
    const expected = [
      'isAlive',
      'isReady',
      'getVersion',
      'listIdentitySchemas',
      'getIdentitySchema',
      'createNativeRegistrationFlow',
      'getRegistrationFlow',
      'updateRegistrationFlow',
      'createNativeLoginFlow',
      'createBrowserLoginFlow',
      'getLoginFlow',
      'updateLoginFlow',
      'toSession',
      'listMySessions',
      'disableMySession',
      'disableMyOtherSessions',
      'performNativeLogout',
      'createBrowserLogoutFlow',
      'updateLogoutFlow',
      'createNativeRecoveryFlow',
      'getRecoveryFlow',
      'updateRecoveryFlow',
      'createNativeVerificationFlow',
      'getVerificationFlow',
      'updateVerificationFlow',
      'createNativeSettingsFlow',
      'getSettingsFlow',
      'updateSettingsFlow',
      'createIdentity',
      'getIdentity',
      'listIdentities',
      'patchIdentity',
      'updateIdentity',
      'deleteIdentity',
      'listIdentitySessions',
      'deleteIdentitySessions',
      'listSessions',
      'getSession',
      'disableSession',
      'extendSession',
      'listCourierMessages',
      'getCourierMessage',
      'createRecoveryCodeForIdentity',
      'deleteIdentityCredentials',
      'createBrowserRegistrationFlow',
      'createBrowserRecoveryFlow',
      'createBrowserVerificationFlow',
      'createBrowserSettingsFlow',
    ];
    const missing = expected.filter((operation) => !exercised.has(operation));
    assert.deepEqual(missing, []);
    const errorPaths = [
      'updateLoginFlow',
      'updateRegistrationFlow',
      'updateRecoveryFlow',
      'updateSettingsFlow',
      'toSession',
    ];
    for (const operation of errorPaths) {
      const statuses = [...(exercised.get(operation) ?? [])];
      assert.ok(
        statuses.some((status) => status >= 400),
        `${operation} was never exercised with an error`,
      );
    }
  });
});
