import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { chromiumAvailable, startDemo, type Demo } from '../helpers/chromium.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import {
  addAuthenticator,
  cspViolationsOf,
  expectState,
  expectText,
  openApp,
  openTab,
  session,
  returnWithAutofill,
  setPresence,
  afterAutofillStarts,
  signOutQuietly,
  signInWithPassword,
  signUpInApp,
} from '../helpers/web-app.js';

/**
 * The React app in headless Chromium with the DevTools virtual authenticator, through a new
 * user's whole journey. With UPDATE_SCREENSHOTS=1 it also refreshes the screenshots in
 * docs/screenshots/ that the README shows.
 */

const available = chromiumAvailable();
const SCREENSHOTS = join(import.meta.dirname, '../../docs/screenshots');
let demo: Demo | undefined;

before(async () => {
  if (available) demo = await startDemo();
});
after(() => demo?.close());

async function screenshot(page: Page, name: string) {
  if (!process.env.UPDATE_SCREENSHOTS) return;
  mkdirSync(SCREENSHOTS, { recursive: true });
  await page.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
}

describe('the React app, a new user’s journey', { skip: !available && 'Chromium is not installed' }, () => {
  it('signs up, adds a passkey, signs out, pays the second factor with it, signs in by autofill, keeps a file, signs out everywhere', async () => {
    const { gw, browser, baseUrl } = demo!;
    const page = await openApp(browser, baseUrl, { viewport: { width: 1100, height: 760 } });
    page.on('dialog', (dialog) => void dialog.accept());
    const authenticator = await addAuthenticator(page, true);
    const email = uniqueEmail('e2e-journey');
    await expectText(page, 'Sign in');
    await screenshot(page, 'sign-in');

    // Sign up with a password: one factor, nothing owed.
    await signUpInApp(page, gw, { email, password: STRONG_PASSWORD });
    await expectState(page, 'signed-in', 'aal1');
    assert.equal(await page.getByTestId('signed-in-as').textContent(), email);

    // A passkey; it counts from the next sign-in.
    await openTab(page, 'Security');
    await page.fill('#field-passkey-nickname', 'This laptop');
    await page.getByRole('button', { name: 'Add a passkey' }).click();
    await expectText(page, 'Passkey added.');
    await page.getByTestId('passkey').filter({ hasText: 'This laptop' }).waitFor();
    await screenshot(page, 'security');
    // (Without presence, the sign-in page's passkey autofill waits instead of signing straight back in.)
    await signOutQuietly(page, authenticator);

    // The password alone now owes the second factor: the passkey pays it.
    await signInWithPassword(page, email, STRONG_PASSWORD);
    await expectState(page, 'second-factor');
    await setPresence(authenticator, true);
    await expectText(page, 'Confirm it’s you with a passkey.');
    await screenshot(page, 'second-factor');
    await page.getByRole('button', { name: 'Use a passkey' }).click();
    await expectState(page, 'signed-in', 'aal2');
    const stepped = await session(page);
    assert.deepEqual(
      stepped.body.methods.map((m: { method: string }) => m.method),
      ['password', 'passkey'],
    );
    await signOutQuietly(page, authenticator);

    // Passkey autofill: the sign-in page asks the browser for a passkey in the e-mail field's
    // autofill; the virtual authenticator picks it as soon as it may (a person picks it from the list).
    assert.equal(await page.getAttribute('#field-identifier', 'autocomplete'), 'username webauthn');
    await returnWithAutofill(page, authenticator, baseUrl);
    await expectState(page, 'signed-in', 'aal2');
    assert.equal((await session(page)).body.methods[0].method, 'passkey');

    // A jar and a file: uploaded with progress, stored encrypted, downloaded as it was.
    await page.fill('#field-jar-name', 'Tax papers');
    await page.getByRole('button', { name: 'Create jar' }).click();
    await page.locator('#jar-detail').getByRole('heading', { name: 'Tax papers' }).waitFor();
    const plaintext = `honey ${'0123456789'.repeat(20_000)}`;
    const upload = join(tmpdir(), `journey-${process.pid}.txt`);
    writeFileSync(upload, plaintext);
    await page.setInputFiles('#jar-file', upload);
    await page.getByRole('button', { name: 'Upload' }).click();
    await expectText(page, `“journey-${process.pid}.txt” is uploaded and encrypted.`);
    const link = page.getByTestId('file').getByRole('link', { name: `journey-${process.pid}.txt` });
    const fileId = (await link.getAttribute('data-file-id'))!;
    const stored = readFileSync(join(gw.deps.config.DATA_DIR, 'files', `${fileId}.bin`));
    assert.equal(stored.includes(Buffer.from('honey 0123')), false, 'no plaintext on disk');
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    assert.equal(download.suggestedFilename(), `journey-${process.pid}.txt`);
    const downloaded = readFileSync((await download.path())!, 'utf8');
    assert.equal(downloaded, plaintext);
    await screenshot(page, 'honey-jars');

    // Sign out everywhere: this browser and every other session of the account.
    const other = await openApp(browser, baseUrl);
    await signInWithPassword(other, email, STRONG_PASSWORD);
    await expectState(other, 'second-factor');
    await openTab(page, 'Devices');
    await page.getByTestId('session').nth(1).waitFor();
    await screenshot(page, 'devices');
    // The authenticator stops answering first, or the sign-in page's autofill signs straight back in.
    await setPresence(authenticator, false);
    await afterAutofillStarts(page, () => page.getByRole('button', { name: 'Sign out everywhere' }).click());
    await expectState(page, 'signed-out');
    assert.equal((await session(page)).status, 401);
    assert.equal((await session(other)).status, 401, 'the other browser is signed out too');
    assert.deepEqual(cspViolationsOf(page), [], 'nothing the app does is refused by the strict CSP');
    await other.context().close();
    await page.context().close();
  });

  it('fits a phone-sized screen: no sideways scrolling on the sign-in and jar screens', async () => {
    const { gw, browser, baseUrl } = demo!;
    const page = await openApp(browser, baseUrl, { viewport: { width: 375, height: 740 } });
    const overflow = () => page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.equal(await overflow(), 0);
    await signUpInApp(page, gw, { email: uniqueEmail('e2e-phone'), password: STRONG_PASSWORD });
    await expectState(page, 'signed-in', 'aal1');
    await page.fill('#field-jar-name', 'Receipts');
    await page.getByRole('button', { name: 'Create jar' }).click();
    await page.locator('#jar-detail').waitFor();
    assert.equal(await overflow(), 0);
    await screenshot(page, 'phone');
    await page.context().close();
  });

  it('is served under the strict CSP, with no inline script or style in its build', async () => {
    const res = await fetch(demo!.baseUrl);
    assert.equal(res.status, 200);
    const csp = res.headers.get('content-security-policy') ?? '';
    assert.match(csp, /script-src 'self'(;|$)/);
    assert.match(csp, /style-src 'self'(;|$)/);
    const html = await res.text();
    assert.match(html, /<script type="module" crossorigin src="\/assets\/index-[\w-]+\.js"><\/script>/);
    assert.doesNotMatch(html, /<script(?![^>]*\bsrc=)[^>]*>/, 'no inline script');
    assert.doesNotMatch(html, /<style|\sstyle=/, 'no inline style');
  });

  it('shows errors in words, never the raw answer', async () => {
    const { browser, baseUrl } = demo!;
    const page = await openApp(browser, baseUrl);
    await signInWithPassword(page, uniqueEmail('e2e-nobody'), 'not-the-password-at-all');
    const alert = page.getByRole('alert');
    await alert.waitFor();
    const text = (await alert.textContent())!;
    assert.ok(text.length > 10, text);
    assert.doesNotMatch(text, /[{}]|"code"|invalid_credentials/, 'no JSON and no error code');
    await page.context().close();
  });
});
