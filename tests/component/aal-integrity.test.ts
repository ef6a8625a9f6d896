/**
 * Highest available AAL, written as the attacks it stops (issue 12): a password alone never
 * reaches what a second factor guards, no factor raises the session that enrolled it,
 * recovery ends a pre-account takeover, and a sign-out reaches every replica at once.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { MailMessage, Mailer } from '../../gateway/src/mail/mailer.js';
import {
  kratosBrowserSession,
  latestCode,
  seedIdentity,
  sharedClock,
  signedIn,
  startAccountGateway,
  totpCode,
} from '../helpers/account.js';
import { aal2User } from '../helpers/admin-session.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { addPasskey, auditEvents, passkeyLogin, stepUp } from '../helpers/passkey-flows.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

/** A mailer that keeps what it was asked to send. */
function capturingMailer(): Mailer & { sent: MailMessage[] } {
  const sent: MailMessage[] = [];
  return { sent, send: async (m) => void sent.push(m), close: () => undefined };
}

const mailer = capturingMailer();
let gw: TestGateway;

before(async () => {
  gw = await startAccountGateway({ overrides: { mailer } });
});
after(async () => {
  await gw?.close();
});

const codeOf = (res: { body: any }) => res.body?.error?.code as string | undefined;

/** An identity with a password and a verified address. */
const seedVerified = () => seedIdentity(gw.kratos, { email: uniqueEmail('owner'), verified: true });

/** An account with a password whose owner added a passkey (from a fresh password session). */
async function ownerWithPasskey() {
  const owner = await seedVerified();
  const authenticator = new SoftAuthenticator();
  const ownerBrowser = await signedIn(gw, owner.email);
  const passkeyId = await addPasskey(ownerBrowser, authenticator);
  return { ...owner, authenticator, passkeyId, ownerBrowser };
}

describe('password known, passkey not', () => {
  it('a password sign-in owes the passkey: only the second factor or its own sign-out', async () => {
    const owner = await ownerWithPasskey();
    const attacker = new Browser(gw.auth);
    const login = await attacker.post('/login/password', {
      identifier: owner.email,
      password: owner.password,
    });
    assert.equal(login.status, 403, JSON.stringify(login.body));
    assert.equal(codeOf(login), 'aal2_required');
    assert.deepEqual(login.body.error.details.methods, ['passkey']);

    const session = await attacker.get('/session');
    assert.equal(session.status, 403);
    assert.equal(codeOf(session), 'aal2_required');
    assert.deepEqual(session.body.error.details.methods, ['passkey']);

    // Everything else is refused: factors, settings, sessions, jars.
    const refused = [
      await attacker.post('/passkeys/options', {}),
      await attacker.get('/passkeys'),
      await attacker.delete(`/passkeys/${owner.passkeyId}`),
      await attacker.post('/mfa/totp'),
      await attacker.post('/mfa/backup-codes'),
      await attacker.post('/password', { password: 'attacker-chosen-passphrase-1' }),
      await attacker.patch('/profile', { traits: { email: uniqueEmail('attacker') } }),
      await attacker.get('/sessions'),
      await attacker.get('/../jars'),
    ];
    for (const res of refused) {
      assert.equal(res.status, 403, JSON.stringify(res.body));
      assert.equal(codeOf(res), 'aal2_required');
    }

    // It may not sign the owner out everywhere either.
    const all = await attacker.post('/logout/all');
    assert.equal(all.status, 403);
    assert.equal(codeOf(all), 'aal2_required');
    assert.equal((await owner.ownerBrowser.get('/session')).status, 200, 'the owner is still signed in');

    // The owner's passkey is untouched and still signs in at aal2.
    const { res } = await passkeyLogin(gw, owner.authenticator);
    assert.equal(res.status, 200);
    assert.equal(res.body.aal, 'aal2');

    // Signing itself out is allowed.
    assert.equal((await attacker.post('/logout')).status, 204);
    assert.equal((await attacker.get('/session')).status, 401);
  });

  it('a Kratos-cookie session of a passkey account owes the passkey as well', async () => {
    const owner = await ownerWithPasskey();
    const attacker = new Browser(gw.auth);
    attacker.cookies.set('ory_kratos_session', await kratosBrowserSession(gw.kratos, owner.email));
    const session = await attacker.get('/session');
    assert.equal(session.status, 403);
    assert.equal(codeOf(session), 'aal2_required');
    assert.equal((await attacker.post('/logout/all')).status, 403);
    assert.equal((await attacker.get('/verify?aal=aal1')).status, 403);
  });
});

