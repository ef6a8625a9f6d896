import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser } from '../helpers/http.js';
import { addPasskey, passkeyLogin, signUpWithPasskey } from '../helpers/passkey-flows.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';
import {
  adminIdentity,
  enrollTotp,
  seedIdentity,
  signedIn,
  startAccountGateway,
  totpCode,
} from '../helpers/account.js';

/**
 * Sessions signed in with a passkey hold no Kratos session: the gateway changes what the
 * Kratos admin API allows, and says clearly what needs a Kratos session.
 */

const NEW_PASSWORD = 'passkey-users-password-01';
let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway();
});
after(async () => {
  await gw.close();
});

describe('account settings of a passkey-only session', () => {
  it('sets a first password through the admin API', async () => {
    const { browser, email } = await signUpWithPasskey(gw);
    const res = await browser.post('/password', { password: NEW_PASSWORD });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const login = await new Browser(gw.auth).post('/login/password', {
      identifier: email,
      password: NEW_PASSWORD,
    });
    // The password works, and its sign-in owes the passkey the account has.
    assert.equal(login.status, 403, JSON.stringify(login.body));
    assert.equal(login.body.error.code, 'aal2_required');
  });

  it('updates the profile through the admin API', async () => {
    const { browser, identityId } = await signUpWithPasskey(gw);
    const res = await browser.patch('/profile', { traits: { name: { last: 'Hopper' } } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual((await adminIdentity(gw.kratos, identityId)).traits.name, { last: 'Hopper' });
  });

  it('answers 409 kratos_session_required for TOTP enrollment and backup codes', async () => {
    const { browser } = await signUpWithPasskey(gw);
    for (const res of [await browser.post('/mfa/totp'), await browser.post('/mfa/backup-codes')]) {
      assert.equal(res.status, 409);
      assert.equal(res.body.error.code, 'kratos_session_required');
    }
  });

  it('removes an authenticator app through the admin API', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const secret = await enrollTotp(await signedIn(gw, email));
    // With TOTP on the account, adding a passkey needs an aal2 session.
    const withPassword = await signedIn(gw, email);
    const stepped = await withPassword.post('/step-up/totp', { code: totpCode(secret) });
    assert.equal(stepped.status, 200, JSON.stringify(stepped.body));
    const authenticator = new SoftAuthenticator();
    await addPasskey(withPassword, authenticator);
    const { browser, res: login } = await passkeyLogin(gw, authenticator);
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.aal, 'aal2');
    const removed = await browser.delete('/mfa/totp');
    assert.equal(removed.status, 204, JSON.stringify(removed.body));
    assert.equal((await adminIdentity(gw.kratos, id)).credentials.totp, undefined);
    const again = await browser.delete('/mfa/totp');
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'totp_not_enabled');
  });
});
