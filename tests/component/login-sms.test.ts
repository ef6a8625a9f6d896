import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, uniqueEmail } from '../helpers/http.js';
import {
  enrollTotp,
  seedIdentity,
  sharedClock,
  signedIn,
  startAccountGateway,
  totpCode,
} from '../helpers/account.js';
import { kratosTarget } from '../helpers/kratos-target.js';
import { kratosTexts, textedByKratos, uniquePhone } from '../helpers/sms-sink.js';

/**
 * Passwordless sign-in by a texted code, through Kratos' `code` method and its courier's `sms`
 * channel, which posts to the SMS provider (here the tests' SMS sink): the same contract as the
 * e-mailed code (one answer for every number, the floor, invalid_code and flow_expired, the
 * lock), and a code only for a verified number.
 */
let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway({
    env: { SMS_CODE_LOGIN: 'true', LOCKOUT_MAX_FAILURES: '4' },
    sms: true,
  });
});
after(async () => {
  await gw.close();
});

const sink = () => {
  assert.ok(gw.sms, 'the gateway has an SMS sink');
  return gw.sms;
};

async function requestCode(browser: Browser, phone: string) {
  const started = performance.now();
  const res = await browser.post('/login/sms', { phone });
  return { res, ms: performance.now() - started };
}

/** Asks for a code and answers it, as read from the text Kratos sent to the SMS provider. */
async function codeFor(browser: Browser, phone: string, gateway = gw): Promise<string> {
  const { code, body } = await textedByKratos(gateway.kratos, gateway.sms, phone, async () => {
    const { res } = await requestCode(browser, phone);
    assert.equal(res.status, 202, JSON.stringify(res.body));
  });
  assert.match(body, /^Your login code is: \d{6}\n?$/);
  return code;
}

/** An account with a verified phone number. */
async function withPhone(verified = true) {
  const phone = uniquePhone();
  const identity = await seedIdentity(gw.kratos, { phone, phoneVerified: verified });
  return { ...identity, phone };
}

async function auditRows(type: string, identityId?: string) {
  const { rows } = await gw.deps.db.query<{
    outcome: string;
    identity_id: string | null;
    details: Record<string, unknown> | null;
  }>(
    `SELECT outcome, identity_id, details FROM audit_events WHERE type = $1 ${identityId ? 'AND identity_id = $2' : ''} ORDER BY seq`,
    identityId ? [type, identityId] : [type],
  );
  return rows;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('POST /api/auth/identify with sign-in by SMS code on', () => {
  it('lists sms_code among the methods, alike for an address, a number, and unknown ones', async () => {
    const { email, phone } = await withPhone();
    for (const identifier of [email, phone, uniqueEmail('nobody'), uniquePhone()]) {
      const res = await new Browser(gw.auth).post('/identify', { identifier });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.methods, ['passkey', 'password', 'sms_code']);
    }
  });
});

describe('POST /api/auth/login/sms', () => {
  it('answers a verified, an unverified and an unknown number alike; only the verified one gets a text', async () => {
    const verified = await withPhone(true);
    const unverified = await withPhone(false);
    const unknown = uniquePhone();
    const times = new Map<string, number[]>();
    const answers: { status: number; body: unknown; cookie: boolean }[] = [];
    for (let i = 0; i < 3; i++) {
      for (const phone of [verified.phone, unverified.phone, unknown]) {
        const browser = new Browser(gw.auth);
        const { res, ms } = await requestCode(browser, phone);
        times.set(phone, [...(times.get(phone) ?? []), ms]);
        answers.push({ status: res.status, body: res.body, cookie: browser.cookies.has('gw_session') });
      }
    }
    for (const answer of answers) assert.deepEqual(answer, answers[0]);
    assert.deepEqual(answers[0], {
      status: 202,
      body: { status: 'code_sent', message: 'If the number belongs to an account, a code is on its way.' },
      cookie: true,
    });
    const medians = [...times.values()].map(median);
    assert.ok(Math.max(...medians) - Math.min(...medians) < 100, `medians ${medians.join(',')}`);
    assert.ok(Math.min(...medians) >= 240, 'every answer waits for the floor');
    assert.equal((await kratosTexts(gw.kratos, verified.phone)).length, 3);
    assert.equal(
      (await kratosTexts(gw.kratos, unverified.phone)).length,
      0,
      'an unproven number gets no code',
    );
    assert.equal((await kratosTexts(gw.kratos, unknown)).length, 0);
    if (kratosTarget === 'double') {
      await sink().waitFor(verified.phone, 2);
      assert.equal(sink().to(unverified.phone).length + sink().to(unknown).length, 0);
    }
    const requested = await auditRows('login.code_requested');
    const sms = requested.filter((r) => r.details?.channel === 'sms');
    assert.ok(sms.length >= 9);
    assert.ok(sms.every((r) => r.identity_id === null && r.outcome === 'success'));
  });

  it('refuses a malformed number with 400, and an e-mail address in its place', async () => {
    for (const phone of ['5551234567', '+0123456789', 'not a number', uniqueEmail()]) {
      const res = await new Browser(gw.auth).post('/login/sms', { phone });
      assert.equal(res.status, 400, phone);
      assert.equal(res.body.error.code, 'invalid_request');
    }
  });
});