describe('a factor never raises the session that enrolled it', () => {
  it('password login → own passkey → step-up stays aal1; the passkey counts from the next sign-in', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const attacker = await signedIn(gw, email);
    const sentBefore = mailer.sent.length;
    const authenticator = new SoftAuthenticator();
    await addPasskey(attacker, authenticator);
    assert.ok(
      mailer.sent.slice(sentBefore).some((m) => m.to === email && /sign-in method was added/.test(m.subject)),
      'the owner is mailed',
    );
    const options = await attacker.post('/step-up/options', {});
    assert.equal(options.status, 403);
    assert.equal(codeOf(options), 'factor_enrolled_in_this_session');
    const session = await attacker.get('/session');
    assert.equal(session.status, 200);
    assert.equal(session.body.aal, 'aal1');
    assert.equal((await attacker.get('/verify?aal=aal2')).status, 403);

    // A later sign-in owes it, and may use it.
    const later = new Browser(gw.auth);
    const login = await later.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
    assert.equal(login.status, 403);
    const raised = await stepUp(later, authenticator);
    assert.equal(raised.status, 200, JSON.stringify(raised.body));
    assert.equal(raised.body.aal, 'aal2');
    assert.equal((await auditEvents(gw, 'step_up.passkey', id)).length, 1);
  });

  it('an assertion of the passkey this session registered is refused even with a forged challenge list', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const older = new SoftAuthenticator();
    await addPasskey(await signedIn(gw, email), older);
    // A new sign-in that steps up with the older passkey may then add another...
    const browser = new Browser(gw.auth);
    await browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
    assert.equal((await stepUp(browser, older)).status, 200);
    const newer = new SoftAuthenticator();
    await addPasskey(browser, newer);
    // ...whose options never name the new one, and whose answer is refused.
    const options = await browser.post('/step-up/options', {});
    assert.equal(options.status, 200);
    assert.equal(options.body.allowCredentials.length, 1);
    const forged = { ...options.body, allowCredentials: [] };
    const res = await browser.post('/step-up', { credential: newer.authenticate(forged) });
    assert.equal(res.status, 403, JSON.stringify(res.body));
    assert.equal(codeOf(res), 'factor_enrolled_in_this_session');
  });

  it('/mfa/totp/confirm leaves the session aal1 and its TOTP cannot raise it', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const attacker = await signedIn(gw, email);
    const started = await attacker.post('/mfa/totp');
    assert.equal(started.status, 200);
    const confirmed = await attacker.post('/mfa/totp/confirm', { code: totpCode(started.body.secret) });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
    assert.equal(confirmed.body.aal, 'aal1');
    assert.equal((await attacker.get('/verify?aal=aal2')).status, 403);
    const stepped = await attacker.post('/step-up/totp', { code: totpCode(started.body.secret) });
    assert.equal(stepped.status, 403);
    assert.equal(codeOf(stepped), 'factor_enrolled_in_this_session');
    // A factor now exists: privileged acts of this aal1 session need aal2.
    const jar = await attacker.post('/../jars', { name: 'j', restricted: true });
    assert.equal(jar.status, 201);
    const lifted = await attacker.patch(`/../jars/${jar.body.id}`, { restricted: false });
    assert.equal(lifted.status, 403);
    assert.equal(codeOf(lifted), 'aal2_required');
  });

  it('/mfa/backup-codes then a backup-code step-up does not raise the session', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const attacker = await signedIn(gw, email);
    const generated = await attacker.post('/mfa/backup-codes');
    assert.equal(generated.status, 201, JSON.stringify(generated.body));
    assert.equal((await attacker.get('/session')).body.aal, 'aal1');
    const stepped = await attacker.post('/step-up/backup-code', { code: generated.body.codes[0] });
    assert.equal(stepped.status, 403);
    assert.equal(codeOf(stepped), 'factor_enrolled_in_this_session');
    assert.equal((await attacker.get('/session')).body.aal, 'aal1');
  });
});

