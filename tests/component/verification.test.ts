import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser, uniqueEmail } from '../helpers/http.js';
import { latestCode, mailCount, seedIdentity, signedIn, startAccountGateway } from '../helpers/account.js';

let gw: TestGateway;
let strict: TestGateway;

before(async () => {
  gw = await startAccountGateway();
  strict = await startAccountGateway({ env: { REQUIRE_VERIFIED_EMAIL: 'true' } });
});
after(async () => {
  await gw.close();
  await strict.close();
});

async function verify(target: TestGateway, browser: Browser, email: string) {
  assert.equal((await browser.post('/verification', {})).status, 202);
  const code = await latestCode(target.kratos, email);
  assert.ok(code);
  return browser.post('/verification/code', { code });
}

describe('POST /api/auth/verification', () => {
  it("sends a code to the signed-in user's address when no address is given", async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    const res = await browser.post('/verification', {});
    assert.equal(res.status, 202);
    assert.equal(await mailCount(gw.kratos, email), 1);
  });

  it('answers alike for an address nobody has', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const known = await new Browser(gw.auth).post('/verification', { email });
    const unknown = await new Browser(gw.auth).post('/verification', { email: uniqueEmail('nobody') });
    assert.equal(known.status, 202);
    assert.equal(unknown.status, 202);
    assert.deepEqual(known.body, unknown.body);
  });

  it('answers 400 when signed out and no address is given', async () => {
    const res = await new Browser(gw.auth).post('/verification', {});
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details.field, 'email');
  });
});

describe('POST /api/auth/verification/code', () => {
  it('verifies the address, and GET /session shows it at once', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    assert.equal((await browser.get('/session')).body.emailVerified, false);
    const res = await verify(gw, browser, email);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { verified: true, removedPasskeys: [] });
    assert.equal((await browser.get('/session')).body.emailVerified, true);
  });

  it('answers 400 invalid_code for a wrong code', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    await browser.post('/verification', {});
    const code = (await latestCode(gw.kratos, email))!;
    const res = await browser.post('/verification/code', { code: code === '123456' ? '654321' : '123456' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_code');
    assert.equal((await browser.get('/session')).body.emailVerified, false);
  });

  it('answers 400 verification_not_started when this browser asked for no code', async () => {
    const res = await new Browser(gw.auth).post('/verification/code', { code: '123456' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'verification_not_started');
  });

  it('does not accept a used code again', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    await browser.post('/verification', {});
    const code = (await latestCode(gw.kratos, email))!;
    assert.equal((await browser.post('/verification/code', { code })).status, 200);
    const again = await browser.post('/verification/code', { code });
    assert.equal(again.status, 400);
  });
});

describe('REQUIRE_VERIFIED_EMAIL', () => {
  it('keeps unverified users from protected routes until they verify', async () => {
    const { email } = await seedIdentity(strict.kratos);
    const browser = await signedIn(strict, email);
    const refused = await browser.get('/sessions');
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'email_verification_required');
    const session = await browser.get('/session');
    assert.equal(session.status, 200);
    assert.equal(session.body.emailVerificationRequired, true);
    assert.equal((await verify(strict, browser, email)).status, 200);
    assert.equal((await browser.get('/sessions')).status, 200);
  });

  it('lets unverified users through when the switch is off', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    assert.equal((await browser.get('/sessions')).status, 200);
  });
});
