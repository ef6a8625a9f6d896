import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { type Browser, type Page } from 'playwright-core';
import { STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { signUpOnDemoPage, totpCode } from '../helpers/account.js';
import { chromiumAvailable, startDemo, type Demo } from '../helpers/chromium.js';

/** The demo page's account section in headless Chromium: what a person does by hand. */

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

async function registeredPage(): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(baseUrl);
  await page.waitForFunction(() => 'gatewayDemo' in window);
  await signUpOnDemoPage(page, demo!.gw, { email: uniqueEmail('e2e-mfa'), password: STRONG_PASSWORD });
  await page.waitForFunction(() => document.getElementById('session-view')?.dataset.aal === 'aal1');
  return page;
}

describe('demo page: account section', { skip: !available && 'Chromium is not installed' }, () => {
  it('sets up an authenticator app from the QR code page and reaches aal2', async () => {
    const page = await registeredPage();
    await page.click('#totp-start');
    await page.waitForSelector('#totp-enrollment:not([hidden])');
    const qrLoaded = await page.$eval(
      '#totp-qr',
      (img) => (img as HTMLImageElement).complete && (img as HTMLImageElement).naturalWidth > 0,
    );
    assert.ok(qrLoaded, 'the QR code image is allowed by the CSP and renders');
    const secret = (await page.textContent('#totp-secret'))!.trim();
    await page.fill('#totp-confirm-form input[name=code]', totpCode(secret));
    await page.click('#totp-confirm-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('session-view')?.dataset.aal === 'aal2');
    assert.match((await page.textContent('#account-status'))!, /set up/);
    await page.close();
  });

  it('shows twelve fresh backup codes once', async () => {
    const page = await registeredPage();
    await page.click('#backup-codes');
    await page.waitForFunction(() => document.querySelectorAll('#backup-codes-list li').length === 12);
    await page.close();
  });
});