describe('jars: restriction and grants are privileged', () => {
  it('an aal1 passkey session of an account with a passkey cannot lift a restriction or grant', async () => {
    const owner = await ownerWithPasskey();
    // A sign-in without user verification is aal1.
    const { browser, res } = await passkeyLogin(gw, owner.authenticator, {
      overrides: { userVerification: false },
    });
    assert.equal(res.body.aal, 'aal1');
    const jar = await browser.post('/../jars', { name: 'secrets', restricted: true });
    assert.equal(jar.status, 201);
    const other = await seedIdentity(gw.kratos);
    for (const attempt of [
      await browser.patch(`/../jars/${jar.body.id}`, { restricted: false }),
      await browser.put(`/../jars/${jar.body.id}/grants/${other.id}`, { role: 'viewer' }),
      await browser.delete(`/../jars/${jar.body.id}/grants/${other.id}`),
    ]) {
      assert.equal(attempt.status, 403, JSON.stringify(attempt.body));
      assert.equal(codeOf(attempt), 'aal2_required');
    }
    // Renaming is not privileged.
    assert.equal((await browser.patch(`/../jars/${jar.body.id}`, { name: 'renamed' })).status, 200);
  });
});

describe('recovery', () => {
  it('ends a pre-account takeover: the planted passkey and its session are gone', async () => {
    const victim = uniqueEmail('victim');
    // The attacker holds an account with the victim's unproven address and adds a passkey.
    // Sign-up at the gateway proves the address first, so the account comes from elsewhere
    // (an import, Kratos' own flows).
    await seedIdentity(gw.kratos, { email: victim });
    const planted = new SoftAuthenticator();
    const plantedId = await addPasskey(await signedIn(gw, victim), planted);
    const { browser: attacker } = await passkeyLogin(gw, planted);
    assert.equal((await attacker.get('/session')).body.aal, 'aal2');

    // The victim recovers the account by code and sets a password.
    const sentBefore = mailer.sent.length;
    const browser = new Browser(gw.auth);
    assert.equal((await browser.post('/recovery', { email: victim })).status, 202);
    const recovered = await browser.post('/recovery/code', { code: await latestCode(gw.kratos, victim) });
    assert.equal(recovered.status, 200, JSON.stringify(recovered.body));
    assert.deepEqual(
      recovered.body.removedPasskeys.map((p: { id: string }) => p.id),
      [plantedId],
      'the holder sees what was removed',
    );
    const changed = await browser.post('/password', { password: 'the-victims-own-passphrase-9' });
    assert.equal(changed.status, 200, JSON.stringify(changed.body));

    assert.equal((await attacker.get('/session')).status, 401, 'the attacker is signed out');
    const { res } = await passkeyLogin(gw, planted);
    assert.equal(res.status, 401, 'the planted passkey no longer signs in');
    assert.equal(codeOf(res), 'passkey_not_recognized');

    const removed = await auditEvents(gw, 'passkey.removed', recovered.body.identityId);
    assert.deepEqual(
      removed.map((e) => [e.details.passkeyId, e.details.reason]),
      [[plantedId, 'registered_before_address_proven']],
    );
    const mail = mailer.sent.slice(sentBefore).find((m) => m.to === victim);
    assert.ok(mail && /recovered/.test(mail.subject) && mail.text.includes('removed'));
  });

  it('ends every session of the identity, gateway and Kratos alike', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const other = await signedIn(gw, email);
    const cookie = new Browser(gw.auth);
    cookie.cookies.set('ory_kratos_session', await kratosBrowserSession(gw.kratos, email));
    assert.equal((await other.get('/session')).status, 200);
    assert.equal((await cookie.get('/session')).status, 200);
    const browser = new Browser(gw.auth);
    await browser.post('/recovery', { email });
    const recovered = await browser.post('/recovery/code', { code: await latestCode(gw.kratos, email) });
    assert.equal(recovered.status, 200);
    assert.equal((await other.get('/session')).status, 401);
    assert.equal((await cookie.get('/session')).status, 401);
    assert.equal((await browser.get('/session')).status, 200, 'the recovery session itself lives');
  });
});

