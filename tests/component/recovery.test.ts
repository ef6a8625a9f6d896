// real-stack: double-only (moves Kratos' clock to expire flows and sessions)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser, uniqueEmail } from '../helpers/http.js';
import {
  enrollTotp,
  latestCode,
  mailCount,
  seedIdentity,
  sharedClock,
  signedIn,
  startAccountGateway,
  totpCode,
} from '../helpers/account.js';

const NEW_PASSWORD = 'a-brand-new-passphrase-77';
const clock = sharedClock();
let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway({ kratosOptions: { now: clock.now }, overrides: { clock: clock.date } });
});
after(async () => {
  await gw.close();
});

async function requestCode(browser: Browser, email: string) {
  const res = await browser.post('/recovery', { email });
  assert.equal(res.status, 202, JSON.stringify(res.body));
  return res;
}

describe('POST /api/auth/recovery', () => {
  it('answers 202 with the same body for known and unknown addresses', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const known = await requestCode(new Browser(gw.auth), email);
    const unknown = await requestCode(new Browser(gw.auth), uniqueEmail('nobody'));
    assert.deepEqual(known.body, unknown.body);
    assert.equal(await mailCount(gw.kratos, email), 1);
  });

  it('never reveals the Kratos flow to the browser', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const res = await requestCode(new Browser(gw.auth), email);
    const flowIds = [...gw.kratos.state.flows.keys()];
    assert.ok(!flowIds.some((id) => JSON.stringify(res.body).includes(id)));
    assert.ok(!flowIds.some((id) => res.headers.getSetCookie().join(';').includes(id)));
  });

  it('answers 400 naming the field for a malformed address', async () => {
    const res = await new Browser(gw.auth).post('/recovery', { email: 'not-an-address' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details.field, 'email');
  });

  it('refuses the request without the CSRF header', async () => {
    const res = await new Browser(gw.auth).request('POST', '/recovery', {
      json: { email: uniqueEmail() },
      csrf: false,
    });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'csrf_failed');
  });
});

describe('POST /api/auth/recovery/code', () => {
  it('signs the user in with a recovery session that may set a new password', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const browser = new Browser(gw.auth);
    await requestCode(browser, email);
    const code = await latestCode(gw.kratos, email);
    assert.ok(code);
    const res = await browser.post('/recovery/code', { code });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.identityId, id);
    assert.equal(res.body.emailVerified, true);
    const changed = await browser.post('/password', { password: NEW_PASSWORD });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));
    const login = await new Browser(gw.auth).post('/login/password', {
      identifier: email,
      password: NEW_PASSWORD,
    });
    assert.equal(login.status, 200);
  });

  it('answers 400 invalid_code for a wrong code and records the failure', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = new Browser(gw.auth);
    await requestCode(browser, email);
    const code = (await latestCode(gw.kratos, email))!;
    const wrong = code === '000000' ? '111111' : '000000';
    const res = await browser.post('/recovery/code', { code: wrong });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_code');
    const { rows } = await gw.deps.db.query(
      `SELECT 1 FROM audit_events WHERE type = 'recovery.completed' AND outcome = 'failure'`,
    );
    assert.ok(rows.length >= 1);
    assert.equal((await browser.get('/session')).status, 401);
  });

  it('does not accept a code twice', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = new Browser(gw.auth);
    await requestCode(browser, email);
    const code = (await latestCode(gw.kratos, email))!;
    assert.equal((await browser.post('/recovery/code', { code })).status, 200);
    const again = await browser.post('/recovery/code', { code });
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'recovery_not_started');
  });

  it('does not continue a flow another browser started', async () => {
    const { email } = await seedIdentity(gw.kratos);
    await requestCode(new Browser(gw.auth), email);
    const code = (await latestCode(gw.kratos, email))!;
    const res = await new Browser(gw.auth).post('/recovery/code', { code });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'recovery_not_started');
  });

  it('answers 410 flow_expired once the flow has expired', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = new Browser(gw.auth);
    await requestCode(browser, email);
    const code = (await latestCode(gw.kratos, email))!;
    clock.advance(16 * 60);
    const res = await browser.post('/recovery/code', { code });
    assert.equal(res.status, 410);
    assert.equal(res.body.error.code, 'flow_expired');
    const again = await browser.post('/recovery/code', { code });
    assert.equal(again.body.error.code, 'recovery_not_started');
  });

  it('refuses a password change once the privileged window has passed', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = new Browser(gw.auth);
    await requestCode(browser, email);
    const code = (await latestCode(gw.kratos, email))!;
    assert.equal((await browser.post('/recovery/code', { code })).status, 200);
    clock.advance(16 * 60);
    const res = await browser.post('/password', { password: NEW_PASSWORD });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'reauthentication_required');
  });

  it('asks an account with an authenticator app for its second factor after recovery', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const secret = await enrollTotp(await signedIn(gw, email), clock.now());
    const browser = new Browser(gw.auth);
    await requestCode(browser, email);
    const code = (await latestCode(gw.kratos, email))!;
    const res = await browser.post('/recovery/code', { code });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'aal2_required');
    const stepped = await browser.post('/step-up/totp', { code: totpCode(secret, clock.now()) });
    assert.equal(stepped.status, 200, JSON.stringify(stepped.body));
    assert.equal(stepped.body.aal, 'aal2');
  });

  it('answers 400 for a malformed code without calling Kratos', async () => {
    const browser = await signedIn(gw, (await seedIdentity(gw.kratos)).email);
    const res = await browser.post('/recovery/code', { code: 'abc' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details.field, 'code');
  });
});
