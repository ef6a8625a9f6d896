import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { registerAccount } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import {
  addPasskey,
  auditEvents,
  passkeyLogin,
  passwordLogin,
  seedPasswordUser,
  signUpWithPasskey,
  stepUp,
} from '../helpers/passkey-flows.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway();
});
after(async () => {
  await gw?.close();
});

describe('passwordless sign-up with a passkey', () => {
  it('allows nothing but registering a passkey before the first one', async () => {
    const browser = new Browser(gw.auth);
    const signUp = await registerAccount(gw, browser, { email: uniqueEmail() });
    assert.equal(signUp.status, 201);
    assert.equal(signUp.body.passkeyEnrollmentRequired, true);
    const list = await browser.get('/passkeys');
    assert.equal(list.status, 403);
    assert.equal(list.body.error.code, 'passkey_enrollment_required');
  });

  it('answers a taken address as a free one and mails its owner instead, whichever way it signed up', async () => {
    const email = uniqueEmail();
    assert.equal((await registerAccount(gw, new Browser(gw.auth), { email })).status, 201);
    const free = await new Browser(gw.auth).post('/register', { email: uniqueEmail() });
    for (const again of [{ email }, { email: email.toUpperCase() }]) {
      const seen = gw.mail!.to(email).length;
      const res = await new Browser(gw.auth).post('/register', again);
      assert.equal(res.status, 202);
      assert.deepEqual(res.body, free.body);
      assert.match((await gw.mail!.waitFor(email, seen)).raw, /already have an account/);
    }
  });

  it('gives the new identity the default role and a profile row, as the registration hook does', async () => {
    const email = uniqueEmail();
    const signUp = await registerAccount(gw, new Browser(gw.auth), { email });
    assert.deepEqual(signUp.body.roles, ['user']);
    const { rows } = await gw.deps.db.query<{ email: string }>(
      'SELECT email FROM profiles WHERE identity_id = $1',
      [signUp.body.identityId],
    );
    assert.equal(rows[0]?.email, email);
  });

  it('gives the registration an opaque user handle and the supported algorithms', async () => {
    const browser = new Browser(gw.auth);
    const email = uniqueEmail();
    const signUp = await registerAccount(gw, browser, { email });
    const options = await browser.post('/passkeys/options', {});
    assert.equal(options.status, 200);
    const body = options.body;
    assert.equal(body.rp.id, 'localhost');
    assert.equal(body.user.name, email);
    const handle = Buffer.from(body.user.id, 'base64url');
    assert.equal(handle.length, 32);
    assert.ok(!handle.toString('utf8').includes(signUp.body.identityId));
    assert.ok(!handle.toString('utf8').includes(email));
    assert.deepEqual(
      body.pubKeyCredParams.map((p: { alg: number }) => p.alg),
      [-7, -8, -257],
    );
    assert.equal(body.authenticatorSelection.residentKey, 'preferred');
    assert.equal(body.authenticatorSelection.userVerification, 'preferred');
    assert.equal(body.attestation, 'none');
  });

  it('turns the sign-up into an aal2 session once a user-verifying passkey is registered', async () => {
    const { browser, identityId, passkeyId } = await signUpWithPasskey(gw);
    const session = await browser.get('/session');
    assert.equal(session.status, 200);
    assert.equal(session.body.aal, 'aal2');
    assert.equal(session.body.passkeyEnrollmentRequired, undefined);
    assert.deepEqual(
      session.body.methods.map((m: { method: string; userVerified: boolean }) => [m.method, m.userVerified]),
      [['passkey', true]],
    );
    const added = await auditEvents(gw, 'passkey.added', identityId);
    assert.equal(added.length, 1);
    assert.equal(added[0]!.details.passkeyId, passkeyId);
  });

  it('gives an aal1 session when the authenticator did not verify the user', async () => {
    const { browser } = await signUpWithPasskey(gw, new SoftAuthenticator({ userVerification: false }));
    const session = await browser.get('/session');
    assert.equal(session.body.aal, 'aal1');
  });

  it('excludes the passkeys the identity already has', async () => {
    const { browser, passkeyId } = await signUpWithPasskey(gw);
    const options = await browser.post('/passkeys/options', {});
    assert.deepEqual(
      options.body.excludeCredentials.map((c: { id: string }) => c.id),
      [passkeyId],
    );
  });
});

