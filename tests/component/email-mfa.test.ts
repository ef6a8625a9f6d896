/**
 * E-mailed codes as an opt-in second factor (EMAIL_CODE_MFA), kept by the gateway: only an
 * account whose owner turned it on (proving a verified address with a mailed code) owes it;
 * a password session then steps up with a code the gateway mails; the session that turned it
 * on, and a session that signed in by an e-mailed code, never reach aal2 with it; with the
 * configuration off the routes do not exist and the factor counts for no one.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createPolicy } from '../../gateway/src/access/policy.js';
import { latestCode, seedIdentity, startAccountGateway } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, type ApiResponse } from '../helpers/http.js';

let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway({ env: { EMAIL_CODE_MFA: 'true', EMAIL_CODE_LOGIN: 'true' } });
});
after(async () => {
  await gw.close();
});

const codeOf = (res: ApiResponse) => res.body?.error?.code as string | undefined;

async function passwordSignIn(email: string, gateway = gw) {
  const browser = new Browser(gateway.auth);
  const res = await browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
  return { browser, res };
}

/** Runs `send`, then answers the 6-digit code of the mail it made the gateway send to `address`. */
async function mailedCode(address: string, send: () => Promise<ApiResponse>): Promise<string> {
  const seen = gw.mail!.to(address).length;
  const res = await send();
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.deepEqual(res.body, { status: 'code_sent', message: 'A code is on its way to your address.' });
  const mail = await gw.mail!.waitFor(address, seen);
  const code = /: (\d{6})\b/.exec(mail.raw)?.[1];
  assert.ok(code, 'the mail carries a code');
  return code;
}

const other = (code: string) => (code === '000000' ? '111111' : '000000');

/** A verified account with e-mailed codes turned on (from a session that is then dropped). */
async function optedIn() {
  const who = await seedIdentity(gw.kratos, { verified: true });
  const { browser } = await passwordSignIn(who.email);
  const code = await mailedCode(who.email, () => browser.post('/mfa/email', {}));
  const confirmed = await browser.post('/mfa/email/confirm', { code });
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  return { ...who, enrolling: browser };
}

async function auditOutcomes(type: string, identityId: string) {
  const { rows } = await gw.deps.db.query<{ outcome: string }>(
    'SELECT outcome FROM audit_events WHERE type = $1 AND identity_id = $2 ORDER BY seq',
    [type, identityId],
  );
  return rows.map((r) => r.outcome);
}