describe('POST /api/auth/login/sms/verify', () => {
  it('signs in at aal1 with the code from the text, and is audited with its channel', async () => {
    const { id, phone } = await withPhone();
    const browser = new Browser(gw.auth);
    const code = await codeFor(browser, phone);
    const res = await browser.post('/login/sms/verify', { code });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.identityId, id);
    assert.equal(res.body.aal, 'aal1');
    assert.ok(res.body.methods.some((m: { method: string }) => m.method === 'code'));
    assert.deepEqual(res.body.removedPasskeys, []);
    assert.equal((await browser.get('/session')).body.identityId, id);
    const rows = await auditRows('login.code', id);
    assert.deepEqual(
      rows.map((r) => [r.outcome, r.details?.channel]),
      [['success', 'sms']],
    );
  });

  it('refuses a wrong code with 400 invalid_code, the same answer as an e-mailed code, and the right one still works', async () => {
    const { id, phone } = await withPhone();
    const browser = new Browser(gw.auth);
    const code = await codeFor(browser, phone);
    const refused = await browser.post('/login/sms/verify', {
      code: code === '000000' ? '111111' : '000000',
    });
    assert.equal(refused.status, 400);
    assert.deepEqual(refused.body.error, {
      code: 'invalid_code',
      message: 'The code is wrong or was used already.',
    });
    assert.equal((await browser.get('/session')).status, 401);
    const res = await browser.post('/login/sms/verify', { code });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.identityId, id);
  });

  it('refuses a used code: in another browser as invalid_code, in the same one as not started', async () => {
    const { phone } = await withPhone();
    const first = new Browser(gw.auth);
    const code = await codeFor(first, phone);
    assert.equal((await first.post('/login/sms/verify', { code })).status, 200);
    const again = await first.post('/login/sms/verify', { code });
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'code_login_not_started');
    const second = new Browser(gw.auth);
    await codeFor(second, phone);
    const reused = await second.post('/login/sms/verify', { code });
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error.code, 'invalid_code');
  });

  it('answers any code for an unverified or unknown number exactly as a wrong code', async () => {
    const { phone } = await withPhone(false);
    for (const number of [phone, uniquePhone()]) {
      const browser = new Browser(gw.auth);
      assert.equal((await requestCode(browser, number)).res.status, 202);
      const refused = await browser.post('/login/sms/verify', { code: '123456' });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error.code, 'invalid_code');
      assert.equal(refused.body.error.message, 'The code is wrong or was used already.');
    }
  });

  it('keeps the e-mailed and the texted sign-in apart: a texted flow is not verified on the e-mail route', async () => {
    const { phone } = await withPhone();
    const browser = new Browser(gw.auth);
    const code = await codeFor(browser, phone);
    // EMAIL_CODE_LOGIN is off in this deployment: its route is not there at all.
    const email = await browser.post('/login/code/verify', { code });
    assert.equal(email.status, 404);
    assert.equal(email.body.error.code, 'method_disabled');
    assert.equal((await browser.post('/login/sms/verify', { code })).status, 200);
  });

  it('answers 400 code_login_not_started without a code request, and 400 for a malformed code', async () => {
    const browser = new Browser(gw.auth);
    const res = await browser.post('/login/sms/verify', { code: '123456' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'code_login_not_started');
    const malformed = await browser.post('/login/sms/verify', { code: 'abc' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'invalid_request');
  });

  it('lets an account with TOTP in by SMS code only as far as its second factor: it owes the TOTP', async () => {
    const { id, email, phone } = await withPhone();
    const secret = await enrollTotp(await signedIn(gw, email));
    const browser = new Browser(gw.auth);
    const res = await browser.post('/login/sms/verify', { code: await codeFor(browser, phone) });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'aal2_required');
    assert.ok(res.body.error.details.methods.includes('totp'));
    const raised = await browser.post('/step-up/totp', { code: totpCode(secret) });
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    assert.equal(raised.body.aal, 'aal2');
    assert.equal(raised.body.identityId, id);
  });

  it('counts wrong codes towards the lock of the number and refuses it locked even with the right code', async () => {
    const { phone } = await withPhone();
    const browser = new Browser(gw.auth);
    const code = await codeFor(browser, phone);
    const wrong = code === '000000' ? '111111' : '000000';
    const answers: number[] = [];
    for (let i = 0; i < 4; i++)
      answers.push((await browser.post('/login/sms/verify', { code: wrong })).status);
    assert.deepEqual(answers, [400, 400, 400, 423]);
    const locked = await browser.post('/login/sms/verify', { code });
    assert.equal(locked.status, 423);
    assert.equal(locked.body.error.code, 'account_locked');
  });
});

