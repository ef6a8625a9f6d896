import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { registerAccount } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD } from '../helpers/http.js';
import {
  addPasskey,
  auditEvents,
  passkeyLogin,
  passwordLogin,
  seedPasswordUser,
  signUpWithPasskey,
} from '../helpers/passkey-flows.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway();
});
after(async () => {
  await gw?.close();
});

/** Login options in a fresh browser. */
async function loginOptions(target: TestGateway = gw) {
  const browser = new Browser(target.auth);
  const options = await browser.post('/login/passkey/options', {});
  assert.equal(options.status, 200);
  return { browser, options: options.body };
}

const codeOf = (res: { body: { error?: { code: string } } }) => res.body.error?.code;

describe('passkey login refusals', () => {
  it('rejects an assertion made for another origin', async () => {
    const { authenticator, identityId } = await signUpWithPasskey(gw);
    const { res } = await passkeyLogin(gw, authenticator, { overrides: { origin: 'https://evil.example' } });
    assert.equal(res.status, 400);
    assert.equal(codeOf(res), 'passkey_verification_failed');
    assert.equal((await auditEvents(gw, 'login.passkey', identityId)).length, 0);
    const failures = (await auditEvents(gw, 'login.passkey')).filter((e) => e.outcome === 'failure');
    assert.ok(failures.some((e) => e.details.reason === 'passkey_verification_failed'));
  });

  it('rejects an assertion made for another RP ID', async () => {
    const { authenticator } = await signUpWithPasskey(gw);
    const { res } = await passkeyLogin(gw, authenticator, { overrides: { rpId: 'evil.example' } });
    assert.equal(res.status, 400);
    assert.equal(codeOf(res), 'passkey_verification_failed');
  });

  it('rejects an assertion without user presence', async () => {
    const { authenticator } = await signUpWithPasskey(gw);
    const { res } = await passkeyLogin(gw, authenticator, { overrides: { userPresence: false } });
    assert.equal(res.status, 400);
  });

  it('rejects an assertion whose challenge was already used', async () => {
    const { authenticator } = await signUpWithPasskey(gw);
    const { browser, options } = await loginOptions();
    const credential = authenticator.authenticate(options);
    const [a, b] = await Promise.all([
      browser.post('/login/passkey', { credential }),
      browser.post('/login/passkey', { credential }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 400]);
    assert.equal(codeOf(a.status === 400 ? a : b), 'passkey_challenge_invalid');
  });

  it('rejects a challenge that was never issued', async () => {
    const { authenticator } = await signUpWithPasskey(gw);
    const { browser, options } = await loginOptions();
    const credential = authenticator.authenticate(options, {
      challenge: Buffer.alloc(32, 7).toString('base64url'),
    });
    const res = await browser.post('/login/passkey', { credential });
    assert.equal(res.status, 400);
    assert.equal(codeOf(res), 'passkey_challenge_invalid');
  });

  it('rejects a challenge issued to another browser, which keeps its own', async () => {
    const { authenticator } = await signUpWithPasskey(gw);
    const victim = await loginOptions();
    const credential = authenticator.authenticate(victim.options);
    const attacker = new Browser(gw.auth);
    await attacker.post('/login/passkey/options', {});
    const stolen = await attacker.post('/login/passkey', { credential });
    assert.equal(stolen.status, 400);
    assert.equal(codeOf(stolen), 'passkey_challenge_invalid');
    const own = await victim.browser.post('/login/passkey', { credential });
    assert.equal(own.status, 200);
  });

  it('rejects an unknown credential', async () => {
    const stranger = new SoftAuthenticator();
    stranger.register({
      rp: { id: 'localhost', name: 'x' },
      user: { id: Buffer.alloc(32, 1).toString('base64url'), name: 'x', displayName: 'x' },
      challenge: Buffer.alloc(32, 2).toString('base64url'),
      pubKeyCredParams: [{ alg: -7, type: 'public-key' }],
    });
    const { res } = await passkeyLogin(gw, stranger);
    assert.equal(res.status, 401);
    assert.equal(codeOf(res), 'passkey_not_recognized');
  });

  it('rejects a passkey that was not offered for the identifier', async () => {
    const alice = await signUpWithPasskey(gw);
    const bob = await signUpWithPasskey(gw);
    const { res } = await passkeyLogin(gw, bob.authenticator, {
      identifier: alice.email,
      overrides: { credentialId: bob.passkeyId },
    });
    assert.equal(res.status, 401);
    assert.equal(codeOf(res), 'passkey_not_recognized');
  });

  it('rejects a user handle that is not the passkey owner’s', async () => {
    const alice = await signUpWithPasskey(gw);
    const { res } = await passkeyLogin(gw, alice.authenticator, {
      overrides: { userHandle: Buffer.alloc(32, 9).toString('base64url') },
    });
    assert.equal(res.status, 401);
  });

  it('refuses a counter that went backwards, marks the passkey and records it', async () => {
    const { authenticator, identityId, passkeyId, browser } = await signUpWithPasskey(gw);
    assert.equal((await passkeyLogin(gw, authenticator)).res.status, 200);
    assert.equal((await passkeyLogin(gw, authenticator)).res.status, 200);
    const clone = await passkeyLogin(gw, authenticator, { overrides: { counter: 1 } });
    assert.equal(clone.res.status, 403);
    assert.equal(codeOf(clone.res), 'passkey_cloned');
    const cloned = await auditEvents(gw, 'passkey.cloned', identityId);
    assert.equal(cloned.length, 1);
    assert.equal(cloned[0]!.details.passkeyId, passkeyId);
    const list = await browser.get('/passkeys');
    assert.equal(list.body.passkeys[0].clonedSuspected, true);
    const again = await passkeyLogin(gw, authenticator, { overrides: { counter: 100 } });
    assert.equal(again.res.status, 403, 'a suspected clone stays refused');
  });

  it('lets only one of two racing assertions with the same counter through', async () => {
    const { authenticator } = await signUpWithPasskey(gw);
    const first = await loginOptions();
    const second = await loginOptions();
    const [a, b] = await Promise.all([
      first.browser.post('/login/passkey', {
        credential: authenticator.authenticate(first.options, { counter: 5 }),
      }),
      second.browser.post('/login/passkey', {
        credential: authenticator.authenticate(second.options, { counter: 5 }),
      }),
    ]);
    assert.deepEqual([a.status, b.status].sort(), [200, 403]);
    assert.equal(codeOf(a.status === 403 ? a : b), 'passkey_cloned');
  });

  it('refuses a passkey of a deactivated identity', async () => {
    const { authenticator, identityId } = await signUpWithPasskey(gw);
    const res = await fetch(`${gw.kratos.adminUrl}/admin/identities/${identityId}`, {
      method: 'PATCH',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify([{ op: 'replace', path: '/state', value: 'inactive' }]),
    });
    assert.equal(res.status, 200);
    const { res: login } = await passkeyLogin(gw, authenticator);
    assert.equal(login.status, 403);
    assert.equal(codeOf(login), 'account_inactive');
  });
});

describe('passkey registration refusals', () => {
  it('rejects a registration response replayed on the same challenge', async () => {
    const { browser, authenticator } = await signUpWithPasskey(gw);
    const options = await browser.post('/passkeys/options', {});
    const credential = authenticator.register(options.body);
    assert.equal((await browser.post('/passkeys', { credential })).status, 201);
    const replay = await browser.post('/passkeys', { credential });
    assert.equal(replay.status, 400);
    assert.equal(codeOf(replay), 'passkey_challenge_invalid');
  });

  it('rejects a registration challenge issued to another identity', async () => {
    const alice = await signUpWithPasskey(gw);
    const bob = await signUpWithPasskey(gw);
    const options = await alice.browser.post('/passkeys/options', {});
    const credential = alice.authenticator.register(options.body);
    const res = await bob.browser.post('/passkeys', { credential });
    assert.equal(res.status, 400);
    assert.equal(codeOf(res), 'passkey_challenge_invalid');
  });

  it('rejects a registration from another origin', async () => {
    const { browser } = await signUpWithPasskey(gw);
    const options = await browser.post('/passkeys/options', {});
    const credential = new SoftAuthenticator({ origin: 'http://localhost:4000' }).register(options.body);
    const res = await browser.post('/passkeys', { credential });
    assert.equal(res.status, 400);
    assert.equal(codeOf(res), 'passkey_verification_failed');
  });

  it('rejects a login challenge used for a registration', async () => {
    const { browser, authenticator } = await signUpWithPasskey(gw);
    const login = await browser.post('/login/passkey/options', {});
    const registration = await browser.post('/passkeys/options', {});
    const credential = authenticator.register(registration.body, { challenge: login.body.challenge });
    const res = await browser.post('/passkeys', { credential });
    assert.equal(res.status, 400);
    assert.equal(codeOf(res), 'passkey_challenge_invalid');
  });

  it('needs a session', async () => {
    const res = await new Browser(gw.auth).post('/passkeys/options', {});
    assert.equal(res.status, 401);
  });
});

describe('step-up refusals', () => {
  it('rejects a passkey of another identity', async () => {
    const { email } = await seedPasswordUser(gw);
    const own = new SoftAuthenticator();
    await addPasskey(await passwordLogin(gw, email), own);
    // A later password sign-in owes the passkey; another identity's passkey does not pay it.
    const browser = new Browser(gw.auth);
    await browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
    const other = await signUpWithPasskey(gw);
    const options = await browser.post('/step-up/options', {});
    const credential = other.authenticator.authenticate(options.body, { credentialId: other.passkeyId });
    const res = await browser.post('/step-up', { credential });
    assert.equal(res.status, 403);
    assert.equal(codeOf(res), 'passkey_not_yours');
    assert.equal(codeOf(await browser.get('/session')), 'aal2_required');
  });

  it('rejects a login challenge used for a step-up', async () => {
    const { browser, authenticator } = await signUpWithPasskey(gw);
    const login = await browser.post('/login/passkey/options', {});
    const credential = authenticator.authenticate(login.body);
    const res = await browser.post('/step-up', { credential });
    assert.equal(res.status, 400);
    assert.equal(codeOf(res), 'passkey_challenge_invalid');
  });
});

describe('with WEBAUTHN_USER_VERIFICATION=required', () => {
  let strict: TestGateway;
  before(async () => {
    strict = await startTestGateway({ share: gw, env: { WEBAUTHN_USER_VERIFICATION: 'required' } });
  });
  after(async () => {
    await strict?.close();
  });

  it('asks for user verification and rejects assertions without it', async () => {
    const { authenticator } = await signUpWithPasskey(gw);
    const { options, browser } = await loginOptions(strict);
    assert.equal(options.userVerification, 'required');
    const res = await browser.post('/login/passkey', {
      credential: authenticator.authenticate(options, { userVerification: false }),
    });
    assert.equal(res.status, 400);
    assert.equal(codeOf(res), 'passkey_verification_failed');
  });

  it('rejects registrations without user verification', async () => {
    const browser = new Browser(strict.auth);
    await registerAccount(strict, browser, { email: `uv-${Date.now()}@example.com` });
    const options = await browser.post('/passkeys/options', {});
    const credential = new SoftAuthenticator({ userVerification: false }).register(options.body);
    const res = await browser.post('/passkeys', { credential });
    assert.equal(res.status, 400);
  });
});

describe('with a one-second challenge lifetime', () => {
  let short: TestGateway;
  before(async () => {
    short = await startTestGateway({ share: gw, env: { WEBAUTHN_CHALLENGE_TTL_SECONDS: '1' } });
  });
  after(async () => {
    await short?.close();
  });

  it('rejects an assertion whose challenge has expired', async () => {
    const { authenticator } = await signUpWithPasskey(gw);
    const { options, browser } = await loginOptions(short);
    assert.equal(options.timeout, 1000);
    await sleep(1600);
    const res = await browser.post('/login/passkey', { credential: authenticator.authenticate(options) });
    assert.equal(res.status, 400);
    assert.equal(codeOf(res), 'passkey_challenge_invalid');
  });
});
