/**
 * Texted codes as an opt-in second factor (SMS_CODE_MFA), kept by the gateway like e-mailed ones
 * (the same code serves both): only an account whose owner turned it on for a verified phone
 * number owes it; a password session steps up with a code the gateway texts to the operator's
 * SMS endpoint (here the tests' SMS sink); the session that turned it on, and a session that
 * signed in by a code, never reach aal2 with it; an SMS provider outage is a 503 naming it.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seedIdentity, startAccountGateway } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, type ApiResponse } from '../helpers/http.js';
import { smsCode, textedByKratos, uniquePhone } from '../helpers/sms-sink.js';

let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway({ env: { SMS_CODE_MFA: 'true', SMS_CODE_LOGIN: 'true' }, sms: true });
});
after(async () => {
  await gw.close();
});

const codeOf = (res: ApiResponse) => res.body?.error?.code as string | undefined;
const sink = () => {
  assert.ok(gw.sms);
  return gw.sms;
};

async function passwordSignIn(email: string, gateway = gw) {
  const browser = new Browser(gateway.auth);
  const res = await browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
  return { browser, res };
}

/** Runs `send`, then answers the code of the text it made the gateway send to `phone`. */
async function textedCode(phone: string, send: () => Promise<ApiResponse>): Promise<string> {
  const seen = sink().to(phone).length;
  const res = await send();
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.deepEqual(res.body, { status: 'code_sent', message: 'A code is on its way to your phone.' });
  const text = await sink().waitFor(phone, seen);
  assert.equal(text.authorization, `Bearer ${sink().apiKey}`, 'the gateway sends the provider key');
  const code = smsCode(text);
  assert.ok(code, 'the text carries a code');
  return code;
}

const other = (code: string) => (code === '000000' ? '111111' : '000000');

/** An account with a verified phone number and texted codes turned on (from a dropped session). */
async function optedIn() {
  const phone = uniquePhone();
  const who = await seedIdentity(gw.kratos, { verified: true, phone, phoneVerified: true });
  const { browser } = await passwordSignIn(who.email);
  const code = await textedCode(phone, () => browser.post('/mfa/sms', {}));
  const confirmed = await browser.post('/mfa/sms/confirm', { code });
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  return { ...who, phone, enrolling: browser };
}

async function auditOutcomes(type: string, identityId: string) {
  const { rows } = await gw.deps.db.query<{ outcome: string }>(
    'SELECT outcome FROM audit_events WHERE type = $1 AND identity_id = $2 ORDER BY seq',
    [type, identityId],
  );
  return rows.map((r) => r.outcome);
}