describe('POST /api/auth/login/passkey', () => {
  it('signs in with a discoverable passkey at aal2 and a fresh session id', async () => {
    const { authenticator, identityId } = await signUpWithPasskey(gw);
    const { res, browser } = await passkeyLogin(gw, authenticator);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.identityId, identityId);
    assert.equal(res.body.aal, 'aal2');
    assert.equal(res.body.source, 'gateway');
    const session = await browser.get('/session');
    assert.equal(session.body.aal, 'aal2');
    const logins = await auditEvents(gw, 'login.passkey', identityId);
    assert.deepEqual(
      logins.map((e) => e.outcome),
      ['success'],
    );
  });

  it('offers no credentials without an identifier (conditional UI)', async () => {
    const options = await new Browser(gw.auth).post('/login/passkey/options', {});
    assert.equal(options.status, 200);
    assert.deepEqual(options.body.allowCredentials ?? [], []);
    assert.equal(options.body.rpId, 'localhost');
    assert.match(options.body.challenge, /^[A-Za-z0-9_-]{43}$/);
  });

  it('narrows allowCredentials to the identity of an identifier', async () => {
    const { authenticator, email, passkeyId } = await signUpWithPasskey(gw);
    const { res } = await passkeyLogin(gw, authenticator, { identifier: email });
    assert.equal(res.status, 200);
    const options = await new Browser(gw.auth).post('/login/passkey/options', { identifier: email });
    assert.deepEqual(options.body.allowCredentials, [{ id: passkeyId, type: 'public-key' }]);
  });

  it('answers unknown identifiers with deterministic fake credentials of the same shape', async () => {
    const { email } = await signUpWithPasskey(gw);
    const known = await new Browser(gw.auth).post('/login/passkey/options', { identifier: email });
    const unknown = uniqueEmail('nobody');
    const first = await new Browser(gw.auth).post('/login/passkey/options', { identifier: unknown });
    const second = await new Browser(gw.auth).post('/login/passkey/options', { identifier: unknown });
    assert.deepEqual(Object.keys(first.body).sort(), Object.keys(known.body).sort());
    assert.deepEqual(first.body.allowCredentials, second.body.allowCredentials);
    assert.notEqual(first.body.challenge, second.body.challenge);
  });

  it('signs in an identity whose password login is locked out', async () => {
    const { email, identityId } = await seedPasswordUser(gw);
    const browser = await passwordLogin(gw, email);
    const authenticator = new SoftAuthenticator();
    await addPasskey(browser, authenticator);
    let locked;
    for (let i = 0; i < 12 && locked?.status !== 423; i++) {
      locked = await new Browser(gw.auth).post('/login/password', {
        identifier: email,
        password: 'wrong-password-123',
      });
    }
    assert.equal(locked?.status, 423);
    const { res } = await passkeyLogin(gw, authenticator, { identifier: email });
    assert.equal(res.status, 200);
    assert.equal(res.body.identityId, identityId);
  });

  it('still signs in when the authenticator has no counter (always 0)', async () => {
    const { authenticator } = await signUpWithPasskey(gw, new SoftAuthenticator({ counterStep: 0 }));
    for (let i = 0; i < 2; i++) {
      const { res } = await passkeyLogin(gw, authenticator);
      assert.equal(res.status, 200);
    }
  });
});

