/**
 * Mandatory second factor by policy (`mandatoryMfa` in the policy file): the people it covers
 * are told by when (`mfaEnrollmentDueAt`), and once the grace period is over their sessions
 * may only enrol a factor or sign out (403 `mfa_enrollment_required`). Time passes on the
 * gateway's injected clock; administrators are covered whatever the policy says.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { createPolicy } from '../../gateway/src/access/policy.js';
import { enrollTotp, seedIdentity, sharedClock, startAccountGateway } from '../helpers/account.js';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD } from '../helpers/http.js';
import { addPasskey } from '../helpers/passkey-flows.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

const DAY = 86_400;
const shipped = JSON.parse(readFileSync('gateway/policy.json', 'utf8')) as Record<string, unknown>;
const policyWith = (mandatoryMfa: Record<string, unknown>) => createPolicy({ ...shipped, mandatoryMfa });

const signIn = async (gw: TestGateway, email: string) => {
  const browser = new Browser(gw.auth);
  const res = await browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
  return { browser, res };
};
const codeOf = (res: { body: { error?: { code?: string } } }) => res.body.error?.code;

describe('a policy that requires a second factor of everyone, after 14 days', () => {
  const clock = sharedClock();
  let gw: TestGateway;
  before(async () => {
    gw = await startAccountGateway({
      overrides: { clock: clock.date, policy: policyWith({ allUsers: true, graceDays: 14 }) },
    });
  });
  after(() => gw?.close());

  it('tells a new account by when, and lets it work meanwhile', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const { browser, res } = await signIn(gw, email);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const created = Date.parse((await gw.deps.kratos.getIdentity(id))!.createdAt);
    // From the account's creation (as the gateway's clock sees it: never later than now).
    assert.equal(Date.parse(res.body.mfaEnrollmentDueAt), Math.min(created, clock.now()) + 14 * DAY * 1000);
    assert.equal((await browser.get('/session')).body.mfaEnrollmentDueAt, res.body.mfaEnrollmentDueAt);
    assert.equal((await browser.get('/../jars')).status, 200);
  });

  it('after the grace period allows only enrolment and sign-out, then everything once a factor is enrolled', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    // A minute past the grace period, counted from the account's creation (Kratos' clock runs
    // on while the suite's clock stands still).
    const created = Date.parse((await gw.deps.kratos.getIdentity(id))!.createdAt);
    const overdueBy = (Math.max(created, clock.now()) - clock.now()) / 1000 + 14 * DAY + 60;
    clock.advance(overdueBy);
    try {
      const { browser, res } = await signIn(gw, email);
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(codeOf(res), 'mfa_enrollment_required');
      assert.deepEqual(res.body.error.details.methods, ['passkey', 'totp']);
      for (const refused of [
        await browser.get('/session'),
        await browser.get('/../jars'),
        await browser.post('/../jars', { name: 'notes' }),
        await browser.get('/sessions'),
      ]) {
        assert.equal(refused.status, 403, JSON.stringify(refused.body));
        assert.equal(codeOf(refused), 'mfa_enrollment_required');
      }
      // Enrolment is open: a passkey, from this very session.
      await addPasskey(browser, new SoftAuthenticator());
      const now = await browser.get('/session');
      assert.equal(now.status, 200, JSON.stringify(now.body));
      assert.equal(now.body.aal, 'aal1', 'the factor counts from the next sign-in');
      assert.equal(now.body.mfaEnrollmentDueAt, undefined);
      assert.equal((await browser.get('/../jars')).status, 200);
      // The next password sign-in owes the new factor, and pays it.
      const again = await signIn(gw, email);
      assert.equal(codeOf(again.res), 'aal2_required');
    } finally {
      clock.advance(-overdueBy);
    }
  });

  it('lets an overdue session sign out, and sign out everywhere', async () => {
    const { email } = await seedIdentity(gw.kratos);
    clock.advance(15 * DAY);
    try {
      const first = await signIn(gw, email);
      const second = await signIn(gw, email);
      assert.equal(codeOf(first.res), 'mfa_enrollment_required');
      assert.equal((await first.browser.post('/logout')).status, 204);
      assert.equal((await second.browser.post('/logout/all')).status, 204);
      assert.equal((await second.browser.get('/session')).status, 401);
    } finally {
      clock.advance(-15 * DAY);
    }
  });
});

describe('a policy that names no one', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startAccountGateway({
      overrides: { policy: policyWith({ allUsers: false, roles: [], graceDays: 0 }) },
    });
  });
  after(() => gw?.close());

  it('still covers administrators and auditors, at once; everyone else is free', async () => {
    for (const roles of [['admin'], ['auditor']]) {
      const { email } = await seedIdentity(gw.kratos, { roles });
      const { browser, res } = await signIn(gw, email);
      assert.equal(codeOf(res), 'mfa_enrollment_required', roles[0]);
      assert.equal(codeOf(await browser.get('/../jars')), 'mfa_enrollment_required');
      assert.equal((await browser.post('/mfa/totp')).status, 200, 'enrolment stays open');
    }
    const { email } = await seedIdentity(gw.kratos);
    const { res } = await signIn(gw, email);
    assert.equal(res.status, 200);
    assert.equal(res.body.mfaEnrollmentDueAt, undefined);
  });

  it('counts a factor enrolled in another session at once', async () => {
    const { email } = await seedIdentity(gw.kratos, { roles: ['admin'] });
    const first = await signIn(gw, email);
    const second = await signIn(gw, email);
    assert.equal(codeOf(first.res), 'mfa_enrollment_required');
    await enrollTotp(second.browser);
    // The first session signed in before the account had a factor: it owes none, and may go on.
    const session = await first.browser.get('/session');
    assert.equal(session.status, 200, JSON.stringify(session.body));
    assert.equal(session.body.aal, 'aal1');
  });

  it('a factor the account has is owed, not enrolment', async () => {
    const { email } = await seedIdentity(gw.kratos, { roles: ['admin'] });
    const { browser } = await signIn(gw, email);
    await enrollTotp(browser);
    const again = await signIn(gw, email);
    assert.equal(codeOf(again.res), 'aal2_required');
  });
});
