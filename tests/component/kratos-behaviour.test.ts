/**
 * What real Kratos v1.3.1 does where the gateway once assumed otherwise. Runs in both tiers:
 * against the double (held to these answers) and, in `npm run test:real`, against real Kratos.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { latestCode, seedIdentity, startAccountGateway, totpCode, withTotp } from '../helpers/account.js';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { signUpWithPasskey } from '../helpers/passkey-flows.js';

const NIL_ID = '00000000-0000-0000-0000-000000000000';
let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway();
});
after(() => gw.close());

describe('password sign-in of an account with a second factor', () => {
  it('answers 403 aal2_required, not 502, although Kratos leaves the identity out of its answer', async () => {
    const { login, browser, secret, id } = await withTotp(gw);
    assert.equal(login.status, 403, JSON.stringify(login.body));
    assert.equal(login.body.error.code, 'aal2_required');
    assert.ok(login.body.error.details.methods.includes('totp'));
    const raised = await browser.post('/step-up/totp', { code: totpCode(secret) });
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    assert.equal(raised.body.identityId, id);
    assert.equal(raised.body.aal, 'aal2');
  });

  it('answers a step-up of a session that is aal2 already without an error from Kratos', async () => {
    const { browser, secret } = await withTotp(gw);
    const first = totpCode(secret);
    assert.equal((await browser.post('/step-up/totp', { code: first })).status, 200);
    const again = await browser.post('/step-up/totp', { code: first });
    assert.equal(again.status, 200, JSON.stringify(again.body));
    assert.equal(again.body.aal, 'aal2');
  });
});

describe('recovery by code through the API', () => {
  it('hands the recovered session to the gateway (continue_with), instead of 422 after signing out', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const browser = new Browser(gw.auth);
    assert.equal((await browser.post('/recovery', { email })).status, 202);
    let code: string | undefined;
    while (!(code = await latestCode(gw.kratos, email))) await new Promise((r) => setTimeout(r, 50));
    const res = await browser.post('/recovery/code', { code });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.identityId, id);
    assert.equal((await browser.get('/session')).status, 200);
  });
});

describe('an identity without a password', () => {
  it('is not counted as having one, although Kratos gives it an empty password credential', async () => {
    const { identityId, browser, passkeyId } = await signUpWithPasskey(gw);
    const identity = await gw.deps.kratos.getIdentity(identityId);
    assert.ok(identity);
    assert.ok(!identity.credentialTypes.includes('password'), identity.credentialTypes.join(','));
    const removed = await browser.delete(`/passkeys/${passkeyId}`);
    assert.equal(removed.status, 409);
    assert.equal(removed.body.error.code, 'last_credential');
  });
});

describe('registration web hooks', () => {
  it('write the profile and audit under the stored identity id, never under the nil UUID', async () => {
    const email = uniqueEmail('hooks');
    const flow = (await (await fetch(`${gw.kratos.publicUrl}/self-service/registration/api`)).json()) as {
      id: string;
    };
    const res = await fetch(`${gw.kratos.publicUrl}/self-service/registration?flow=${flow.id}`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify({ method: 'password', password: STRONG_PASSWORD, traits: { email } }),
    });
    const body = (await res.json()) as { identity: { id: string; metadata_public: { roles: string[] } } };
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.deepEqual(body.identity.metadata_public.roles, ['user']);
    const profiles = await gw.deps.db.query<{ identity_id: string }>(
      'SELECT identity_id FROM profiles WHERE email = $1',
      [email],
    );
    assert.deepEqual(
      profiles.rows.map((r) => r.identity_id),
      [body.identity.id],
    );
    const nil = await gw.deps.db.query('SELECT 1 FROM profiles WHERE identity_id = $1', [NIL_ID]);
    assert.equal(nil.rows.length, 0);
  });
});
