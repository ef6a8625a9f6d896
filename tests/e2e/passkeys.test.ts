import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, type CDPSession, type Page } from 'playwright-core';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { signUpOnDemoPage } from '../helpers/account.js';
import { chromiumAvailable, startDemo, type Demo } from '../helpers/chromium.js';

/**
 * The demo page in headless Chromium, with passkeys made by the DevTools virtual
 * authenticator: what a user does by hand, proven in a real browser.
 */

const available = chromiumAvailable();

let browser: Browser;
let baseUrl: string;

let demo: Demo | undefined;
before(async () => {
  if (!available) return;
  demo = await startDemo();
  ({ browser, baseUrl } = demo);
});

after(() => demo?.close());

interface VirtualAuthenticator {
  cdp: CDPSession;
  id: string;
}

/** Adds a DevTools virtual platform authenticator to the page (resident keys, optional UV). */
async function addAuthenticator(page: Page, userVerification: boolean): Promise<VirtualAuthenticator> {
  const cdp = await page.context().newCDPSession(page);
  await cdp.send('WebAuthn.enable');
  const { authenticatorId } = await cdp.send('WebAuthn.addVirtualAuthenticator', {
    options: {
      protocol: 'ctap2',
      transport: 'internal',
      hasResidentKey: true,
      hasUserVerification: userVerification,
      isUserVerified: userVerification,
      automaticPresenceSimulation: true,
    },
  });
  return { cdp, id: authenticatorId };
}

async function removeAuthenticator(a: VirtualAuthenticator) {
  await a.cdp.send('WebAuthn.removeVirtualAuthenticator', { authenticatorId: a.id });
}

/** A fresh browser context on the demo page. */
async function openDemo(): Promise<Page> {
  const context = await browser.newContext();
  const page = await context.newPage();
  await page.goto(baseUrl);
  await page.waitForFunction(() => 'gatewayDemo' in window && 'SimpleWebAuthnBrowser' in window);
  return page;
}

/** GET /api/auth/<path> from the page, with its cookies. */
async function fetchFromPage(page: Page, path: string) {
  return page.evaluate(async (p) => {
    const res = await fetch(`/api/auth${p}`);
    return { status: res.status, body: await res.json().catch(() => null) };
  }, path);
}

const session = (page: Page) => fetchFromPage(page, '/session');

/** What the page shows, for failure messages. */
const pageState = (page: Page) =>
  page.evaluate(() => ({
    status: document.getElementById('passkey-status')?.textContent,
    output: document.getElementById('output')?.textContent?.slice(0, 500),
  }));

async function expectStatus(page: Page, text: string) {
  try {
    await page.waitForFunction(
      (t) => document.getElementById('passkey-status')?.textContent?.includes(t),
      text,
      { timeout: 20_000 },
    );
  } catch (err) {
    assert.fail(`expected "${text}" on the page: ${JSON.stringify(await pageState(page))} (${String(err)})`);
  }
}

async function signUpPasswordless(page: Page, email: string) {
  await signUpOnDemoPage(page, demo!.gw, { email });
  await expectStatus(page, 'Finish signing up');
  await page.click('#passkey-add');
  await expectStatus(page, 'Passkey added.');
}

async function expectAal(page: Page, aal: string) {
  try {
    await page.waitForFunction((a) => document.getElementById('session-view')?.dataset.aal === a, aal, {
      timeout: 20_000,
    });
  } catch (err) {
    assert.fail(`expected a session at ${aal}: ${JSON.stringify(await pageState(page))} (${String(err)})`);
  }
}

async function identifyAndUsePasskey(page: Page, email: string) {
  await page.fill('#login-identifier', email);
  await page.click('#identify-form button[type=submit]');
  await page.waitForSelector('#passkey-identified-login:not([hidden])');
  await page.click('#passkey-identified-login');
  await expectStatus(page, 'Signed in with a passkey.');
}

async function passwordSignIn(page: Page, email: string) {
  await page.fill('#login-identifier', email);
  await page.click('#identify-form button[type=submit]');
  await page.fill('#password-login-form input[name=password]', STRONG_PASSWORD);
  await page.click('#password-login-form button[type=submit]');
  await page.waitForFunction(() => document.getElementById('session-view')?.textContent?.includes('aal'));
}

