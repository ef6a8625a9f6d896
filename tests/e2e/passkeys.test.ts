import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { chromiumAvailable, startDemo, type Demo } from '../helpers/chromium.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import {
  addAuthenticator,
  expectState,
  expectText,
  fetchFromPage,
  openApp,
  openTab,
  removeAuthenticator,
  returnWithAutofill,
  session,
  setPresence,
  signInWithPassword,
  signOutQuietly,
  signUpInApp,
  signUpWithPasskey,
  type VirtualAuthenticator,
} from '../helpers/web-app.js';

/**
 * The React app in headless Chromium, with passkeys made by the DevTools virtual
 * authenticator: what a user does by hand, proven in a real browser.
 */

const available = chromiumAvailable();
let demo: Demo | undefined;
before(async () => {
  if (available) demo = await startDemo();
});
after(() => demo?.close());

/** A fresh browser on the app with an authenticator; confirmation prompts are accepted. */
async function openWithAuthenticator(userVerification = true): Promise<[Page, VirtualAuthenticator]> {
  const page = await openApp(demo!.browser, demo!.baseUrl);
  page.on('dialog', (dialog) => void dialog.accept());
  return [page, await addAuthenticator(page, userVerification)];
}

/**
 * The sign-in page's "saved passkey" button, pressed once the authenticator answers again (the
 * page's autofill request, made while it was silent, stays pending until the button cancels it).
 */
async function signInWithSavedPasskey(page: Page, authenticator: VirtualAuthenticator) {
  await setPresence(authenticator, true);
  await page.getByRole('button', { name: 'Sign in with a saved passkey' }).click();
}

/** A state-changing call from the page, as the app makes it. */
const callFromPage = (page: Page, method: string, path: string, body?: unknown) =>
  page.evaluate(
    async ([m, p, b]) => {
      const res = await fetch(`/api/auth${p}`, {
        method: m as string,
        headers: { 'X-CSRF': '1', 'Content-Type': 'application/json' },
        body: b === undefined ? undefined : JSON.stringify(b),
      });
      return { status: res.status, body: await res.json().catch(() => null) };
    },
    [method, path, body] as const,
  );

