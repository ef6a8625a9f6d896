import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seedIdentity } from '../helpers/account.js';
import { chromiumAvailable, startDemo, type Demo } from '../helpers/chromium.js';
import { textedByKratos, uniquePhone } from '../helpers/sms-sink.js';
import {
  expectState,
  expectText,
  openApp,
  openTab,
  session,
  signInWithPassword,
  signOut,
} from '../helpers/web-app.js';

/** The phone number card and sign-in by texted code in the React app, in headless Chromium. */

const available = chromiumAvailable();
let demo: Demo | undefined;

before(async () => {
  if (available) demo = await startDemo({ SMS_CODE_LOGIN: 'true' }, { sms: true });
});
after(() => demo?.close());

describe(
  'the React app, a phone number and sign-in by SMS code',
  { skip: !available && 'Chromium is not installed' },
  () => {
    it('adds and verifies a phone number, signs out, and signs in with “Text me a code”', async () => {
      const { gw, browser, baseUrl } = demo!;
      const sms = gw.sms!;
      const { id, email, password } = await seedIdentity(gw.kratos);
      const phone = uniquePhone();
      const page = await openApp(browser, baseUrl);
      await signInWithPassword(page, email, password);
      await openTab(page, 'Security');
      await expectText(page, 'Phone number');
      await page.fill('#field-phone', phone);
      const { code: verification } = await textedByKratos(gw.kratos, sms, phone, async () => {
        await page.getByRole('button', { name: 'Add number' }).click();
        await expectText(page, 'A code is on its way to the number.');
      });
      await page.fill('#field-phone-code', verification);
      await page.getByRole('button', { name: 'Verify number' }).click();
      await expectText(page, `${phone} — verified`);

      await signOut(page);
      const signIn = await openApp(browser, baseUrl);
      await expectText(signIn, 'Sign in');
      await signIn.fill('#field-identifier', email);
      await signIn.getByRole('button', { name: 'Continue' }).click();
      await signIn.fill('#field-phone', phone);
      const { code } = await textedByKratos(gw.kratos, sms, phone, async () => {
        await signIn.getByRole('button', { name: 'Text me a code' }).click();
        await expectText(signIn, 'If this number belongs to an account, a code is on its way.');
      });
      await signIn.fill('#field-sms-code', code);
      await signIn.getByRole('button', { name: 'Sign in with the code' }).click();
      await expectState(signIn, 'signed-in', 'aal1');
      const answer = await session(signIn);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.identityId, id);
      await signIn.close();
      await page.close();
    });
  },
);
