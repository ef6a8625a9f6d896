import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { seedIdentity } from '../helpers/account.js';
import { chromiumAvailable, startDemo, type Demo } from '../helpers/chromium.js';
import { STRONG_PASSWORD } from '../helpers/http.js';
import {
  addAuthenticator,
  expectState,
  expectText,
  openApp,
  session,
  signInWithPassword,
} from '../helpers/web-app.js';

/**
 * The policy's mandatory second factor in the React app, in headless Chromium: the shipped
 * policy makes administrators enrol one at once, so an admin without one who signs in sees
 * only the enrolment screen, adds a passkey there, and goes on into the app.
 */

const available = chromiumAvailable();
let demo: Demo | undefined;

before(async () => {
  if (available) demo = await startDemo();
});
after(() => demo?.close());

describe(
  'the React app, a second factor the policy requires',
  { skip: !available && 'Chromium is not installed' },
  () => {
    it('shows an administrator without one only the enrolment screen, until a passkey is added', async () => {
      const { gw, browser, baseUrl } = demo!;
      const { email } = await seedIdentity(gw.kratos, { roles: ['admin'] });
      const page = await openApp(browser, baseUrl);
      await addAuthenticator(page);
      await signInWithPassword(page, email, STRONG_PASSWORD);
      await expectState(page, 'enrol');
      await expectText(page, 'Add a second factor to go on');
      const refused = await session(page);
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'mfa_enrollment_required');
      await page.getByRole('button', { name: 'Add a passkey' }).click();
      await expectState(page, 'signed-in', 'aal1');
      const answer = await session(page);
      assert.equal(answer.status, 200, JSON.stringify(answer.body));
      assert.equal(answer.body.mfaEnrollmentDueAt, undefined);
      await page.close();
    });
  },
);
