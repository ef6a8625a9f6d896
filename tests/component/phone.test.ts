import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser } from '../helpers/http.js';
import { seedIdentity, signedIn, startAccountGateway } from '../helpers/account.js';
import { kratosTexts, textedByKratos, uniquePhone } from '../helpers/sms-sink.js';

/**
 * A phone number on the account: set through Kratos' settings flow, whose verification hook
 * texts it a code through the courier's `sms` channel (the tests' SMS sink), proven with that
 * code through Kratos' verification flow, then usable for sign-in by SMS code; removed again.
 */
let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway({ env: { SMS_CODE_LOGIN: 'true' }, sms: true });
});
after(async () => {
  await gw.close();
});

/** Sets `phone` and answers the verification code Kratos texted it. */
async function setPhone(browser: Browser, phone: string): Promise<string> {
  const { code, body } = await textedByKratos(gw.kratos, gw.sms, phone, async () => {
    const res = await browser.post('/phone', { phone });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    assert.deepEqual(res.body, { status: 'code_sent', message: 'A code is on its way to the number.' });
  });
  assert.match(body, /^Your verification code is: \d{6}\n?$/);
  return code;
}

async function signedInUser() {
  const identity = await seedIdentity(gw.kratos);
  return { ...identity, browser: await signedIn(gw, identity.email) };
}

async function auditOutcomes(type: string, identityId: string) {
  const { rows } = await gw.deps.db.query<{ outcome: string }>(
    'SELECT outcome FROM audit_events WHERE type = $1 AND identity_id = $2 ORDER BY seq',
    [type, identityId],
  );
  return rows.map((r) => r.outcome);
}

describe('the phone number of an account', () => {
  it('is set, proven with the texted code, then signs in by SMS code, and is removed', async () => {
    const { id, browser } = await signedInUser();
    const phone = uniquePhone();
    assert.deepEqual((await browser.get('/phone')).body, { phone: null, verified: false });
    const code = await setPhone(browser, phone);
    assert.deepEqual((await browser.get('/phone')).body, { phone, verified: false });
    const wrong = await browser.post('/phone/verify', { code: code === '000000' ? '111111' : '000000' });
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.body.error, {
      code: 'invalid_code',
      message: 'The code is wrong or was used already.',
    });
    const proven = await browser.post('/phone/verify', { code });
    assert.equal(proven.status, 200, JSON.stringify(proven.body));
    assert.deepEqual(proven.body, { phone, verified: true });
    // The code was used: the flow is finished, as an e-mail verification is.
    const again = await browser.post('/phone/verify', { code });
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'phone_not_started');
    assert.equal((await browser.post('/phone', { phone })).body.error.code, 'phone_verified');

    // The proven number now signs in by SMS code.
    const other = new Browser(gw.auth);
    const { code: loginCode } = await textedByKratos(gw.kratos, gw.sms, phone, async () => {
      assert.equal((await other.post('/login/sms', { phone })).status, 202);
    });
    const signIn = await other.post('/login/sms/verify', { code: loginCode });
    assert.equal(signIn.status, 200, JSON.stringify(signIn.body));
    assert.equal(signIn.body.identityId, id);

    const removed = await browser.delete('/phone');
    assert.equal(removed.status, 204);
    assert.deepEqual((await browser.get('/phone')).body, { phone: null, verified: false });
    const after = (await kratosTexts(gw.kratos, phone)).length;
    assert.equal((await new Browser(gw.auth).post('/login/sms', { phone })).status, 202);
    assert.equal(
      (await kratosTexts(gw.kratos, phone)).length,
      after,
      'a removed number gets no sign-in code',
    );
    assert.deepEqual(await auditOutcomes('phone.code_sent', id), ['success']);
    assert.deepEqual(await auditOutcomes('phone.verified', id), ['failure', 'success']);
    assert.deepEqual(await auditOutcomes('phone.removed', id), ['success']);
  });

  it('texts a new code when the same unverified number is set again, and only the newest proves it', async () => {
    const { browser } = await signedInUser();
    const phone = uniquePhone();
    const first = await setPhone(browser, phone);
    const second = await setPhone(browser, phone);
    if (first !== second) {
      const stale = await browser.post('/phone/verify', { code: first });
      assert.equal(stale.status, 400);
      assert.equal(stale.body.error.code, 'invalid_code');
    }
    const res = await browser.post('/phone/verify', { code: second });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { phone, verified: true });
  });

  it('an unproven number signs in nobody: no text, and any code is wrong', async () => {
    const { browser } = await signedInUser();
    const phone = uniquePhone();
    await setPhone(browser, phone);
    const seen = (await kratosTexts(gw.kratos, phone)).length;
    const stranger = new Browser(gw.auth);
    assert.equal((await stranger.post('/login/sms', { phone })).status, 202);
    const refused = await stranger.post('/login/sms/verify', { code: '123456' });
    assert.equal(refused.body.error.code, 'invalid_code');
    assert.equal((await kratosTexts(gw.kratos, phone)).length, seen, 'Kratos was asked for no text');
  });

  it('refuses a malformed number, another account’s number, and a phone trait through /profile', async () => {
    const { browser } = await signedInUser();
    for (const phone of ['5551234567', '+1 555 123', 'abc']) {
      const res = await browser.post('/phone', { phone });
      assert.equal(res.status, 400, phone);
      assert.equal(res.body.error.code, 'invalid_request');
    }
    const taken = uniquePhone();
    await seedIdentity(gw.kratos, { phone: taken, phoneVerified: true });
    const res = await browser.post('/phone', { phone: taken });
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'invalid_phone');
    const profile = await browser.patch('/profile', { traits: { phone: uniquePhone() } });
    assert.equal(profile.status, 400);
    assert.equal(profile.body.error.code, 'invalid_request');
    assert.deepEqual((await browser.get('/phone')).body, { phone: null, verified: false });
  });

  it('answers 400 phone_not_started without a number set, 409 no_phone removing none, 401 signed out', async () => {
    const { browser } = await signedInUser();
    const res = await browser.post('/phone/verify', { code: '123456' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'phone_not_started');
    const none = await browser.delete('/phone');
    assert.equal(none.status, 409);
    assert.equal(none.body.error.code, 'no_phone');
    const anonymous = new Browser(gw.auth);
    assert.equal((await anonymous.get('/phone')).status, 401);
    assert.equal((await anonymous.post('/phone', { phone: uniquePhone() })).status, 401);
  });
});
