import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppError } from '../../../gateway/src/errors/app-error.js';
import { loginWithPassword } from '../../../gateway/src/login/password-login.js';
import { identifierKey } from '../../../gateway/src/security/client-key.js';
import { computeAal } from '../../../gateway/src/session/aal.js';
import { heldKratosToken } from '../../../gateway/src/session/sessions.js';
import { startWorld, type UseCaseWorld } from './world.js';

/** Password sign-in called as a use case: no Express app, no HTTP server of the gateway's. */
describe('use case: password sign-in', () => {
  let world: UseCaseWorld;
  before(async () => {
    world = await startWorld({ LOCKOUT_MAX_FAILURES: '3' });
  });
  after(() => world.close());

  it('starts a gateway session holding the sealed Kratos session, indexed and audited', async () => {
    const { id, email, password } = await world.identity();
    const browser = world.browser();
    // The identifier is normalised by the use case itself.
    await loginWithPassword(world.deps, world.context(browser), {
      identifier: `  ${email.toUpperCase()} `,
      password: password!,
    });

    const auth = browser.session.auth;
    assert.ok(auth);
    assert.equal(auth.identityId, id);
    assert.equal(auth.kind, 'password');
    assert.deepEqual(auth.secondFactorsAtSignIn, []);
    assert.equal(auth.ip, '192.0.2.10');
    // The Kratos token is sealed under the session's handle, and opens again.
    const token = heldKratosToken(world.deps, browser.session);
    assert.ok(token);
    assert.ok(!auth.kratosToken!.includes(token));
    // Stored, with its cookie, and named by the identity's index.
    assert.ok(browser.cookie);
    const key = browser.session.key!;
    assert.equal((await world.deps.sessionStore.read(key))?.auth?.handle, auth.handle);
    assert.deepEqual(await world.deps.sessionIndex.list(id), { [auth.handle]: key });

    const [event] = await world.audit(id, 'login.password');
    assert.equal(event?.outcome, 'success');
    assert.equal(event?.details.method, 'password');
    assert.equal(event?.ip, '192.0.2.10');
  });

  it('refuses a wrong password with invalid_credentials, counts it and leaves no session', async () => {
    const { id, email } = await world.identity();
    const browser = world.browser();
    const ctx = world.context(browser);
    await assert.rejects(
      loginWithPassword(world.deps, ctx, { identifier: email, password: 'not-the-password-at-all' }),
      (err: unknown) => err instanceof AppError && err.code === 'invalid_credentials' && err.status === 401,
    );
    assert.equal(browser.session.auth, undefined);
    assert.equal(browser.cookie, undefined);
    assert.deepEqual(await world.deps.sessionIndex.list(id), {});

    const { rows } = await world.deps.db.query<{ failures: number }>(
      'SELECT failures FROM account_lockouts WHERE identifier_hash = $1',
      [identifierKey(email)],
    );
    assert.equal(rows[0]?.failures, 1);
    const failures = (
      await world.deps.db.query<{ details: { reason: string } }>(
        `SELECT details FROM audit_events WHERE type = 'login.password' AND outcome = 'failure' AND request_id = $1`,
        [ctx.requestId],
      )
    ).rows;
    assert.deepEqual(
      failures.map((r) => r.details.reason),
      ['invalid_credentials'],
    );
  });

  it('locks the identifier after too many failures, before the password is checked', async () => {
    const { email, password } = await world.identity();
    const attempt = (pw: string) =>
      loginWithPassword(world.deps, world.context(world.browser()), { identifier: email, password: pw });
    await assert.rejects(attempt('wrong-password-1'), { code: 'invalid_credentials' });
    await assert.rejects(attempt('wrong-password-2'), { code: 'invalid_credentials' });
    // The failure that reaches LOCKOUT_MAX_FAILURES locks at once.
    await assert.rejects(attempt('wrong-password-3'), { code: 'account_locked' });
    const browser = world.browser();
    await assert.rejects(
      loginWithPassword(world.deps, world.context(browser), { identifier: email, password: password! }),
      (err: unknown) => err instanceof AppError && err.code === 'account_locked' && err.status === 423,
    );
    assert.equal(browser.session.auth, undefined);
  });

  it('records the second factor a session owes when the account has one', async () => {
    const { id, email, password } = await world.identity();
    const passkeyId = await world.passkey(id);
    const browser = world.browser();
    await loginWithPassword(world.deps, world.context(browser), { identifier: email, password: password! });

    const auth = browser.session.auth!;
    assert.deepEqual(auth.secondFactorsAtSignIn, ['passkey']);
    // A password alone is aal1: until the passkey is used, the session owes it.
    const principal = world.principal({ id, email }, browser);
    assert.equal(principal.aal, 'aal1');
    assert.equal(
      computeAal([...principal.methods, { method: 'passkey', completedAt: '', userVerified: false }]),
      'aal2',
    );
    // The stored copy says the same, for every replica that reads it.
    assert.deepEqual(
      (await world.deps.sessionStore.read(browser.session.key!))?.auth?.secondFactorsAtSignIn,
      ['passkey'],
    );
    // A cloned passkey is no second factor: the next sign-in owes nothing.
    await world.deps.passkeys.markCloned(passkeyId);
    const next = world.browser();
    await loginWithPassword(world.deps, world.context(next), { identifier: email, password: password! });
    assert.deepEqual(next.session.auth!.secondFactorsAtSignIn, []);
  });

  it('replaces the session the browser held (a fresh id, the old one gone from the store and index)', async () => {
    const first = await world.identity();
    const second = await world.identity();
    const browser = world.browser();
    await loginWithPassword(world.deps, world.context(browser), {
      identifier: first.email,
      password: first.password!,
    });
    const oldKey = browser.session.key!;
    const oldCookie = browser.cookie;
    await loginWithPassword(world.deps, world.context(browser), {
      identifier: second.email,
      password: second.password!,
    });
    assert.notEqual(browser.cookie, oldCookie);
    assert.equal(await world.deps.sessionStore.read(oldKey), undefined);
    assert.deepEqual(await world.deps.sessionIndex.list(first.id), {});
    assert.equal(browser.session.auth?.identityId, second.id);
  });
});
