import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser, uniqueEmail } from '../helpers/http.js';
import {
  adminIdentity,
  enrollTotp,
  latestCode,
  mailCount,
  seedIdentity,
  signedIn,
  startAccountGateway,
  totpCode,
} from '../helpers/account.js';

/**
 * Passwordless sign-in by an e-mailed code, through Kratos' `code` method: identify lists
 * `code`, POST /login/code answers alike for every address, POST /login/code/verify gives an
 * aal1 session that owes the account's second factor exactly as a password session does.
 */
let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway({ env: { EMAIL_CODE_LOGIN: 'true', LOCKOUT_MAX_FAILURES: '4' } });
});
after(async () => {
  await gw.close();
});

async function requestCode(browser: Browser, identifier: string) {
  const started = performance.now();
  const res = await browser.post('/login/code', { identifier });
  return { res, ms: performance.now() - started };
}

/** Asks for a code and answers it, as read from Kratos' courier. */
async function codeFor(browser: Browser, email: string): Promise<string> {
  const before = await mailCount(gw.kratos, email);
  const { res } = await requestCode(browser, email);
  assert.equal(res.status, 202, JSON.stringify(res.body));
  assert.equal(await mailCount(gw.kratos, email), before + 1, 'one code mail was sent');
  const code = await latestCode(gw.kratos, email);
  assert.ok(code, 'the mail carries a code');
  return code;
}

