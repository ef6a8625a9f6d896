import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { latestCode, seedIdentity } from '../helpers/account.js';
import { chromiumAvailable, startDemo, type Demo } from '../helpers/chromium.js';
import { expectState, expectText, openApp, session } from '../helpers/web-app.js';

/** Sign-in by an e-mailed code in the React app, in headless Chromium. */

const available = chromiumAvailable();
let demo: Demo | undefined;

before(async () => {
  if (available) demo = await startDemo({ EMAIL_CODE_LOGIN: 'true' });
});
after(() => demo?.close());

describe(
  'the React app, sign-in by e-mailed code',
  { skip: !available && 'Chromium is not installed' },
  () => {
    it('names the account, asks for a code, enters it from the mail and is signed in at aal1', async () => {
      const { gw, browser, baseUrl } = demo!;
      const { id, email } = await seedIdentity(gw.kratos);
      const page = await openApp(browser, baseUrl);
      await expectText(page, 'Sign in');
      await page.fill('#field-identifier', email);
      await page.getByRole('button', { name: 'Continue' }).click();
      await page.getByRole('button', { name: 'E-mail me a code' }).click();
      await expectText(page, 'If this address has an account, a code is on its way.');
      const code = await latestCode(gw.kratos, email);
      assert.ok(code, 'Kratos mailed a code');
      await page.fill('#field-code', code);
      await page.getByRole('button', { name: 'Sign in with the code' }).click();
      await expectState(page, 'signed-in', 'aal1');
      const answer = await session(page);
      assert.equal(answer.status, 200);
      assert.equal(answer.body.identityId, id);
      assert.ok(answer.body.methods.some((m: { method: string }) => m.method === 'code'));
      await page.close();
    });
  },
);