describe('verification', () => {
  it('removes passkeys planted before the address was verified', async () => {
    const victim = uniqueEmail('victim');
    // Sign-up at the gateway proves the address first; an account made elsewhere (an
    // import, Kratos' own flows) can still hold an unverified one.
    await seedIdentity(gw.kratos, { email: victim });
    const attacker = await signedIn(gw, victim);
    const planted = new SoftAuthenticator();
    await addPasskey(attacker, planted);
    const browser = new Browser(gw.auth);
    assert.equal((await browser.post('/verification', { email: victim })).status, 202);
    const verified = await browser.post('/verification/code', { code: await latestCode(gw.kratos, victim) });
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
    assert.equal((await passkeyLogin(gw, planted)).res.status, 401);
  });

  it('keeps the passkey of the session that proves the address (a genuine user verifying late)', async () => {
    const email = uniqueEmail('late');
    await seedIdentity(gw.kratos, { email });
    const own = new SoftAuthenticator();
    await addPasskey(await signedIn(gw, email), own);
    const { browser } = await passkeyLogin(gw, own);
    await browser.post('/verification', {});
    const verified = await browser.post('/verification/code', { code: await latestCode(gw.kratos, email) });
    assert.equal(verified.status, 200, JSON.stringify(verified.body));
    assert.deepEqual(verified.body.removedPasskeys, []);
    assert.equal((await passkeyLogin(gw, own)).res.status, 200);
  });
});

describe('recent authentication', () => {
  const clock = sharedClock();
  let timed: TestGateway;
  before(async () => {
    // Only the gateway's clock moves: it judges how recent a sign-in is (Kratos cannot be moved).
    timed = await startAccountGateway({ overrides: { clock: clock.date } });
  });
  after(async () => {
    await timed?.close();
  });

  it('every admin call needs a recent sign-in, even at aal2', async () => {
    const admin = await aal2User(timed, ['admin']);
    assert.equal((await admin.browser.get('/../admin/users')).status, 200);
    clock.advance(timed.deps.config.PRIVILEGED_MAX_AGE_SECONDS + 1);
    const stale = await admin.browser.get('/../admin/users');
    assert.equal(stale.status, 403);
    assert.equal(codeOf(stale), 'reauthentication_required');
  });
});

describe('sign-outs reach every replica at once', () => {
  let a: TestGateway;
  let b: TestGateway;
  before(async () => {
    a = await startTestGateway();
    b = await startTestGateway({ share: a });
  });
  after(async () => {
    await b?.close();
    await a?.close();
  });

  /** A raw Kratos cookie session, seen (and cached) by both replicas. */
  async function cookieSession(email: string) {
    const value = await kratosBrowserSession(a.kratos, email);
    const onA = new Browser(a.auth);
    const onB = new Browser(b.auth);
    for (const browser of [onA, onB]) browser.cookies.set('ory_kratos_session', value);
    assert.equal((await onA.get('/session')).status, 200);
    assert.equal((await onB.get('/session')).status, 200);
    return { onA, onB, value };
  }

  it('POST /logout of a Kratos-cookie session', async () => {
    const { email } = await seedIdentity(a.kratos);
    const { onA, onB, value } = await cookieSession(email);
    assert.equal((await onA.post('/logout')).status, 204);
    onA.cookies.set('ory_kratos_session', value);
    assert.equal((await onB.get('/session')).status, 401);
    assert.equal((await onA.get('/session')).status, 401);
  });

  it('POST /logout/all from a gateway session', async () => {
    const { email } = await seedIdentity(a.kratos);
    const { onB } = await cookieSession(email);
    const gatewaySession = await signedIn(a, email);
    assert.equal((await gatewaySession.post('/logout/all')).status, 204);
    assert.equal((await onB.get('/session')).status, 401);
  });

  it('admin revocation and deactivation', async () => {
    const admin = await aal2User(a, ['admin']);
    for (const action of ['revoke', 'deactivate'] as const) {
      const { email, id } = await seedIdentity(a.kratos);
      const { onA, onB } = await cookieSession(email);
      const done =
        action === 'revoke'
          ? await admin.browser.delete(`/../admin/users/${id}/sessions`)
          : await admin.browser.post(`/../admin/users/${id}/deactivate`);
      assert.ok(done.status === 204 || done.status === 200, JSON.stringify(done.body));
      assert.equal((await onB.get('/session')).status, 401, action);
      assert.equal((await onA.get('/session')).status, 401, action);
    }
  });
});
