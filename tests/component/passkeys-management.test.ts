import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD } from '../helpers/http.js';
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

const ICLOUD = 'fbfc3007-154e-4ecc-8c0b-6e020557d7bd';

// The gateway's clock runs ahead by `skewMs` when a test needs an old authentication.
let skewMs = 0;
let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({ overrides: { clock: () => new Date(Date.now() + skewMs) } });
});
after(async () => {
  await gw?.close();
});

const PRIVILEGED_MAX_AGE_MS = 900_000;

/** Runs `fn` with the gateway's clock past the privileged window. */
async function later<T>(fn: () => Promise<T>): Promise<T> {
  skewMs = PRIVILEGED_MAX_AGE_MS + 60_000;
  try {
    return await fn();
  } finally {
    skewMs = 0;
  }
}

describe('GET /api/auth/passkeys', () => {
  it('lists the passkeys with their names and last use', async () => {
    const authenticator = new SoftAuthenticator({ aaguid: ICLOUD, backedUp: true });
    const { browser, passkeyId } = await signUpWithPasskey(gw, authenticator);
    const second = await addPasskey(browser, new SoftAuthenticator(), 'Work laptop');
    const before = await browser.get('/passkeys');
    assert.equal(before.status, 200);
    const [first, other] = before.body.passkeys;
    assert.equal(first.id, passkeyId);
    assert.equal(first.nickname, 'iCloud Keychain');
    assert.equal(first.authenticator, 'iCloud Keychain');
    assert.equal(first.deviceType, 'multiDevice');
    assert.equal(first.backedUp, true);
    assert.equal(first.lastUsedAt, null);
    assert.equal(other.id, second);
    assert.equal(other.nickname, 'Work laptop');
    assert.equal(other.authenticator, null);
    await passkeyLogin(gw, authenticator);
    const after = await browser.get('/passkeys');
    assert.ok(after.body.passkeys[0].lastUsedAt);
  });

  it('shows only the caller’s own passkeys', async () => {
    const alice = await signUpWithPasskey(gw);
    const bob = await signUpWithPasskey(gw);
    const list = await bob.browser.get('/passkeys');
    assert.deepEqual(
      list.body.passkeys.map((p: { id: string }) => p.id),
      [bob.passkeyId],
    );
    assert.notEqual(alice.passkeyId, bob.passkeyId);
  });

  it('needs a session', async () => {
    assert.equal((await new Browser(gw.auth).get('/passkeys')).status, 401);
  });
});

describe('PATCH /api/auth/passkeys/:id', () => {
  it('renames a passkey and records it', async () => {
    const { browser, passkeyId, identityId } = await signUpWithPasskey(gw);
    const res = await browser.patch(`/passkeys/${passkeyId}`, { nickname: '  Phone  ' });
    assert.equal(res.status, 200);
    assert.equal(res.body.nickname, 'Phone');
    assert.equal((await browser.get('/passkeys')).body.passkeys[0].nickname, 'Phone');
    assert.equal((await auditEvents(gw, 'passkey.renamed', identityId)).length, 1);
  });

  it('answers 404 for another identity’s passkey and 400 for an empty name', async () => {
    const alice = await signUpWithPasskey(gw);
    const bob = await signUpWithPasskey(gw);
    const foreign = await bob.browser.patch(`/passkeys/${alice.passkeyId}`, { nickname: 'Mine now' });
    assert.equal(foreign.status, 404);
    const empty = await bob.browser.patch(`/passkeys/${bob.passkeyId}`, { nickname: ' ' });
    assert.equal(empty.status, 400);
  });
});

describe('DELETE /api/auth/passkeys/:id', () => {
  it('never removes the last passkey of an identity without a password', async () => {
    const { browser, passkeyId, identityId } = await signUpWithPasskey(gw);
    const res = await browser.delete(`/passkeys/${passkeyId}`);
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'last_credential');
    assert.equal((await browser.get('/passkeys')).body.passkeys.length, 1);
    const denied = await auditEvents(gw, 'passkey.removed', identityId);
    assert.deepEqual(
      denied.map((e) => e.outcome),
      ['denied'],
    );
  });

  it('removes one of two passkeys, then refuses the last one', async () => {
    const { browser, passkeyId, identityId } = await signUpWithPasskey(gw);
    const second = await addPasskey(browser, new SoftAuthenticator());
    const removed = await browser.delete(`/passkeys/${passkeyId}`);
    assert.equal(removed.status, 204);
    assert.deepEqual(
      (await browser.get('/passkeys')).body.passkeys.map((p: { id: string }) => p.id),
      [second],
    );
    assert.equal((await browser.delete(`/passkeys/${second}`)).status, 409);
    const events = await auditEvents(gw, 'passkey.removed', identityId);
    assert.deepEqual(
      events.map((e) => e.outcome),
      ['success', 'denied'],
    );
  });

  it('lets only one of two concurrent deletes through when two passkeys remain', async () => {
    const { browser, passkeyId } = await signUpWithPasskey(gw);
    const second = await addPasskey(browser, new SoftAuthenticator());
    const results = await Promise.all([
      browser.delete(`/passkeys/${passkeyId}`),
      browser.delete(`/passkeys/${second}`),
    ]);
    assert.deepEqual(results.map((r) => r.status).sort(), [204, 409]);
    assert.equal((await browser.get('/passkeys')).body.passkeys.length, 1);
  });

  it('removes the only passkey of an identity that has a password, after a step-up', async () => {
    const { email } = await seedPasswordUser(gw);
    const browser = await passwordLogin(gw, email);
    const authenticator = new SoftAuthenticator();
    const id = await addPasskey(browser, authenticator);
    const before = await browser.delete(`/passkeys/${id}`);
    assert.equal(before.status, 403);
    assert.equal(before.body.error.code, 'aal2_required');
    // The passkey counts from the next sign-in, which owes it and steps up with it.
    const later = new Browser(gw.auth);
    await later.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
    assert.equal((await stepUp(later, authenticator)).status, 200);
    assert.equal((await later.delete(`/passkeys/${id}`)).status, 204);
  });

  it('needs a recent authentication', async () => {
    const { browser, passkeyId } = await signUpWithPasskey(gw);
    await addPasskey(browser, new SoftAuthenticator());
    const res = await later(() => browser.delete(`/passkeys/${passkeyId}`));
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'reauthentication_required');
  });

  it('answers 404 for another identity’s passkey', async () => {
    const alice = await signUpWithPasskey(gw);
    const bob = await signUpWithPasskey(gw);
    await addPasskey(bob.browser, new SoftAuthenticator());
    const res = await bob.browser.delete(`/passkeys/${alice.passkeyId}`);
    assert.equal(res.status, 404);
  });
});

describe('POST /api/auth/passkeys/options for a signed-in identity', () => {
  it('needs a recent authentication', async () => {
    const { email } = await seedPasswordUser(gw);
    const browser = await passwordLogin(gw, email);
    const res = await later(() => browser.post('/passkeys/options', {}));
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'reauthentication_required');
  });
});