describe('e-mailed codes are a second factor only for accounts that turned them on', () => {
  it('an account that did not opt in is not asked: its password session is complete at aal1', async () => {
    const { email } = await seedIdentity(gw.kratos, { verified: true });
    const { browser, res } = await passwordSignIn(email);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.aal, 'aal1');
    assert.equal((await browser.get('/session')).status, 200);
    const status = await browser.get('/mfa/email');
    assert.equal(status.status, 200);
    assert.deepEqual(status.body, { enabled: false, address: email, addressVerified: true });
    const options = await browser.post('/step-up/email/options', {});
    assert.equal(options.status, 409);
    assert.equal(codeOf(options), 'no_email_factor');
  });

  it('only a verified address may turn it on', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const { browser } = await passwordSignIn(email);
    const seen = gw.mail!.to(email).length;
    const res = await browser.post('/mfa/email', {});
    assert.equal(res.status, 409, JSON.stringify(res.body));
    assert.equal(codeOf(res), 'email_not_verified');
    assert.equal(gw.mail!.to(email).length, seen, 'no code is mailed to an unproven address');
  });

  it('turning it on needs the mailed code; it is audited, the owner mailed, and never raises that session', async () => {
    const { id, email } = await seedIdentity(gw.kratos, { verified: true });
    const { browser } = await passwordSignIn(email);
    // A confirmation before any code was sent, and a wrong code, are refused alike.
    const early = await browser.post('/mfa/email/confirm', { code: '123456' });
    assert.equal(early.status, 400);
    assert.equal(codeOf(early), 'invalid_code');
    const code = await mailedCode(email, () => browser.post('/mfa/email', {}));
    const wrong = await browser.post('/mfa/email/confirm', { code: other(code) });
    assert.equal(codeOf(wrong), 'invalid_code');
    assert.equal((await browser.get('/mfa/email')).body.enabled, false);

    const seen = gw.mail!.to(email).length;
    const confirmed = await browser.post('/mfa/email/confirm', { code });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    assert.equal(confirmed.body.aal, 'aal1', 'turning the factor on does not raise the session');
    assert.equal((await browser.get('/mfa/email')).body.enabled, true);
    const notice = await gw.mail!.waitFor(email, seen);
    assert.match(notice.raw, /A sign-in method was added to your account/);
    assert.deepEqual(await auditOutcomes('mfa.email_enabled', id), ['failure', 'failure', 'success']);

    // The enrolling session cannot step up with it; adding or changing factors now needs aal2.
    const options = await browser.post('/step-up/email/options', {});
    assert.equal(options.status, 403);
    assert.equal(codeOf(options), 'factor_enrolled_in_this_session');
    assert.equal(codeOf(await browser.post('/mfa/email', {})), 'aal2_required');
  });

  it('a password sign-in of an opted-in account owes it, and reaches aal2 with the mailed code', async () => {
    const { id, email } = await optedIn();
    const { browser, res } = await passwordSignIn(email);
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(codeOf(res), 'aal2_required');
    assert.deepEqual(res.body.error.details.methods, ['email']);
    assert.equal((await browser.get('/../jars')).status, 403, 'the session owes its factor');

    const code = await mailedCode(email, () => browser.post('/step-up/email/options', {}));
    const wrong = await browser.post('/step-up/email', { code: other(code) });
    assert.equal(wrong.status, 400);
    assert.equal(codeOf(wrong), 'invalid_code');
    const raised = await browser.post('/step-up/email', { code });
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    assert.equal(raised.body.aal, 'aal2');
    assert.ok(raised.body.methods.some((m: { method: string }) => m.method === 'email_code'));
    assert.equal((await browser.get('/../jars')).status, 200);
    assert.equal(codeOf(await browser.post('/mfa/email', {})), 'email_factor_already_enabled');

    // The code was single use.
    const reused = await browser.post('/step-up/email', { code });
    assert.equal(reused.status, 400);
    assert.equal(codeOf(reused), 'invalid_code');
    assert.deepEqual(await auditOutcomes('step_up.email_code', id), ['failure', 'success', 'failure']);
  });

  it('a few wrong tries burn the code; a code is bound to the session it was sent for', async () => {
    const { email } = await optedIn();
    const { browser } = await passwordSignIn(email);
    const code = await mailedCode(email, () => browser.post('/step-up/email/options', {}));
    // Another session of the same account cannot use it.
    const { browser: elsewhere } = await passwordSignIn(email);
    assert.equal(codeOf(await elsewhere.post('/step-up/email', { code })), 'invalid_code');
    for (let i = 0; i < 3; i++)
      assert.equal(codeOf(await browser.post('/step-up/email', { code: other(code) })), 'invalid_code');
    const late = await browser.post('/step-up/email', { code });
    assert.equal(late.status, 400, 'three wrong tries burnt the code');
    assert.equal(codeOf(late), 'invalid_code');
    // A fresh code works.
    const fresh = await mailedCode(email, () => browser.post('/step-up/email/options', {}));
    assert.equal((await browser.post('/step-up/email', { code: fresh })).body.aal, 'aal2');
  });

  it('refuses a malformed code with 400 invalid_request', async () => {
    const { email } = await optedIn();
    const { browser } = await passwordSignIn(email);
    const res = await browser.post('/step-up/email', { code: '12ab' });
    assert.equal(res.status, 400);
    assert.equal(codeOf(res), 'invalid_request');
  });

  it('a sign-in by e-mailed code neither owes nor pays it: the same inbox twice is one factor', async () => {
    const { email } = await optedIn();
    const browser = new Browser(gw.auth);
    assert.equal((await browser.post('/login/code', { identifier: email })).status, 202);
    const code = await latestCode(gw.kratos, email);
    const res = await browser.post('/login/code/verify', { code });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.aal, 'aal1');
    const options = await browser.post('/step-up/email/options', {});
    assert.equal(options.status, 409);
    assert.equal(codeOf(options), 'email_factor_unusable');
  });

  it('turning it off needs a recent aal2 session; the owner is mailed and the next sign-in owes nothing', async () => {
    const { id, email, enrolling } = await optedIn();
    const refused = await enrolling.delete('/mfa/email');
    assert.equal(refused.status, 403, 'the enrolling session is aal1');
    assert.equal(codeOf(refused), 'aal2_required');

    const { browser } = await passwordSignIn(email);
    const code = await mailedCode(email, () => browser.post('/step-up/email/options', {}));
    assert.equal((await browser.post('/step-up/email', { code })).status, 200);
    const seen = gw.mail!.to(email).length;
    assert.equal((await browser.delete('/mfa/email')).status, 204);
    assert.match((await gw.mail!.waitFor(email, seen)).raw, /A sign-in method was removed from your account/);
    assert.deepEqual(await auditOutcomes('mfa.email_removed', id), ['success']);
    assert.equal(codeOf(await browser.delete('/mfa/email')), 'email_factor_not_enabled');

    const next = await passwordSignIn(email);
    assert.equal(next.res.status, 200, JSON.stringify(next.res.body));
    assert.equal(next.res.body.aal, 'aal1');
  });
});

