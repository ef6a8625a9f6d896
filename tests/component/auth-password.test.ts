import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { registerAccount } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway();
});
after(async () => {
  await gw.close();
});

async function registered(email = uniqueEmail()) {
  const browser = new Browser(gw.auth);
  const res = await registerAccount(gw, browser, { email, password: STRONG_PASSWORD });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { browser, email, identityId: res.body.identityId as string };
}

describe('POST /api/auth/register (password)', () => {
  it('creates the identity in Kratos and answers 201 with a session', async () => {
    const email = uniqueEmail();
    const browser = new Browser(gw.auth);
    const res = await registerAccount(gw, browser, { email: email.toUpperCase(), password: STRONG_PASSWORD });
    assert.equal(res.status, 201);
    assert.equal(res.body.email, email);
    assert.equal(res.body.aal, 'aal1');
    assert.equal(res.body.source, 'gateway');
    assert.match(res.body.sessionId, /^g_/);
    assert.ok(browser.cookies.has('gw_session'));
    const session = await browser.get('/session');
    assert.equal(session.status, 200);
    assert.equal(session.body.identityId, res.body.identityId);
  });

  it('sets an HttpOnly, SameSite session cookie and never exposes the Kratos token', async () => {
    const browser = new Browser(gw.auth);
    const res = await registerAccount(gw, browser, { email: uniqueEmail(), password: STRONG_PASSWORD });
    const cookie = res.headers.getSetCookie().find((c) => c.startsWith('gw_session='));
    assert.ok(cookie);
    assert.match(cookie, /HttpOnly/i);
    assert.match(cookie, /SameSite=Lax/i);
    assert.doesNotMatch(JSON.stringify(res.body), /ory_st_|session_token/);
  });

  it('answers a taken e-mail address as a free one (202), creating no session', async () => {
    const { email } = await registered();
    const browser = new Browser(gw.auth);
    const res = await browser.post('/register', { email, password: STRONG_PASSWORD });
    const free = await new Browser(gw.auth).post('/register', {
      email: uniqueEmail(),
      password: STRONG_PASSWORD,
    });
    assert.equal(res.status, 202);
    assert.deepEqual(res.body, free.body);
    assert.equal(browser.cookies.has('gw_session'), false);
  });

  it('refuses a password shorter than 12 characters before calling Kratos', async () => {
    const res = await new Browser(gw.auth).post('/register', { email: uniqueEmail(), password: 'short-pw' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_request');
    assert.match(res.body.error.message, /password/);
  });

  it('answers 400 naming the field for a malformed e-mail address', async () => {
    const res = await new Browser(gw.auth).post('/register', {
      email: 'not-an-email',
      password: STRONG_PASSWORD,
    });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details.field, 'email');
  });
});

describe('POST /api/auth/login/password', () => {
  it('signs in, regenerates the session id and keeps the Kratos token server-side', async () => {
    const { email } = await registered();
    const browser = new Browser(gw.auth);
    await browser.post('/identify', { identifier: email });
    const before = browser.cookies.get('gw_session');
    const res = await browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
    assert.equal(res.status, 200);
    assert.equal(res.body.email, email);
    assert.deepEqual(
      res.body.methods.map((m: { method: string }) => m.method),
      ['password'],
    );
    assert.notEqual(browser.cookies.get('gw_session'), before);
    assert.doesNotMatch(JSON.stringify(res.body), /ory_st_/);
  });

  it('answers 401 invalid_credentials for a wrong password and for an unknown account alike', async () => {
    const { email } = await registered();
    const wrong = await new Browser(gw.auth).post('/login/password', {
      identifier: email,
      password: 'wrong-password-123',
    });
    const unknown = await new Browser(gw.auth).post('/login/password', {
      identifier: uniqueEmail('nobody'),
      password: 'wrong-password-123',
    });
    for (const res of [wrong, unknown]) {
      assert.equal(res.status, 401);
      assert.equal(res.body.error.code, 'invalid_credentials');
    }
    assert.equal(wrong.body.error.message, unknown.body.error.message);
  });

  it('answers 400 for missing fields, wrong types and unknown fields', async () => {
    const browser = new Browser(gw.auth);
    for (const body of [
      {},
      { identifier: 'a@b.co' },
      { identifier: 42, password: 'x' },
      { identifier: 'a@b.co', password: 'x', extra: 1 },
      [],
      'text',
      null,
    ]) {
      const res = await browser.post('/login/password', body);
      assert.equal(res.status, 400, JSON.stringify(body));
      assert.equal(typeof res.body.error.code, 'string');
    }
  });
});

describe('GET /api/auth/session', () => {
  it('answers 401 unauthenticated without a session', async () => {
    const res = await new Browser(gw.auth).get('/session');
    assert.equal(res.status, 401);
    assert.deepEqual(Object.keys(res.body.error).sort(), ['code', 'message']);
    assert.equal(res.body.error.code, 'unauthenticated');
  });

  it('answers 401 for a forged session cookie', async () => {
    const browser = new Browser(gw.auth);
    browser.cookies.set('gw_session', 's%3Aforged.signature');
    assert.equal((await browser.get('/session')).status, 401);
  });

  it('resolves a raw Kratos session cookie into the same principal', async () => {
    const { email, identityId } = await registered();
    // A browser login flow finished at Kratos directly sets ory_kratos_session.
    const kratosCookie = await browserLoginAtKratos(email, STRONG_PASSWORD);
    const browser = new Browser(gw.auth);
    browser.cookies.set('ory_kratos_session', kratosCookie);
    const res = await browser.get('/session');
    assert.equal(res.status, 200);
    assert.equal(res.body.identityId, identityId);
    assert.equal(res.body.source, 'kratos');
    assert.equal(res.body.aal, 'aal1');
  });
});

/** Runs a Kratos browser login flow against the double and returns the session cookie value. */
async function browserLoginAtKratos(identifier: string, password: string): Promise<string> {
  const init = await fetch(`${gw.kratos.publicUrl}/self-service/login/browser`, {
    headers: { Accept: 'application/json' },
  });
  const flow = await init.json();
  const csrfCookie = init.headers
    .getSetCookie()
    .map((c) => c.split(';')[0])
    .join('; ');
  const csrfNode = flow.ui.nodes.find((n: any) => n.attributes?.name === 'csrf_token');
  const res = await fetch(`${gw.kratos.publicUrl}/self-service/login?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json', Cookie: csrfCookie },
    body: JSON.stringify({
      method: 'password',
      identifier,
      password,
      csrf_token: csrfNode?.attributes?.value,
    }),
  });
  assert.equal(res.status, 200, await res.clone().text());
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('ory_kratos_session='));
  assert.ok(cookie, 'Kratos set its session cookie');
  return cookie.split(';')[0]!.split('=').slice(1).join('=');
}

describe('sessions of both kinds', () => {
  it('ends the gateway session when Kratos revokes its session (within the whoami cache window)', async () => {
    const { browser, identityId } = await registered();
    assert.equal((await browser.get('/session')).status, 200);
    const sessions = await (
      await fetch(`${gw.kratos.adminUrl}/admin/identities/${identityId}/sessions`)
    ).json();
    for (const s of sessions)
      await fetch(`${gw.kratos.adminUrl}/admin/sessions/${s.id}`, { method: 'DELETE' });
    await gw.deps.kv.del(...(await cacheKeys()));
    const res = await browser.get('/session');
    assert.equal(res.status, 401);
  });

  it('ends access when the identity is deactivated at Kratos', async () => {
    const { browser, identityId } = await registered();
    const patch = await fetch(`${gw.kratos.adminUrl}/admin/identities/${identityId}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([{ op: 'replace', path: '/state', value: 'inactive' }]),
    });
    assert.equal(patch.status, 200);
    await gw.deps.kv.del(...(await cacheKeys()));
    assert.equal((await browser.get('/session')).status, 401);
  });

  it('lists both kinds of session and revokes one by id', async () => {
    const { browser, email, identityId } = await registered();
    const second = new Browser(gw.auth);
    assert.equal(
      (await second.post('/login/password', { identifier: email, password: STRONG_PASSWORD })).status,
      200,
    );
    const kratosCookie = await browserLoginAtKratos(email, STRONG_PASSWORD);
    const list = await browser.get('/sessions');
    assert.equal(list.status, 200);
    const sources = list.body.sessions.map((s: any) => s.source).sort();
    assert.deepEqual(sources, ['gateway', 'gateway', 'kratos']);
    assert.equal(list.body.sessions.filter((s: any) => s.current).length, 1);

    const kratosSession = list.body.sessions.find((s: any) => s.source === 'kratos');
    assert.equal((await browser.delete(`/sessions/${kratosSession.id}`)).status, 204);
    const raw = new Browser(gw.auth);
    raw.cookies.set('ory_kratos_session', kratosCookie);
    await gw.deps.kv.del(...(await cacheKeys()));
    assert.equal((await raw.get('/session')).status, 401);

    const other = list.body.sessions.find((s: any) => s.source === 'gateway' && !s.current);
    assert.equal((await browser.delete(`/sessions/${other.id}`)).status, 204);
    assert.equal((await second.get('/session')).status, 401);
    assert.equal((await browser.get('/session')).status, 200);
    assert.equal((await browser.delete('/sessions/g_not_mine')).status, 404);
    void identityId;
  });

  it('POST /logout ends the session here and at Kratos', async () => {
    const { browser, identityId } = await registered();
    const res = await browser.post('/logout');
    assert.equal(res.status, 204);
    assert.equal((await browser.get('/session')).status, 401);
    const sessions = await (
      await fetch(`${gw.kratos.adminUrl}/admin/identities/${identityId}/sessions?active=true`)
    ).json();
    assert.equal(sessions.filter((s: any) => s.active).length, 0);
  });

  it('POST /logout/all ends every session of the identity, of both kinds', async () => {
    const { browser, email } = await registered();
    const second = new Browser(gw.auth);
    await second.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
    const raw = new Browser(gw.auth);
    raw.cookies.set('ory_kratos_session', await browserLoginAtKratos(email, STRONG_PASSWORD));
    assert.equal((await browser.post('/logout/all')).status, 204);
    await gw.deps.kv.del(...(await cacheKeys()));
    for (const b of [browser, second, raw]) assert.equal((await b.get('/session')).status, 401);
  });

  it('POST /logout without a session is 401', async () => {
    assert.equal((await new Browser(gw.auth).post('/logout')).status, 401);
  });
});

