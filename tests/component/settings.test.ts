// real-stack: double-only (moves Kratos' clock to expire flows and sessions)
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { findProfile } from '../../gateway/src/profiles/profile-store.js';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser } from '../helpers/http.js';
import {
  adminIdentity,
  kratosBrowserSession,
  seedIdentity,
  sharedClock,
  signedIn,
  startAccountGateway,
} from '../helpers/account.js';

const NEW_PASSWORD = 'another-long-passphrase-93';
const clock = sharedClock();
let gw: TestGateway;

before(async () => {
  // The gateway's privileged window is wider than Kratos' here, so Kratos' own refusal is reachable.
  gw = await startAccountGateway({
    env: { PRIVILEGED_MAX_AGE_SECONDS: '3600', SESSION_IDLE_TIMEOUT_SECONDS: '7200' },
    kratosOptions: { now: clock.now },
    overrides: { clock: clock.date },
  });
});
after(async () => {
  await gw.close();
});

/** A browser holding only a raw Kratos session cookie: the gateway has no Kratos token for it. */
async function kratosCookieBrowser(email: string) {
  const browser = new Browser(gw.auth);
  browser.cookies.set('ory_kratos_session', await kratosBrowserSession(gw.kratos, email));
  return browser;
}

describe('PATCH /api/auth/profile', () => {
  it('updates traits through a Kratos settings flow and syncs the profile table', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    const res = await browser.patch('/profile', { traits: { name: { first: 'Ada', last: 'Lovelace' } } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(res.body.traits.name, { first: 'Ada', last: 'Lovelace' });
    assert.equal(res.body.email, email);
    assert.deepEqual((await adminIdentity(gw.kratos, id)).traits.name, { first: 'Ada', last: 'Lovelace' });
    const profile = await findProfile(gw.deps.db, id);
    assert.deepEqual(profile?.traits.name, { first: 'Ada', last: 'Lovelace' });
  });

  it('answers 400 invalid_traits for traits the identity schema refuses', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    const res = await browser.patch('/profile', { traits: { shoeSize: 44 } });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_traits');
  });

  it('answers 400 invalid_request for a body without traits', async () => {
    const browser = await signedIn(gw, (await seedIdentity(gw.kratos)).email);
    const res = await browser.patch('/profile', { name: 'Ada' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_request');
  });

  it('answers 401 without a session', async () => {
    const res = await new Browser(gw.auth).patch('/profile', { traits: {} });
    assert.equal(res.status, 401);
  });

  it('updates traits through the admin API for a session without a Kratos token', async () => {
    const { id, email } = await seedIdentity(gw.kratos);
    const browser = await kratosCookieBrowser(email);
    const res = await browser.patch('/profile', { traits: { name: { first: 'Grace' } } });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual((await adminIdentity(gw.kratos, id)).traits.name, { first: 'Grace' });
    assert.equal((await findProfile(gw.deps.db, id))?.email, email);
  });

  it('refuses an e-mail change without recent authentication', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    clock.advance(61 * 60);
    const res = await browser.patch('/profile', { traits: { email: `new.${email}` } });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'reauthentication_required');
  });
});

describe('POST /api/auth/password', () => {
  it('sets a new password through a Kratos settings flow', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    const res = await browser.post('/password', { password: NEW_PASSWORD });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const login = await new Browser(gw.auth).post('/login/password', {
      identifier: email,
      password: NEW_PASSWORD,
    });
    assert.equal(login.status, 200);
    const { rows } = await gw.deps.db.query(
      `SELECT details FROM audit_events WHERE type = 'password.changed' AND identity_id = $1`,
      [res.body.identityId],
    );
    assert.equal(rows.length, 1);
  });

  it('answers 400 weak_password with Kratos’ reason for a password like the e-mail address', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    const res = await browser.post('/password', { password: email });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'weak_password');
    assert.ok(res.body.error.details.problems.length >= 1);
  });

  it('answers 400 for a password shorter than 12 characters', async () => {
    const browser = await signedIn(gw, (await seedIdentity(gw.kratos)).email);
    const res = await browser.post('/password', { password: 'short' });
    assert.equal(res.status, 400);
    assert.equal(res.body.error.details.field, 'password');
  });

  it('maps Kratos’ session_refresh_required to 403 reauthentication_required', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    clock.advance(20 * 60);
    const res = await browser.post('/password', { password: NEW_PASSWORD });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'reauthentication_required');
  });

  it('refuses with 403 reauthentication_required past the gateway’s privileged window', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await signedIn(gw, email);
    clock.advance(61 * 60);
    const res = await browser.post('/password', { password: NEW_PASSWORD });
    assert.equal(res.status, 403);
    assert.equal(res.body.error.code, 'reauthentication_required');
    assert.equal(res.body.error.details.maxAgeSeconds, 3600);
  });

  it('sets the password through the admin API for a session without a Kratos token', async () => {
    const { email } = await seedIdentity(gw.kratos);
    const browser = await kratosCookieBrowser(email);
    const res = await browser.post('/password', { password: NEW_PASSWORD });
    assert.equal(res.status, 200, JSON.stringify(res.body));
    const login = await new Browser(gw.auth).post('/login/password', {
      identifier: email,
      password: NEW_PASSWORD,
    });
    assert.equal(login.status, 200);
  });

  it('answers 401 without a session', async () => {
    const res = await new Browser(gw.auth).post('/password', { password: NEW_PASSWORD });
    assert.equal(res.status, 401);
  });
});
