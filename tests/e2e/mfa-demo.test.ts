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

async function registeredPage(email = uniqueEmail('e2e-mfa')): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(baseUrl);
  await page.waitForFunction(() => 'gatewayDemo' in window);
  await signUpOnDemoPage(page, demo!.gw, { email, password: STRONG_PASSWORD });
  await page.waitForFunction(() => document.getElementById('session-view')?.dataset.aal === 'aal1');
  return page;
}

const sessionAal = (page: Page) =>
  page.$eval('#session-view', (view) => (view as HTMLElement).dataset.aal ?? '');

describe('demo page: account section', { skip: !available && 'Chromium is not installed' }, () => {
  it('sets up an authenticator app from the QR code page; the next sign-in reaches aal2 with it', async () => {
    const email = uniqueEmail('e2e-mfa');
    const page = await registeredPage(email);
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
    await page.waitForSelector('#totp-enrollment', { state: 'hidden' });
    const enrolled = (await page.textContent('#account-status'))!;
    assert.match(enrolled, /set up/);
    assert.match(enrolled, /next sign-in/, 'the page says the app counts from the next sign-in');

    // No factor raises the session that enrolled it (docs/security.md, "Highest available AAL").
    await page.click('#refresh-session');
    await page.waitForFunction(() => document.getElementById('session-view')?.textContent?.includes('aal1'));
    assert.equal(await sessionAal(page), 'aal1');
    await page.fill('#step-up-totp-form input[name=code]', totpCode(secret));
    await page.click('#step-up-totp-form button[type=submit]');
    await page.waitForFunction(() =>
      document.getElementById('account-status')?.textContent?.startsWith('Refused'),
    );
    assert.equal(
      (await page.textContent('#account-status'))!,
      'Refused: factor_enrolled_in_this_session',
      'a step-up with the app in the session that enrolled it is refused',
    );
    assert.equal(await sessionAal(page), 'aal1');

    await page.click('#logout');
    await page.waitForFunction(() =>
      document.getElementById('session-view')?.textContent?.startsWith('Not signed in'),
    );
    await page.fill('#login-identifier', email);
    await page.click('#identify-form button[type=submit]');
    await page.fill('#password-login-form input[name=password]', STRONG_PASSWORD);
    await page.click('#password-login-form button[type=submit]');
    await page.waitForFunction(() =>
      document.getElementById('session-view')?.textContent?.startsWith('Second factor owed'),
    );
    assert.match((await page.textContent('#session-view'))!, /aal2_required.*totp/);
    assert.equal(await sessionAal(page), '', 'the password alone does not sign in');

    await page.fill('#step-up-totp-form input[name=code]', totpCode(secret));
    await page.click('#step-up-totp-form button[type=submit]');
    await page.waitForFunction(() => document.getElementById('session-view')?.dataset.aal === 'aal2');
    assert.equal((await page.textContent('#account-status'))!, 'Second factor completed.');
    await page.close();
  });

  it('shows twelve fresh backup codes once', async () => {
    const page = await registeredPage();
    await page.click('#backup-codes');
    await page.waitForFunction(() => document.querySelectorAll('#backup-codes-list li').length === 12);
    await page.close();
  });
});