/** The whoami/identity cache keys of this gateway (the tests expire them instead of waiting). */
async function cacheKeys(): Promise<string[]> {
  const client = gw.deps.kv.client!;
  const prefix = gw.deps.config.REDIS_KEY_PREFIX;
  const keys = [...(await client.keys(`${prefix}whoami:*`)), ...(await client.keys(`${prefix}identity:*`))];
  return keys.map((k) => k.slice(prefix.length)).concat(['__none__']);
}

describe('GET /api/auth/verify (forward auth)', () => {
  it('answers 200 with the X-User-* headers for a signed-in request', async () => {
    const { browser, email, identityId } = await registered();
    const res = await browser.get('/verify');
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('x-user-id'), identityId);
    assert.equal(res.headers.get('x-user-email'), email);
    assert.equal(res.headers.get('x-user-roles'), 'user');
    assert.equal(res.headers.get('x-auth-aal'), 'aal1');
  });

  it('answers 401 without a session and 403 when ?aal= or ?role= is not met', async () => {
    assert.equal((await new Browser(gw.auth).get('/verify')).status, 401);
    const { browser } = await registered();
    const aal = await browser.get('/verify?aal=aal2');
    assert.equal(aal.status, 403);
    assert.equal(aal.body.error.code, 'aal2_required');
    const role = await browser.get('/verify?role=admin');
    assert.equal(role.status, 403);
    assert.equal(role.body.error.code, 'forbidden');
    assert.equal((await browser.get('/verify?aal=aal9')).status, 400);
  });
});