describe('passkeys in Chromium', { skip: !available && 'Chromium is not installed' }, () => {
  it('signs up without a password, then signs in with a saved passkey at aal2', async () => {
    const [page, authenticator] = await openWithAuthenticator();
    const email = uniqueEmail('e2e');
    await signUpWithPasskey(page, demo!.gw, email);
    assert.equal((await session(page)).body.aal, 'aal2');
    await signOutQuietly(page, authenticator);
    assert.equal((await session(page)).status, 401);

    await signInWithSavedPasskey(page, authenticator);
    await expectState(page, 'signed-in', 'aal2');
    const signedIn = await session(page);
    assert.equal(signedIn.body.email, email);
    assert.equal(signedIn.body.methods[0].method, 'passkey');
    assert.equal(signedIn.body.methods[0].userVerified, true);
    await page.context().close();
  });

  it('signs in with the passkey the identify answer offers', async () => {
    const [page, authenticator] = await openWithAuthenticator();
    const email = uniqueEmail('e2e');
    await signUpWithPasskey(page, demo!.gw, email);
    await signOutQuietly(page, authenticator);
    await page.fill('#field-identifier', email);
    await page.getByRole('button', { name: 'Continue' }).click();
    await setPresence(authenticator, true);
    await page.getByRole('button', { name: 'Sign in with a passkey' }).click();
    await expectState(page, 'signed-in', 'aal2');
    await page.context().close();
  });

  it('signs in through the browser’s autofill (conditional UI)', async () => {
    const [page, authenticator] = await openWithAuthenticator();
    const email = uniqueEmail('e2e-autofill');
    await signUpWithPasskey(page, demo!.gw, email);
    await signOutQuietly(page, authenticator);
    await returnWithAutofill(page, authenticator, demo!.baseUrl);
    await expectState(page, 'signed-in', 'aal2');
    assert.equal((await session(page)).body.email, email);
    await page.context().close();
  });

  it('gives aal1 without user verification and asks for a second factor before what aal2 guards, adding a passkey included', async () => {
    const [page, withoutUv] = await openWithAuthenticator(false);
    const email = uniqueEmail('e2e-nouv');
    await signUpWithPasskey(page, demo!.gw, email, 'any');
    await signOutQuietly(page, withoutUv);
    // Chromium protects discoverable credentials made without UV (credProtect): name the account.
    await page.fill('#field-identifier', email);
    await page.getByRole('button', { name: 'Continue' }).click();
    const identified = page.getByRole('button', { name: 'Sign in with a passkey' });
    await identified.waitFor();
    await setPresence(withoutUv, true);
    await identified.click();
    await expectState(page, 'signed-in', 'aal1');
    assert.equal((await fetchFromPage(page, '/verify?aal=aal2')).status, 403);

    // Nor can this aal1 session plant another passkey, one that would verify the user: the app
    // asks for a second factor first, and without one the passkey list stays as it was.
    await removeAuthenticator(withoutUv);
    await addAuthenticator(page, true);
    await openTab(page, 'Security');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it’s you' });
    await dialog.waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    await expectText(page, 'This needs a stronger sign-in: complete a second factor.');
    assert.equal((await fetchFromPage(page, '/passkeys')).body.passkeys.length, 1);
    await page.context().close();
  });

  it('steps a password sign-in up to aal2 with a passkey, never with the one this session added', async () => {
    const [page, authenticator] = await openWithAuthenticator();
    const email = uniqueEmail('e2e-pw');
    await signUpInApp(page, demo!.gw, { email, password: STRONG_PASSWORD });
    await expectState(page, 'signed-in', 'aal1');
    await openTab(page, 'Security');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expectText(page, 'Passkey added.');
    // The passkey never raises the session that added it: removing it (an aal2 act) finds no factor to use.
    await page.getByTestId('passkey').getByRole('button', { name: 'Remove' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it’s you' });
    await dialog.getByText('counts from your next sign-in').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await session(page)).body.aal, 'aal1');

    await signOutQuietly(page, authenticator);
    await signInWithPassword(page, email, STRONG_PASSWORD);
    await expectState(page, 'second-factor');
    const owed = await session(page);
    assert.equal(owed.status, 403);
    assert.equal(owed.body.error.code, 'aal2_required');
    await setPresence(authenticator, true);
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await expectState(page, 'signed-in', 'aal2');
    assert.deepEqual(
      (await session(page)).body.methods.map((m: { method: string }) => m.method),
      ['password', 'passkey'],
    );
    await page.context().close();
  });

  it('password known, passkey not: the attacker is refused and the owner untouched', async () => {
    // The owner: a password account protected by a passkey.
    const [owner, ownerKey] = await openWithAuthenticator();
    const email = uniqueEmail('e2e-owner');
    await signUpInApp(owner, demo!.gw, { email, password: STRONG_PASSWORD });
    await expectState(owner, 'signed-in', 'aal1');
    await openTab(owner, 'Security');
    await owner.getByRole('button', { name: 'Add a passkey' }).click();
    await expectText(owner, 'Passkey added.');
    const ownerPasskeys = (await fetchFromPage(owner, '/passkeys')).body.passkeys.map(
      (p: { id: string }) => p.id,
    );
    assert.equal(ownerPasskeys.length, 1);

    // The attacker, in another browser with an authenticator of their own, knows the password.
    const [attacker, attackerKey] = await openWithAuthenticator();
    await setPresence(attackerKey, false);
    await signInWithPassword(attacker, email, STRONG_PASSWORD);
    await expectState(attacker, 'second-factor');
    const owed = await session(attacker);
    assert.equal(owed.status, 403);
    assert.deepEqual(owed.body.error.details.methods, ['passkey']);
    // Their own authenticator holds no passkey of the account: the step-up fails.
    await setPresence(attackerKey, true);
    await attacker.getByRole('button', { name: 'Use a passkey' }).click();
    await attacker.getByRole('alert').waitFor();
    await expectState(attacker, 'second-factor');
    // No factor of their own that would lift them...
    const refusals = [
      await callFromPage(attacker, 'POST', '/passkeys/options', {}),
      await callFromPage(attacker, 'POST', '/mfa/totp', {}),
      await callFromPage(attacker, 'POST', '/mfa/backup-codes', {}),
      await callFromPage(attacker, 'POST', '/password', { password: 'attacker-chosen-passphrase-1' }),
      await callFromPage(attacker, 'POST', '/logout/all', {}),
      await fetchFromPage(attacker, '/passkeys'),
    ];
    for (const refusal of refusals)
      assert.deepEqual([refusal.status, refusal.body?.error?.code], [403, 'aal2_required']);

    // ...and the owner is untouched: still signed in, the same passkey, which still signs in.
    assert.equal((await session(owner)).status, 200);
    const after = (await fetchFromPage(owner, '/passkeys')).body.passkeys.map((p: { id: string }) => p.id);
    assert.deepEqual(after, ownerPasskeys);
    await signOutQuietly(owner, ownerKey);
    await signInWithSavedPasskey(owner, ownerKey);
    await expectState(owner, 'signed-in', 'aal2');
    await owner.context().close();
    await attacker.context().close();
  });

  it('lists, renames and removes passkeys, keeping the last one', async () => {
    const [page, first] = await openWithAuthenticator();
    await signUpWithPasskey(page, demo!.gw, uniqueEmail('e2e-list'));
    await openTab(page, 'Security');
    const rows = page.getByTestId('passkey');
    await rows.first().waitFor();
    await rows.first().getByRole('button', { name: 'Remove' }).click();
    await expectText(page, 'This is your only way to sign in');
    // The first authenticator is excluded from registering again: a second device adds the next one.
    await removeAuthenticator(first);
    await addAuthenticator(page, true);
    await page.fill('#field-passkey-nickname', 'Second');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expectText(page, 'Passkey added.');
    await rows.nth(1).waitFor();
    await rows.first().getByRole('button', { name: 'Rename' }).click();
    await rows.first().getByLabel('Name').fill('Renamed');
    await rows.first().getByRole('button', { name: 'Save' }).click();
    await expectText(page, 'Passkey renamed.');
    await rows.filter({ hasText: 'Renamed' }).waitFor();
    await rows.filter({ hasText: 'Renamed' }).getByRole('button', { name: 'Remove' }).click();
    await expectText(page, 'Passkey removed.');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=passkey]').length === 1);
    assert.match((await rows.first().locator('.passkey-name').textContent())!, /^Second$/);
    await page.context().close();
  });
});