describe('POST /api/auth/identify', () => {
  it('returns passkey request options whose challenge a login can answer', async () => {
    const { authenticator, email, passkeyId, identityId } = await signUpWithPasskey(gw);
    const browser = new Browser(gw.auth);
    const answer = await browser.post('/identify', { identifier: email });
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body.methods, ['passkey', 'password']);
    assert.deepEqual(answer.body.passkey.allowCredentials, [{ id: passkeyId, type: 'public-key' }]);
    const login = await browser.post('/login/passkey', {
      credential: authenticator.authenticate(answer.body.passkey),
    });
    assert.equal(login.status, 200);
    assert.equal(login.body.identityId, identityId);
  });

  it('gives unknown identifiers that offer a passkey the same answer shape', async () => {
    const { email } = await signUpWithPasskey(gw);
    const known = await new Browser(gw.auth).post('/identify', { identifier: email });
    let unknown = await new Browser(gw.auth).post('/identify', { identifier: uniqueEmail('ghost') });
    for (let i = 0; i < 30 && !unknown.body.methods.includes('passkey'); i++) {
      unknown = await new Browser(gw.auth).post('/identify', { identifier: uniqueEmail('ghost') });
    }
    assert.ok(unknown.body.methods.includes('passkey'), 'some unknown identifier is offered a passkey');
    assert.deepEqual(Object.keys(unknown.body).sort(), Object.keys(known.body).sort());
    assert.deepEqual(Object.keys(unknown.body.passkey).sort(), Object.keys(known.body.passkey).sort());
    assert.deepEqual(
      unknown.body.passkey.allowCredentials.map((c: { id: string }) => c.id),
      unknown.body.credentialIds,
    );
  });

  it('gives a password-only identity every method and decoy passkey ids, like an unknown address', async () => {
    const { email } = await seedPasswordUser(gw);
    const answer = await new Browser(gw.auth).post('/identify', { identifier: email });
    assert.deepEqual(answer.body.methods, ['passkey', 'password']);
    assert.ok(answer.body.credentialIds.length > 0);
    assert.deepEqual(
      answer.body.passkey.allowCredentials.map((c: { id: string }) => c.id),
      answer.body.credentialIds,
    );
  });
});

describe('POST /api/auth/step-up', () => {
  it('raises a password session to aal2 in place with the identity’s passkey', async () => {
    const { email, identityId } = await seedPasswordUser(gw);
    const authenticator = new SoftAuthenticator({ userVerification: false });
    await addPasskey(await passwordLogin(gw, email), authenticator);
    // A later password sign-in owes the passkey the account now has.
    const browser = new Browser(gw.auth);
    const login = await browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
    assert.equal(login.status, 403);
    assert.deepEqual(login.body.error.details.methods, ['passkey']);
    const before = await browser.get('/session');
    assert.equal(before.status, 403);
    const denied = await browser.get('/verify?aal=aal2');
    assert.equal(denied.status, 403);
    const handlesBefore = Object.keys(await gw.deps.sessionIndex.list(identityId)).sort();
    const cookieBefore = browser.cookies.get('gw_session');
    const raised = await stepUp(browser, authenticator);
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    assert.equal(raised.body.aal, 'aal2');
    assert.notEqual(browser.cookies.get('gw_session'), cookieBefore, 'a new session id');
    const handlesAfter = Object.keys(await gw.deps.sessionIndex.list(identityId)).sort();
    assert.deepEqual(handlesAfter, handlesBefore, 'the same session, raised');
    assert.ok(handlesBefore.includes(raised.body.sessionId));
    assert.deepEqual(
      raised.body.methods.map((m: { method: string }) => m.method),
      ['password', 'passkey'],
    );
    assert.equal((await browser.get('/verify?aal=aal2')).status, 200);
    const events = await auditEvents(gw, 'step_up.passkey', identityId);
    assert.deepEqual(
      events.map((e) => e.outcome),
      ['success'],
    );
  });

  it('raises an aal1 passkey session with a user-verified assertion', async () => {
    const authenticator = new SoftAuthenticator({ userVerification: false });
    await signUpWithPasskey(gw, authenticator);
    const { browser, res } = await passkeyLogin(gw, authenticator);
    assert.equal(res.body.aal, 'aal1');
    const denied = await browser.get('/verify?aal=aal2');
    assert.equal(denied.status, 403);
    const refusal = await browser.delete(`/passkeys/${[...authenticator.credentials.keys()][0]}`);
    assert.equal(refusal.body.error.code, 'aal2_required');
    assert.deepEqual(refusal.body.error.details.methods, ['passkey']);
    const raised = await stepUp(browser, authenticator, { userVerification: true });
    assert.equal(raised.status, 200);
    assert.equal(raised.body.aal, 'aal2');
  });

  it('refuses options to a session whose identity has no passkey', async () => {
    const { email } = await seedPasswordUser(gw);
    const browser = await passwordLogin(gw, email);
    const options = await browser.post('/step-up/options', {});
    assert.equal(options.status, 409);
    assert.equal(options.body.error.code, 'no_passkey');
  });

  it('needs a session', async () => {
    const res = await new Browser(gw.auth).post('/step-up/options', {});
    assert.equal(res.status, 401);
  });
});