async function logOut(page: Page) {
  await page.click('#logout');
  await page.waitForFunction(() =>
    document.getElementById('session-view')?.textContent?.startsWith('Not signed in'),
  );
}

describe('passkeys in Chromium', { skip: !available && 'Chromium is not installed' }, () => {
  it('signs up without a password, then signs in with the passkey at aal2', async () => {
    const page = await openDemo();
    await addAuthenticator(page, true);
    const email = uniqueEmail('e2e');
    await signUpPasswordless(page, email);
    assert.equal((await session(page)).body.aal, 'aal2');
    await logOut(page);
    assert.equal((await session(page)).status, 401);

    await page.click('#passkey-login');
    await expectStatus(page, 'Signed in with a passkey.');
    const signedIn = await session(page);
    assert.equal(signedIn.status, 200);
    assert.equal(signedIn.body.email, email);
    assert.equal(signedIn.body.aal, 'aal2');
    assert.equal(signedIn.body.methods[0].method, 'passkey');
    assert.equal(signedIn.body.methods[0].userVerified, true);
    await page.context().close();
  });

  it('signs in with the passkey the identify answer offers', async () => {
    const page = await openDemo();
    await addAuthenticator(page, true);
    const email = uniqueEmail('e2e');
    await signUpPasswordless(page, email);
    await logOut(page);
    await identifyAndUsePasskey(page, email);
    assert.equal((await session(page)).body.aal, 'aal2');
    await page.context().close();
  });

  it('signs in through the browser’s autofill (conditional UI)', async () => {
    const page = await openDemo();
    await addAuthenticator(page, true);
    const email = uniqueEmail('e2e-autofill');
    await signUpPasswordless(page, email);
    await logOut(page);
    await page.reload();
    await page.click('#login-identifier');
    await expectStatus(page, 'Signed in with a passkey.');
    const signedIn = await session(page);
    assert.equal(signedIn.body.email, email);
    assert.equal(signedIn.body.aal, 'aal2');
    await page.context().close();
  });

  it('gives aal1 without user verification and refuses what aal2 guards, adding a passkey included', async () => {
    const page = await openDemo();
    const withoutUv = await addAuthenticator(page, false);
    const email = uniqueEmail('e2e-nouv');
    await signUpPasswordless(page, email);
    await logOut(page);
    // Chromium protects discoverable credentials made without UV (credProtect): name the account.
    await identifyAndUsePasskey(page, email);
    assert.equal((await session(page)).body.aal, 'aal1');
    const refused = await fetchFromPage(page, '/verify?aal=aal2');
    assert.equal(refused.status, 403);
    const passkeys = await fetchFromPage(page, '/passkeys');
    const removal = await page.evaluate(async (id) => {
      const res = await fetch(`/api/auth/passkeys/${id}`, { method: 'DELETE', headers: { 'X-CSRF': '1' } });
      return { status: res.status, body: await res.json() };
    }, passkeys.body.passkeys[0].id);
    assert.equal(removal.status, 403);
    assert.equal(removal.body.error.code, 'aal2_required');
    assert.deepEqual(removal.body.error.details.methods, ['passkey']);

    // Nor can this aal1 session plant another passkey, one that would verify the user: the
    // account has a passkey, so adding one needs aal2.
    await removeAuthenticator(withoutUv);
    await addAuthenticator(page, true);
    await page.click('#passkey-add');
    await expectStatus(page, 'Cannot add a passkey: aal2_required');
    assert.equal((await fetchFromPage(page, '/passkeys')).body.passkeys.length, 1);
    await page.context().close();
  });

  it('steps a password login up to aal2 with a passkey', async () => {
    const page = await openDemo();
    await addAuthenticator(page, true);
    const email = uniqueEmail('e2e-pw');
    await signUpOnDemoPage(page, demo!.gw, { email, password: STRONG_PASSWORD });
    await expectAal(page, 'aal1');
    await logOut(page);
    await page.fill('#login-identifier', email);
    await page.click('#identify-form button[type=submit]');
    await page.fill('#password-login-form input[name=password]', STRONG_PASSWORD);
    await page.click('#password-login-form button[type=submit]');
    await expectAal(page, 'aal1');
    await page.click('#passkey-add');
    await expectStatus(page, 'Passkey added.');
    // The passkey never raises the session that added it: it counts from the next sign-in.
    await page.click('#passkey-step-up');
    await expectStatus(page, 'Cannot step up: factor_enrolled_in_this_session');
    await logOut(page);
    await passwordSignIn(page, email);
    const owed = await session(page);
    assert.equal(owed.status, 403);
    assert.equal(owed.body.error.code, 'aal2_required');
    await page.click('#passkey-step-up');
    await expectStatus(page, 'Stepped up.');
    const raised = await session(page);
    assert.equal(raised.body.aal, 'aal2');
    assert.deepEqual(
      raised.body.methods.map((m: { method: string }) => m.method),
      ['password', 'passkey'],
    );
    await page.context().close();
  });

  it('password known, passkey not: the attacker is refused and the owner untouched', async () => {
    // The owner: a password account protected by a passkey.
    const owner = await openDemo();
    await addAuthenticator(owner, true);
    const email = uniqueEmail('e2e-owner');
    await signUpOnDemoPage(owner, demo!.gw, { email, password: STRONG_PASSWORD });
    await expectAal(owner, 'aal1');
    await owner.click('#passkey-add');
    await expectStatus(owner, 'Passkey added.');
    const ownerPasskeys = (await fetchFromPage(owner, '/passkeys')).body.passkeys.map(
      (p: { id: string }) => p.id,
    );
    assert.equal(ownerPasskeys.length, 1);

    // The attacker, in another browser with an authenticator of their own, knows the password.
    const attacker = await openDemo();
    await addAuthenticator(attacker, true);
    await passwordSignIn(attacker, email);
    const owed = await session(attacker);
    assert.equal(owed.status, 403);
    assert.equal(owed.body.error.code, 'aal2_required');
    assert.deepEqual(owed.body.error.details.methods, ['passkey']);
    // No factor of their own that would lift them...
    await attacker.click('#passkey-add');
    await expectStatus(attacker, 'Cannot add a passkey: aal2_required');
    const refusals = await attacker.evaluate(async () => {
      const { api } = (window as any).gatewayDemo;
      const calls = [
        await api('POST', '/mfa/totp', {}),
        await api('POST', '/mfa/backup-codes', {}),
        await api('POST', '/password', { password: 'attacker-chosen-passphrase-1' }),
        await api('POST', '/logout/all', {}),
        await api('GET', '/passkeys'),
      ];
      return calls.map((c: { status: number; body: any }) => [c.status, c.body?.error?.code]);
    });
    for (const refusal of refusals) assert.deepEqual(refusal, [403, 'aal2_required']);

    // ...and the owner is untouched: still signed in, the same passkey, which still signs in.
    assert.equal((await session(owner)).status, 200);
    const after = (await fetchFromPage(owner, '/passkeys')).body.passkeys.map((p: { id: string }) => p.id);
    assert.deepEqual(after, ownerPasskeys);
    await logOut(owner);
    await identifyAndUsePasskey(owner, email);
    await expectAal(owner, 'aal2');
    await owner.context().close();
    await attacker.context().close();
  });

  it('lists, renames and removes passkeys, keeping the last one', async () => {
    const page = await openDemo();
    const first = await addAuthenticator(page, true);
    await signUpPasswordless(page, uniqueEmail('e2e-list'));
    await page.waitForSelector('#passkeys-list li');
    await page.click('#passkeys-list li .passkey-remove');
    await expectStatus(page, 'Refused: last_credential');
    // The first authenticator is excluded from registering again: a second device adds the next one.
    await removeAuthenticator(first);
    await addAuthenticator(page, true);
    await page.fill('#passkey-nickname', 'Second');
    await page.click('#passkey-add');
    await expectStatus(page, 'Passkey added.');
    await page.waitForFunction(() => document.querySelectorAll('#passkeys-list li').length === 2);
    await page.fill('#passkey-nickname', 'Renamed');
    await page.click('#passkeys-list li:first-child .passkey-rename');
    await page.waitForFunction(() =>
      document.querySelector('#passkeys-list li:first-child')?.textContent?.startsWith('Renamed'),
    );
    await page.click('#passkeys-list li:first-child .passkey-remove');
    await expectStatus(page, 'Passkey removed.');
    await page.waitForFunction(() => document.querySelectorAll('#passkeys-list li').length === 1);
    assert.match((await page.textContent('#passkeys-list li'))!, /^Second/);
    await page.context().close();
  });
});
