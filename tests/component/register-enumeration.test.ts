/**
 * Verification-first sign-up, written as the attack: "does this address have an account?"
 * must not be answerable through POST /register or /register/confirm. Only the holder of
 * the address learns it, from the mail: a code for a free address, "you already have an
 * account" for a taken one.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerAccount, seedIdentity, signUpCode } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail, type ApiResponse } from '../helpers/http.js';
import type { MailSink } from '../helpers/mail-sink.js';
import { addPasskey, passkeyLogin } from '../helpers/passkey-flows.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

let gw: TestGateway;
let mail: MailSink;
before(async () => {
  gw = await startTestGateway();
  mail = gw.mail!;
});
after(async () => {
  await gw?.close();
});

/**
 * What an observer of the HTTP answer sees: status, body and the headers that could differ.
 * Masked: the rate-limit partition key and reset time, and what is left of the per-IP
 * budget (this file spends it); the per-address budget stays compared.
 */
function observable(res: ApiResponse) {
  const headers = Object.fromEntries(
    ['content-type', 'content-length', 'cache-control', 'location', 'ratelimit-policy', 'ratelimit'].map(
      (name) => [
        name,
        res.headers
          .get(name)
          ?.replace(/pk=:[^:]*:/g, 'pk')
          .replace(/("register-ip"; )r=\d+/, '$1r')
          .replace(/t=\d+/g, 't') ?? null,
      ],
    ),
  );
  const cookies = res.headers.getSetCookie().map((c) => c.split('=')[0]);
  return { status: res.status, body: res.body, headers, cookies };
}

/** The next mail to `email` after `seen` of them. */
const nextMail = async (email: string, seen: number) => (await mail.waitFor(email, seen, 5000)).raw;

/** Asks for a sign-up and answers the code the mail carried. */
async function requestCode(email: string, body: Record<string, unknown> = {}) {
  const seen = mail.to(email).length;
  const res = await new Browser(gw.auth).post('/register', { email, ...body });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  const code = signUpCode(await nextMail(email, seen));
  assert.ok(code);
  return code;
}

async function identityCount(email: string): Promise<number> {
  const res = await fetch(
    `${gw.kratos.adminUrl}/admin/identities?credentials_identifier=${encodeURIComponent(email)}`,
  );
  return ((await res.json()) as unknown[]).length;
}

const wrongCode = (code: string) => String((Number(code) + 1) % 1_000_000).padStart(6, '0');

describe('POST /register does not tell a taken address from a free one', () => {
  for (const variant of [{ password: STRONG_PASSWORD }, {}]) {
    const kind = variant.password ? 'with a password' : 'passwordless';
    it(`answers a taken address exactly as a free one (${kind})`, async () => {
      const { email: taken } = await seedIdentity(gw.kratos);
      const free = uniqueEmail('free');
      const takenRes = await new Browser(gw.auth).post('/register', { email: taken, ...variant });
      const freeRes = await new Browser(gw.auth).post('/register', { email: free, ...variant });
      assert.deepEqual(observable(takenRes), observable(freeRes));
      assert.equal(takenRes.status, 202);
      assert.deepEqual(takenRes.headers.getSetCookie(), []);
    });
  }

  it('mails the owner of a taken address "you already have an account", with no code', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const seen = mail.to(email).length;
    await new Browser(gw.auth).post('/register', { email: email.toUpperCase(), password: STRONG_PASSWORD });
    const raw = await nextMail(email, seen);
    assert.match(raw, /already have an account/);
    assert.equal(signUpCode(raw), undefined);
    assert.doesNotMatch(
      raw
        .split(/\r?\n\r?\n/)
        .slice(1)
        .join('\n'),
      /\b\d{6}\b/,
    );
    assert.equal(await identityCount(email), 1);
  });

  it('mails a free address a six-digit code and creates nothing before it is confirmed', async () => {
    const email = uniqueEmail('code');
    const code = await requestCode(email, { password: STRONG_PASSWORD });
    assert.match(code, /^\d{6}$/);
    assert.equal(await identityCount(email), 0);
  });

  it('keeps no clear password and no clear code in Redis between the steps', async () => {
    const email = uniqueEmail('redis');
    const password = `${STRONG_PASSWORD}-${Date.now()}`;
    const code = await requestCode(email, { password });
    const client = gw.deps.kv.client!;
    const keys = await client.keys(`${gw.deps.config.REDIS_KEY_PREFIX}registration:*`);
    assert.ok(keys.length > 0);
    const values = await Promise.all(keys.map((k) => client.get(k)));
    for (const value of values) {
      assert.ok(!value?.includes(password));
      assert.ok(!value?.includes(code));
    }
    const ttl = await client.ttl(keys[0]!);
    assert.ok(ttl > 0 && ttl <= 15 * 60, `ttl ${ttl}`);
  });

  it('still refuses a short password with 400, whatever the address', async () => {
    const { email: taken } = await seedIdentity(gw.kratos);
    for (const email of [taken, uniqueEmail()]) {
      const res = await new Browser(gw.auth).post('/register', { email, password: 'short-pw' });
      assert.equal(res.status, 400);
      assert.equal(res.body.error.code, 'invalid_request');
    }
  });
});

