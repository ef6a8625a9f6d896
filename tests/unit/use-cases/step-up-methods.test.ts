import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Secret, TOTP } from 'otpauth';
import { confirmTotpEnrollment, startTotpEnrollment } from '../../../gateway/src/account/totp.js';
import { loginWithPassword } from '../../../gateway/src/login/password-login.js';
import { recordEnrolment } from '../../../gateway/src/session/sessions.js';
import { stepUpMethods } from '../../../gateway/src/stepup/methods.js';
import { startWorld, type Browser, type UseCaseWorld } from './world.js';

/** The step-up method lookup (and the TOTP enrolment it reads) called as use cases, without HTTP. */
describe('use case: step-up methods', () => {
  let world: UseCaseWorld;
  before(async () => {
    world = await startWorld();
  });
  after(() => world.close());

  async function signIn(who: { email: string; password: string | undefined }): Promise<Browser> {
    const browser = world.browser();
    await loginWithPassword(world.deps, world.context(browser), {
      identifier: who.email,
      password: who.password!,
    });
    return browser;
  }

  const methodsOf = (who: { id: string; email: string }, browser: Browser) =>
    stepUpMethods(world.deps, world.principal(who, browser), browser.session.auth);

  it('offers nothing to a caller who is not signed in', async () => {
    assert.deepEqual(await stepUpMethods(world.deps, undefined, undefined), []);
  });

  it("offers the account's usable passkeys, never one suspected of being cloned", async () => {
    const who = await world.identity();
    const browser = await signIn(who);
    assert.deepEqual(await methodsOf(who, browser), []);
    const passkeyId = await world.passkey(who.id);
    assert.deepEqual(await methodsOf(who, browser), ['passkey']);
    await world.deps.passkeys.markCloned(passkeyId);
    assert.deepEqual(await methodsOf(who, browser), []);
  });

  it('offers TOTP from the next sign-in on, never to the session that enrolled it', async () => {
    const who = await world.identity();
    const browser = await signIn(who);
    const ctx = world.context(browser);
    const principal = world.principal(who, browser);
    const enrollment = await startTotpEnrollment(world.deps, ctx, principal);
    const code = new TOTP({ secret: Secret.fromBase32(enrollment.secret) }).generate();
    await confirmTotpEnrollment(world.deps, ctx, principal, code);

    assert.deepEqual(browser.session.auth?.enrolledHere, ['totp']);
    assert.deepEqual(await methodsOf(who, browser), []);
    const [event] = await world.audit(who.id, 'mfa.totp_enabled');
    assert.equal(event?.outcome, 'success');

    const next = await signIn(who);
    assert.deepEqual(next.session.auth?.secondFactorsAtSignIn, ['totp']);
    assert.deepEqual(await methodsOf(who, next), ['totp']);

    // A session that holds no Kratos session (a passkey sign-in) cannot complete TOTP at Kratos.
    await world.passkey(who.id);
    assert.deepEqual(await stepUpMethods(world.deps, world.principal(who), undefined), ['passkey']);
    assert.deepEqual(await methodsOf(who, next), ['passkey', 'totp']);
    // A raw Kratos session is offered the passkeys only: Kratos asks for its own factors itself.
    const kratosPrincipal = { ...world.principal(who, next), source: 'kratos' as const };
    assert.deepEqual(await stepUpMethods(world.deps, kratosPrincipal, next.session.auth), ['passkey']);
  });

  it('leaves out a passkey this very session registered', async () => {
    const who = await world.identity();
    const browser = await signIn(who);
    const added = await world.passkey(who.id);
    await recordEnrolment(browser.session, `passkey:${added}`);
    assert.deepEqual(await methodsOf(who, browser), []);
    // Stored too: the next request of this browser reads the same.
    const stored = await world.deps.sessionStore.read(browser.session.key!);
    assert.deepEqual(stored?.auth?.enrolledHere, [`passkey:${added}`]);
    await world.passkey(who.id);
    assert.deepEqual(await methodsOf(who, browser), ['passkey']);
  });
});
