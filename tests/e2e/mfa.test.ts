import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Page } from 'playwright-core';
import { setTimeout as sleep } from 'node:timers/promises';
import { latestCode, mailCount, totpCode } from '../helpers/account.js';
import { chromiumAvailable, startDemo, type Demo } from '../helpers/chromium.js';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import {
  expectState,
  expectText,
  openApp,
  openTab,
  session,
  signInWithPassword,
  signOut,
  signUpInApp,
} from '../helpers/web-app.js';

/** The React app's second factors in headless Chromium: what a person does by hand. */

const available = chromiumAvailable();
let demo: Demo | undefined;
before(async () => {
  if (available) demo = await startDemo();
});
after(() => demo?.close());

async function signedUp(email = uniqueEmail('e2e-mfa')): Promise<Page> {
  const page = await openApp(demo!.browser, demo!.baseUrl);
  await signUpInApp(page, demo!.gw, { email, password: STRONG_PASSWORD });
  await expectState(page, 'signed-in', 'aal1');
  await openTab(page, 'Security');
  return page;
}

describe('second factors in the React app', { skip: !available && 'Chromium is not installed' }, () => {
  it('sets up an authenticator app from its QR code; the next sign-in owes it and reaches aal2 with it', async () => {
    const email = uniqueEmail('e2e-mfa');
    const page = await signedUp(email);
    await page.getByRole('button', { name: 'Set up an authenticator app' }).click();
    const qr = page.getByRole('img', { name: 'QR code to scan with your authenticator app' });
    await qr.waitFor();
    assert.ok(
      await qr.evaluate(
        (img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0,
      ),
      'the QR code image is allowed by the CSP and renders',
    );
    const secret = (await page.getByTestId('totp-secret').textContent())!.trim();
    await page.fill('#field-totp-confirm', totpCode(secret));
    await page.getByRole('button', { name: 'Turn on' }).click();
    await expectText(page, 'It will be asked for from your next sign-in.');

    // No factor raises the session that enrolled it: an aal2 act finds no factor to use here.
    await page.getByRole('button', { name: 'Show new backup codes' }).click();
    const dialog = page.getByRole('dialog', { name: 'Confirm it’s you' });
    await dialog.getByText('counts from your next sign-in').waitFor();
    await dialog.getByRole('button', { name: 'Cancel' }).click();
    assert.equal((await session(page)).body.aal, 'aal1');

    await signOut(page);
    await signInWithPassword(page, email, STRONG_PASSWORD);
    await expectState(page, 'second-factor');
    await expectText(page, 'Confirm it’s you with your authenticator app');
    const owed = await session(page);
    assert.equal(owed.status, 403);
    assert.deepEqual(owed.body.error.details.methods, ['totp']);

    await page.fill('#field-totp-code', '000000' === totpCode(secret) ? '111111' : '000000');
    await page.getByRole('button', { name: 'Verify code' }).click();
    await page.getByRole('alert').waitFor();
    assert.doesNotMatch((await page.getByRole('alert').textContent())!, /[{}]/, 'the refusal is in words');
    await page.fill('#field-totp-code', totpCode(secret));
    await page.getByRole('button', { name: 'Verify code' }).click();
    await expectState(page, 'signed-in', 'aal2');
    await page.context().close();
  });

  it('shows twelve fresh backup codes once', async () => {
    const page = await signedUp();
    await page.getByRole('button', { name: 'Show new backup codes' }).click();
    await page.waitForFunction(
      () => document.querySelectorAll('[aria-label="Your backup codes"] li').length === 12,
    );
    await page.context().close();
  });

  it('recovers an account by a mailed code and asks for a new password', async () => {
    const email = uniqueEmail('e2e-recover');
    const page = await signedUp(email);
    await signOut(page);
    const { gw } = demo!;
    const before = await mailCount(gw.kratos, email);
    await page.getByRole('button', { name: 'Forgot your password?' }).click();
    await page.fill('#field-recovery-email', email);
    await page.getByRole('button', { name: 'Send me a code' }).click();
    await expectText(page, 'If the address belongs to an account, a code is on its way.');
    for (let i = 0; i < 100 && (await mailCount(gw.kratos, email)) === before; i++) await sleep(100);
    const code = await latestCode(gw.kratos, email);
    assert.ok(code, 'Kratos mailed a recovery code');
    await page.fill('#field-recovery-code', code);
    await page.getByRole('button', { name: 'Recover account' }).click();
    await expectState(page, 'signed-in');
    await expectText(page, 'Set a new password now.');
    await page.fill('#field-change-password', 'a-brand-new-passphrase-77');
    await page.getByRole('button', { name: 'Change password' }).click();
    await expectText(page, 'Your password is changed.');
    await signOut(page);
    await signInWithPassword(page, email, 'a-brand-new-passphrase-77');
    await expectState(page, 'signed-in');
    await page.context().close();
  });
});