describe('POST /register/confirm', () => {
  it('refuses a wrong code with one generic error and creates nothing', async () => {
    const email = uniqueEmail('wrong');
    const code = await requestCode(email, { password: STRONG_PASSWORD });
    const browser = new Browser(gw.auth);
    const res = await browser.post('/register/confirm', { email, code: wrongCode(code) });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_code');
    assert.equal(browser.cookies.has('gw_session'), false);
    assert.equal(await identityCount(email), 0);
    assert.equal((await browser.get('/session')).status, 401);
  });

  it('answers a guess for a taken address exactly as one for a free address', async () => {
    const { email: taken } = await seedIdentity(gw.kratos);
    const free = uniqueEmail('guess');
    await requestCode(free);
    const seen = mail.to(taken).length;
    await new Browser(gw.auth).post('/register', { email: taken });
    await nextMail(taken, seen);
    const guess = { code: '000000' };
    const takenRes = await new Browser(gw.auth).post('/register/confirm', { email: taken, ...guess });
    const freeRes = await new Browser(gw.auth).post('/register/confirm', { email: free, ...guess });
    const unknown = await new Browser(gw.auth).post('/register/confirm', { email: uniqueEmail(), ...guess });
    assert.equal(takenRes.status, 400);
    assert.deepEqual(observable(takenRes), observable(freeRes));
    assert.deepEqual([unknown.status, unknown.body], [takenRes.status, takenRes.body]);
  });

  it('limits the attempts: after five wrong codes even the right one fails', async () => {
    const email = uniqueEmail('attempts');
    const code = await requestCode(email, { password: STRONG_PASSWORD });
    for (let i = 0; i < 5; i++) {
      const res = await new Browser(gw.auth).post('/register/confirm', { email, code: wrongCode(code) });
      assert.equal(res.body.error.code, 'invalid_code');
    }
    const late = await new Browser(gw.auth).post('/register/confirm', { email, code });
    assert.equal(late.status, 400);
    assert.equal(late.body.error.code, 'invalid_code');
    assert.equal(await identityCount(email), 0);
  });

  it('signs in with the right code after a wrong one, with the address verified', async () => {
    const email = uniqueEmail('right');
    const code = await requestCode(email, { password: STRONG_PASSWORD });
    const browser = new Browser(gw.auth);
    assert.equal((await browser.post('/register/confirm', { email, code: wrongCode(code) })).status, 400);
    const res = await browser.post('/register/confirm', { email, code });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.email, email);
    assert.ok(browser.cookies.has('gw_session'));
    const session = await browser.get('/session');
    assert.equal(session.status, 200);
    assert.deepEqual(res.body, session.body);
    const identity = (await (
      await fetch(`${gw.kratos.adminUrl}/admin/identities/${res.body.identityId}`)
    ).json()) as { verifiable_addresses: { value: string; verified: boolean }[] };
    assert.deepEqual(
      identity.verifiable_addresses.map((a) => [a.value, a.verified]),
      [[email, true]],
    );
    // The password given at the first step is the account's password.
    const login = await new Browser(gw.auth).post('/login/password', {
      identifier: email,
      password: STRONG_PASSWORD,
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
    // A code is good once.
    const again = await new Browser(gw.auth).post('/register/confirm', { email, code });
    assert.equal(again.body.error.code, 'invalid_code');
  });

  it('takes the password at the confirm step when the first step had none', async () => {
    const email = uniqueEmail('late-password');
    const code = await requestCode(email);
    const res = await new Browser(gw.auth).post('/register/confirm', {
      email,
      code,
      password: STRONG_PASSWORD,
    });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.notEqual(res.body.passkeyEnrollmentRequired, true);
    const login = await new Browser(gw.auth).post('/login/password', {
      identifier: email,
      password: STRONG_PASSWORD,
    });
    assert.equal(login.status, 200, JSON.stringify(login.body));
  });

  it('keeps passwordless sign-up working: a verified account that must add a passkey', async () => {
    const email = uniqueEmail('passwordless');
    const browser = new Browser(gw.auth);
    const res = await registerAccount(gw, browser, { email });
    assert.equal(res.status, 201, JSON.stringify(res.body));
    assert.equal(res.body.passkeyEnrollmentRequired, true);
    assert.equal(res.body.emailVerified, true);
    const authenticator = new SoftAuthenticator();
    await addPasskey(browser, authenticator);
    assert.equal((await passkeyLogin(gw, authenticator)).res.status, 200);
  });

  for (const variant of [{ password: STRONG_PASSWORD }, {}]) {
    const kind = variant.password ? 'with a password' : 'passwordless';
    it(`answers the generic failure when the address was taken between the steps (${kind})`, async () => {
      const email = uniqueEmail('race');
      const code = await requestCode(email, variant);
      await seedIdentity(gw.kratos, { email });
      const browser = new Browser(gw.auth);
      const res = await browser.post('/register/confirm', { email, code });
      assert.equal(res.status, 400, JSON.stringify(res.body));
      assert.equal(res.body.error.code, 'invalid_code');
      assert.equal(browser.cookies.has('gw_session'), false);
      assert.equal(await identityCount(email), 1);
    });
  }
});

describe('sign-up rate limit', () => {
  let limited: TestGateway;
  before(async () => {
    limited = await startTestGateway({ env: { RATE_LIMIT_REGISTRATION: '3/60' } });
  });
  after(async () => {
    await limited?.close();
  });

  it('counts both steps against the registration limit', async () => {
    const email = uniqueEmail('limit');
    const browser = new Browser(limited.auth);
    assert.equal((await browser.post('/register', { email })).status, 202);
    assert.equal((await browser.post('/register/confirm', { email, code: '000000' })).status, 400);
    assert.equal((await browser.post('/register/confirm', { email, code: '000001' })).status, 400);
    const limitedRes = await browser.post('/register/confirm', { email, code: '000002' });
    assert.equal(limitedRes.status, 429);
    assert.ok(limitedRes.headers.get('retry-after'));
  });
});
