import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { aal2User, seedIdentity } from '../helpers/admin-session.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { addPasskey, passkeyLogin } from '../helpers/passkey-flows.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway({
    env: {
      LOCKOUT_MAX_FAILURES: '3',
      LOCKOUT_WINDOW_SECONDS: '900',
      LOCKOUT_DURATION_SECONDS: '600',
      MAIL_FROM: 'Gateway <security@example.com>',
    },
  });
});
after(async () => {
  await gw?.close();
});

const login = (identifier: string, password: string, target = gw) =>
  new Browser(target.auth).post('/login/password', { identifier, password });
const wrong = (identifier: string) => login(identifier, 'wrong-password-123');

async function lockOut(email: string) {
  assert.equal((await wrong(email)).status, 401);
  assert.equal((await wrong(email)).status, 401);
  return wrong(email);
}

describe('account lockout after failed passwords', () => {
  it('answers 423 account_locked with the time left once the limit is reached', async () => {
    const { email } = await seedIdentity(gw);
    const locked = await lockOut(email);
    assert.equal(locked.status, 423);
    assert.equal(locked.body.error.code, 'account_locked');
    const left = locked.body.error.details.retryAfterSeconds;
    assert.ok(left > 590 && left <= 600, `retryAfterSeconds ${left}`);
    assert.equal(Number(locked.headers.get('retry-after')), left);
  });

  it('refuses even the right password while locked, and records the refusal', async () => {
    const { id, email } = await seedIdentity(gw);
    await lockOut(email);
    const res = await login(email, STRONG_PASSWORD);
    assert.equal(res.status, 423);
    const { rows } = await gw.deps.db.query<{ type: string; outcome: string }>(
      `SELECT type, outcome FROM audit_events WHERE identity_id = $1 AND type IN ('account.locked', 'login.password') AND outcome <> 'failure' ORDER BY seq`,
      [id],
    );
    assert.deepEqual(
      rows.map((r) => `${r.type}:${r.outcome}`),
      ['account.locked:success', 'login.password:denied'],
    );
  });

  it('tells the owner by e-mail through the configured SMTP server', async () => {
    const { email } = await seedIdentity(gw);
    await lockOut(email);
    // The gateway's own mail sink, a real SMTP listener.
    const mail = await gw.mail!.waitFor(email);
    assert.match(mail.raw, /Subject: Password sign-in to your account was locked/);
    assert.match(mail.raw, /From: Gateway <security@example.com>/);
    assert.match(mail.raw, /passkey still works/);
  });

  it('keeps the lock in the database, so another instance (or a restart) still refuses', async () => {
    const { email } = await seedIdentity(gw);
    await lockOut(email);
    const other = await startTestGateway({ share: gw, env: { LOCKOUT_MAX_FAILURES: '3' } });
    try {
      assert.equal((await login(email, STRONG_PASSWORD, other)).status, 423);
    } finally {
      await other.close();
    }
  });

  it('locks unknown identifiers the same way, so a 423 does not reveal an account', async () => {
    const locked = await lockOut(uniqueEmail('nobody'));
    assert.equal(locked.status, 423);
  });

  it('starts counting afresh after a successful login', async () => {
    const { email } = await seedIdentity(gw);
    await wrong(email);
    await wrong(email);
    assert.equal((await login(email, STRONG_PASSWORD)).status, 200);
    assert.equal((await wrong(email)).status, 401);
    assert.equal((await wrong(email)).status, 401);
  });

  it('still lets a locked account sign in with a passkey', async () => {
    const { email } = await seedIdentity(gw);
    const session = await passwordBrowser(email);
    const authenticator = new SoftAuthenticator();
    await addPasskey(session, authenticator);
    await lockOut(email);
    const { res } = await passkeyLogin(gw, authenticator);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.equal(res.body.email, email);
  });
});

async function passwordBrowser(email: string) {
  const browser = new Browser(gw.auth);
  const res = await browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return browser;
}

describe('POST /api/admin/users/:id/unlock', () => {
  it('lifts the lock so the right password works again, audited with the acting admin', async () => {
    const admin = await aal2User(gw, ['admin']);
    const { id, email } = await seedIdentity(gw);
    await lockOut(email);
    const view = await admin.browser.get(`/../admin/users/${id}`);
    assert.equal(view.body.lockout.locked, true);
    const res = await admin.browser.post(`/../admin/users/${id}/unlock`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body, { unlocked: true });
    assert.equal((await login(email, STRONG_PASSWORD)).status, 200);
    const { rows } = await gw.deps.db.query<{ actor_id: string }>(
      "SELECT actor_id FROM audit_events WHERE type = 'account.unlocked' AND identity_id = $1",
      [id],
    );
    assert.deepEqual(
      rows.map((r) => r.actor_id),
      [admin.id],
    );
  });
});