async function auditRows(type: string, identityId?: string) {
  const { rows } = await gw.deps.db.query<{ outcome: string; identity_id: string | null; details: unknown }>(
    `SELECT outcome, identity_id, details FROM audit_events WHERE type = $1 ${identityId ? 'AND identity_id = $2' : ''} ORDER BY seq`,
    identityId ? [type, identityId] : [type],
  );
  return rows;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

describe('POST /api/auth/identify with sign-in by code on', () => {
  it('lists code among the methods, alike for a known and an unknown address', async () => {
    const { email } = await seedIdentity(gw.kratos);
    for (const identifier of [email, uniqueEmail('nobody')]) {
      const res = await new Browser(gw.auth).post('/identify', { identifier });
      assert.equal(res.status, 200);
      assert.deepEqual(res.body.methods, ['passkey', 'password', 'code']);
    }
  });
});

describe('POST /api/auth/login/code', () => {
  it('answers a known and an unknown address alike: status, body, cookie and time; only the owner gets mail', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const unknown = uniqueEmail('nobody');
    const known: number[] = [];
    const other: number[] = [];
    const answers: { status: number; body: unknown; cookie: boolean }[] = [];
    for (let i = 0; i < 3; i++) {
      for (const [address, times] of [
        [email, known],
        [unknown, other],
      ] as const) {
        const browser = new Browser(gw.auth);
        const { res, ms } = await requestCode(browser, address);
        times.push(ms);
        answers.push({ status: res.status, body: res.body, cookie: browser.cookies.has('gw_session') });
      }
    }
    // Pairs of (known, unknown): each pair alike.
    for (let i = 0; i < answers.length; i += 2) assert.deepEqual(answers[i], answers[i + 1]);
    assert.equal(answers[0]!.cookie, true, 'the flow is kept in a pre-session');
    assert.equal(answers[0]!.status, 202);
    assert.deepEqual(answers[0]!.body, {
      status: 'code_sent',
      message: 'If the address belongs to an account, a code is on its way.',
    });
    // Both wait for the same floor: what Kratos does for an account costs no visible time.
    assert.ok(
      Math.abs(median(known) - median(other)) < 100,
      `known ${known.join(',')} unknown ${other.join(',')}`,
    );
    assert.ok(median(other) >= 240, 'an unknown address waits for the floor too');
    assert.equal(await mailCount(gw.kratos, email), 3);
    assert.equal(await mailCount(gw.kratos, unknown), 0);
    // The audit names nobody on the request, so the log does not tell the two apart either.
    const requested = await auditRows('login.code_requested');
    assert.ok(requested.length >= 6);
    assert.ok(requested.every((r) => r.identity_id === null && r.outcome === 'success'));
  });

  it('refuses a malformed address with 400', async () => {
    const res = await new Browser(gw.auth).post('/login/code', { identifier: 'not an address' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_request');
  });
});

describe('POST /api/auth/login/code/verify', () => {
  it('signs in at aal1 with the code from the mail, proves the address, and is audited', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const browser = new Browser(gw.auth);
    const code = await codeFor(browser, email);
    const res = await browser.post('/login/code/verify', { code });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.identityId, id);
    assert.equal(res.body.aal, 'aal1');
    assert.ok(res.body.methods.some((m: { method: string }) => m.method === 'code'));
    assert.deepEqual(res.body.removedPasskeys, []);
    const session = await browser.get('/session');
    assert.equal(session.status, 200);
    assert.equal(session.body.identityId, id);
    // Kratos marks the address the code went to as verified.
    const identity = await adminIdentity(gw.kratos, id);
    assert.equal(identity.verifiable_addresses[0].verified, true);
    const rows = await auditRows('login.code', id);
    assert.deepEqual(
      rows.map((r) => r.outcome),
      ['success'],
    );
  });

  it('refuses a wrong code with 400 invalid_code, and the right code still works', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const browser = new Browser(gw.auth);
    const code = await codeFor(browser, email);
    const wrong = code === '000000' ? '111111' : '000000';
    const refused = await browser.post('/login/code/verify', { code: wrong });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'invalid_code');
    assert.equal((await browser.get('/session')).status, 401);
    const res = await browser.post('/login/code/verify', { code });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.identityId, id);
  });

  it('refuses a code already used: in another browser as invalid_code, in the same one as not started', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const first = new Browser(gw.auth);
    const code = await codeFor(first, email);
    assert.equal((await first.post('/login/code/verify', { code })).status, 200);
    const again = await first.post('/login/code/verify', { code });
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'code_login_not_started');
    // Another browser with its own flow: the used code belongs to no flow of its.
    const second = new Browser(gw.auth);
    const secondCode = await codeFor(second, email);
    const reused = await second.post('/login/code/verify', { code });
    assert.equal(reused.status, 400);
    assert.equal(reused.body.error.code, 'invalid_code');
    assert.notEqual(secondCode, undefined);
  });

  it('answers a code for an unknown address exactly as a wrong code', async () => {
    const browser = new Browser(gw.auth);
    const { res } = await requestCode(browser, uniqueEmail('nobody'));
    assert.equal(res.status, 202);
    const refused = await browser.post('/login/code/verify', { code: '123456' });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'invalid_code');
    assert.equal(refused.body.error.message, 'The code is wrong or was used already.');
  });

  it('answers 400 code_login_not_started without a code request, and 400 for a malformed code', async () => {
    const browser = new Browser(gw.auth);
    const res = await browser.post('/login/code/verify', { code: '123456' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'code_login_not_started');
    const malformed = await browser.post('/login/code/verify', { code: 'abc' });
    assert.equal(malformed.status, 400);
    assert.equal(malformed.body.error.code, 'invalid_request');
  });

  it('lets an account with TOTP in by code only as far as its second factor: it owes the TOTP', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const secret = await enrollTotp(await signedIn(gw, email));
    const browser = new Browser(gw.auth);
    const code = await codeFor(browser, email);
    const res = await browser.post('/login/code/verify', { code });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(res.body.error.code, 'aal2_required');
    assert.ok(res.body.error.details.methods.includes('totp'));
    // Nothing a second factor guards is reachable.
    assert.equal((await browser.get('/session')).status, 403);
    // Paying it: a TOTP step-up raises the code session to aal2.
    const raised = await browser.post('/step-up/totp', { code: totpCode(secret) });
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    assert.equal(raised.body.aal, 'aal2');
    assert.equal(raised.body.identityId, id);
  });

  it('counts wrong codes towards the lock and refuses a locked address even with the right code', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = new Browser(gw.auth);
    const code = await codeFor(browser, email);
    const wrong = code === '000000' ? '111111' : '000000';
    const answers: number[] = [];
    for (let i = 0; i < 4; i++)
      answers.push((await browser.post('/login/code/verify', { code: wrong })).status);
    assert.deepEqual(answers, [400, 400, 400, 423]);
    const locked = await browser.post('/login/code/verify', { code });
    assert.equal(locked.status, 423);
    assert.equal(locked.body.error.code, 'account_locked');
    const denied = await auditRows('login.code');
    assert.ok(denied.some((r) => r.outcome === 'denied'));
  });
});