describe('POST /api/auth/identify', () => {
  it('answers the same shape for known and unknown identifiers, deterministically', async () => {
    const { email } = await registered();
    const known = await new Browser(gw.auth).post('/identify', { identifier: email });
    const unknownEmail = uniqueEmail('ghost');
    const unknown1 = await new Browser(gw.auth).post('/identify', { identifier: unknownEmail });
    const unknown2 = await new Browser(gw.auth).post('/identify', { identifier: unknownEmail });
    assert.equal(known.status, 200);
    assert.equal(unknown1.status, 200);
    assert.deepEqual(Object.keys(known.body).sort(), ['credentialIds', 'methods', 'passkey']);
    assert.deepEqual(Object.keys(known.body).sort(), Object.keys(unknown1.body).sort());
    assert.deepEqual(Object.keys(known.body.passkey).sort(), Object.keys(unknown1.body.passkey).sort());
    assert.ok(known.body.methods.includes('password'));
    assert.deepEqual(unknown1.body.methods, unknown2.body.methods);
    assert.deepEqual(unknown1.body.credentialIds, unknown2.body.credentialIds);
  });

  it('rejects a missing identifier with 400', async () => {
    const res = await new Browser(gw.auth).post('/identify', {});
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details.field, 'identifier');
  });
});