describe('an SMS code asked for too long ago', () => {
  // The gateway's clock moves; the flows' lifespans are Kratos' (10 minutes to sign in, 15 to verify).
  const clock = sharedClock();
  let late: TestGateway;
  before(async () => {
    late = await startAccountGateway({
      env: {
        SMS_CODE_LOGIN: 'true',
        SESSION_IDLE_TIMEOUT_SECONDS: '7200',
        PRIVILEGED_MAX_AGE_SECONDS: '7200',
      },
      sms: true,
      overrides: { clock: clock.date },
    });
  });
  after(() => late?.close());

  it('answers 410 flow_expired for a sign-in code and for a phone number’s verification code, as for e-mailed codes', async () => {
    const phone = uniquePhone();
    const { email } = await seedIdentity(late.kratos, { phone, phoneVerified: true });
    const browser = new Browser(late.auth);
    const code = await codeFor(browser, phone, late);
    clock.advance(11 * 60);
    const expired = await browser.post('/login/sms/verify', { code });
    assert.equal(expired.status, 410, JSON.stringify(expired.body));
    assert.deepEqual(expired.body.error, {
      code: 'flow_expired',
      message: 'This code has expired; ask for a new one.',
    });

    const owner = await signedIn(late, email);
    const other = uniquePhone();
    const { code: verification } = await textedByKratos(late.kratos, late.sms, other, async () => {
      assert.equal((await owner.post('/phone', { phone: other })).status, 202);
    });
    clock.advance(16 * 60);
    const stale = await owner.post('/phone/verify', { code: verification });
    assert.equal(stale.status, 410, JSON.stringify(stale.body));
    assert.equal(stale.body.error.code, 'flow_expired');
  });
});

describe('the rate limits of SMS codes', () => {
  let strict: TestGateway;
  before(async () => {
    // startTestGateway's own limits (the account helper's generous ones are not wanted here).
    strict = await startTestGateway({
      sms: true,
      env: { SMS_CODE_LOGIN: 'true', RATE_LIMIT_LOGIN: '3/60', RATE_LIMIT_SECOND_FACTOR: '2/60' },
    });
  });
  after(() => strict?.close());

  it('counts asking for a code under the login limit and entering one under the second-factor limit', async () => {
    const phone = uniquePhone();
    const browser = new Browser(strict.auth);
    assert.equal((await browser.post('/login/sms', { phone })).status, 202);
    const guesses: number[] = [];
    for (let i = 0; i < 3; i++)
      guesses.push((await browser.post('/login/sms/verify', { code: '123456' })).status);
    assert.deepEqual(guesses, [400, 400, 429]);
    const asks: number[] = [];
    for (let i = 0; i < 3; i++)
      asks.push((await new Browser(strict.auth).post('/login/sms', { phone })).status);
    assert.deepEqual(asks, [202, 202, 429]);
    const refused = await new Browser(strict.auth).post('/login/sms', { phone });
    assert.equal(refused.body.error.code, 'rate_limited');
  });
});
