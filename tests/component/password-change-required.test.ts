import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser } from '../helpers/http.js';
import { adminIdentity, seedIdentity, startAccountGateway } from '../helpers/account.js';

const NEW_PASSWORD = 'replacement-passphrase-2024';
let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway();
});
after(async () => {
  await gw.close();
});

/** A browser signed in as an identity an admin flagged for a password change. */
async function flaggedSession() {
  const identity = await seedIdentity(gw.kratos, { metadataAdmin: { password_change_required: true } });
  const browser = new Browser(gw.auth);
  const login = await browser.post('/login/password', {
    identifier: identity.email,
    password: identity.password,
  });
  return { ...identity, browser, login };
}

describe('an identity that must change its password', () => {
  it('signs in, and its session says so', async () => {
    const { login, browser } = await flaggedSession();
    assert.equal(login.status, 200, JSON.stringify(login.body));
    assert.equal(login.body.passwordChangeRequired, true);
    assert.equal((await browser.get('/session')).body.passwordChangeRequired, true);
  });

  it('reaches nothing else but the password change and logout', async () => {
    const { browser } = await flaggedSession();
    for (const res of [
      await browser.get('/sessions'),
      await browser.patch('/profile', { traits: { name: { first: 'Eve' } } }),
      await browser.post('/mfa/totp'),
      await browser.post('/mfa/backup-codes'),
    ]) {
      assert.equal(res.status, 403);
      assert.equal(res.body.error.code, 'password_change_required');
    }
  });

  it('may log out', async () => {
    const { browser } = await flaggedSession();
    assert.equal((await browser.post('/logout')).status, 204);
    assert.equal((await browser.get('/session')).status, 401);
  });

  it('gets full access once the password is changed, and the flag is cleared at Kratos', async () => {
    const { browser, id, email } = await flaggedSession();
    const changed = await browser.post('/password', { password: NEW_PASSWORD });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    assert.equal(changed.body.passwordChangeRequired, undefined);
    assert.equal((await adminIdentity(gw.kratos, id)).metadata_admin.password_change_required, false);
    assert.equal((await browser.get('/sessions')).status, 200);
    const again = await new Browser(gw.auth).post('/login/password', {
      identifier: email,
      password: NEW_PASSWORD,
    });
    assert.equal(again.status, 200);
    assert.equal(again.body.passwordChangeRequired, undefined);
  });

  it('still has to pick a password Kratos accepts', async () => {
    const { browser, email } = await flaggedSession();
    const res = await browser.post('/password', { password: email });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'weak_password');
    assert.equal((await browser.get('/session')).body.passwordChangeRequired, true);
  });
});