describe('with EMAIL_CODE_MFA off', () => {
  let off: TestGateway;
  before(async () => {
    // The same database, Redis and Kratos as the gateway above, with the factor switched off.
    off = await startTestGateway({ share: gw, env: { EMAIL_CODE_MFA: 'false' } });
  });
  after(() => off?.close());

  it('the routes answer 404 method_disabled, before any guard', async () => {
    const browser = new Browser(off.auth);
    for (const res of [
      await browser.get('/mfa/email'),
      await browser.post('/mfa/email', {}),
      await browser.post('/mfa/email/confirm', { code: '123456' }),
      await browser.delete('/mfa/email'),
      await browser.post('/step-up/email/options', {}),
      await browser.post('/step-up/email', { code: '123456' }),
    ]) {
      assert.equal(res.status, 404, JSON.stringify(res.body));
      assert.equal(codeOf(res), 'method_disabled');
    }
  });

  it("an opted-in account's e-mail factor does not count: its password session is complete", async () => {
    const { email } = await optedIn();
    const { res } = await passwordSignIn(email, off);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.aal, 'aal1');
  });
});

describe('a policy that makes a second factor mandatory, with EMAIL_CODE_MFA on', () => {
  let strict: TestGateway;
  before(async () => {
    const shipped = JSON.parse(readFileSync('gateway/policy.json', 'utf8')) as Record<string, unknown>;
    strict = await startAccountGateway({
      env: { EMAIL_CODE_MFA: 'true' },
      overrides: { policy: createPolicy({ ...shipped, mandatoryMfa: { allUsers: true, graceDays: 0 } }) },
    });
  });
  after(() => strict?.close());

  it('offers e-mailed codes for enrolment, and turning them on meets the rule', async () => {
    const { email } = await seedIdentity(strict.kratos, { verified: true });
    const { browser, res } = await passwordSignIn(email, strict);
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(codeOf(res), 'mfa_enrollment_required');
    assert.deepEqual(res.body.error.details.methods, ['passkey', 'totp', 'email']);
    const seen = strict.mail!.to(email).length;
    assert.equal((await browser.post('/mfa/email', {})).status, 202);
    const code = /: (\d{6})\b/.exec((await strict.mail!.waitFor(email, seen)).raw)?.[1];
    const confirmed = await browser.post('/mfa/email/confirm', { code });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    assert.equal((await browser.get('/session')).status, 200, 'the rule is met at once');
  });
});