describe('texted codes are a second factor only for accounts that turned them on', () => {
  it('an account that did not opt in is not asked, and one without a verified number cannot opt in', async () => {
    const phone = uniquePhone();
    const { email } = await seedIdentity(gw.kratos, { verified: true, phone });
    const { browser, res } = await passwordSignIn(email);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.aal, 'aal1');
    assert.deepEqual((await browser.get('/mfa/sms')).body, {
      enabled: false,
      address: phone,
      addressVerified: false,
    });
    const refused = await browser.post('/mfa/sms', {});
    assert.equal(refused.status, 409);
    assert.equal(codeOf(refused), 'phone_not_verified');
    assert.equal(sink().to(phone).length, 0, 'no code is texted to an unproven number');
    assert.equal(codeOf(await browser.post('/step-up/sms/options', {})), 'no_sms_factor');
  });

  it('turning it on needs the texted code; it is audited, and never raises that session', async () => {
    const phone = uniquePhone();
    const { id, email } = await seedIdentity(gw.kratos, { verified: true, phone, phoneVerified: true });
    const { browser } = await passwordSignIn(email);
    const early = await browser.post('/mfa/sms/confirm', { code: '123456' });
    assert.equal(codeOf(early), 'invalid_code');
    const code = await textedCode(phone, () => browser.post('/mfa/sms', {}));
    assert.equal(codeOf(await browser.post('/mfa/sms/confirm', { code: other(code) })), 'invalid_code');
    const seen = gw.mail!.to(email).length;
    const confirmed = await browser.post('/mfa/sms/confirm', { code });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    assert.equal(confirmed.body.aal, 'aal1', 'turning the factor on does not raise the session');
    assert.equal((await browser.get('/mfa/sms')).body.enabled, true);
    assert.match((await gw.mail!.waitFor(email, seen)).raw, /Confirmation by texted code was added/);
    assert.deepEqual(await auditOutcomes('mfa.sms_enabled', id), ['failure', 'failure', 'success']);
    const options = await browser.post('/step-up/sms/options', {});
    assert.equal(options.status, 403);
    assert.equal(codeOf(options), 'factor_enrolled_in_this_session');
  });

  it('a password sign-in of an opted-in account owes it, and reaches aal2 with the texted code', async () => {
    const { id, email, phone } = await optedIn();
    const { browser, res } = await passwordSignIn(email);
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(codeOf(res), 'aal2_required');
    assert.deepEqual(res.body.error.details.methods, ['sms']);
    const code = await textedCode(phone, () => browser.post('/step-up/sms/options', {}));
    const wrong = await browser.post('/step-up/sms', { code: other(code) });
    assert.equal(wrong.status, 400);
    assert.deepEqual(wrong.body.error, {
      code: 'invalid_code',
      message: 'The code is wrong, was used already or has expired.',
    });
    const raised = await browser.post('/step-up/sms', { code });
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    assert.equal(raised.body.aal, 'aal2');
    assert.ok(raised.body.methods.some((m: { method: string }) => m.method === 'sms_code'));
    const reused = await browser.post('/step-up/sms', { code });
    assert.equal(reused.status, 400);
    assert.equal(codeOf(reused), 'invalid_code');
    assert.deepEqual(await auditOutcomes('step_up.sms_code', id), ['failure', 'success', 'failure']);
  });

  it('a few wrong tries burn the code; a code is bound to its session; malformed codes are 400', async () => {
    const { email, phone } = await optedIn();
    const { browser } = await passwordSignIn(email);
    const code = await textedCode(phone, () => browser.post('/step-up/sms/options', {}));
    const { browser: elsewhere } = await passwordSignIn(email);
    assert.equal(codeOf(await elsewhere.post('/step-up/sms', { code })), 'invalid_code');
    for (let i = 0; i < 3; i++)
      assert.equal(codeOf(await browser.post('/step-up/sms', { code: other(code) })), 'invalid_code');
    assert.equal(codeOf(await browser.post('/step-up/sms', { code })), 'invalid_code', 'burnt');
    assert.equal(codeOf(await browser.post('/step-up/sms', { code: '12ab' })), 'invalid_request');
  });

  it('a sign-in by SMS code neither owes nor pays it', async () => {
    const { phone } = await optedIn();
    const browser = new Browser(gw.auth);
    const { code } = await textedByKratos(gw.kratos, gw.sms, phone, async () => {
      assert.equal((await browser.post('/login/sms', { phone })).status, 202);
    });
    const res = await browser.post('/login/sms/verify', { code });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.aal, 'aal1');
    const options = await browser.post('/step-up/sms/options', {});
    assert.equal(options.status, 409);
    assert.equal(codeOf(options), 'sms_factor_unusable');
  });

  it('an SMS provider outage is a 503 that names it, and the code it could not send does not work', async () => {
    const { email, phone } = await optedIn();
    const { browser } = await passwordSignIn(email);
    sink().fail(502);
    try {
      const res = await browser.post('/step-up/sms/options', {});
      assert.equal(res.status, 503, JSON.stringify(res.body));
      assert.equal(codeOf(res), 'sms_unavailable');
      assert.match(res.body.error.message, /SMS provider/);
    } finally {
      sink().fail(undefined);
    }
    const code = await textedCode(phone, () => browser.post('/step-up/sms/options', {}));
    assert.equal((await browser.post('/step-up/sms', { code })).body.aal, 'aal2');
  });

  it('stops counting when the phone number is removed, and turning it off needs aal2', async () => {
    const { id, email, phone, enrolling } = await optedIn();
    assert.equal(codeOf(await enrolling.delete('/mfa/sms')), 'aal2_required');
    const { browser } = await passwordSignIn(email);
    const code = await textedCode(phone, () => browser.post('/step-up/sms/options', {}));
    assert.equal((await browser.post('/step-up/sms', { code })).status, 200);
    assert.equal((await browser.delete('/mfa/sms')).status, 204);
    assert.deepEqual(await auditOutcomes('mfa.sms_removed', id), ['success']);
    assert.equal(codeOf(await browser.delete('/mfa/sms')), 'sms_factor_not_enabled');
    const next = await passwordSignIn(email);
    assert.equal(next.res.status, 200, JSON.stringify(next.res.body));
    assert.equal(next.res.body.aal, 'aal1');
  });
});

describe('with SMS_CODE_MFA off', () => {
  let off: TestGateway;
  before(async () => {
    off = await startTestGateway({ share: gw, sms: true, env: { SMS_CODE_MFA: 'false' } });
  });
  after(() => off?.close());

  it('the routes answer 404 method_disabled, and an opted-in account owes nothing', async () => {
    const browser = new Browser(off.auth);
    for (const res of [
      await browser.get('/mfa/sms'),
      await browser.post('/mfa/sms', {}),
      await browser.post('/mfa/sms/confirm', { code: '123456' }),
      await browser.delete('/mfa/sms'),
      await browser.post('/step-up/sms/options', {}),
      await browser.post('/step-up/sms', { code: '123456' }),
    ]) {
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(codeOf(res), 'method_disabled');
    }
    const { email } = await optedIn();
    const { res } = await passwordSignIn(email, off);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.aal, 'aal1');
  });
});
