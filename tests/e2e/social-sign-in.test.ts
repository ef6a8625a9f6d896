import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { seedIdentity } from '../helpers/account.js';
import { chromiumAvailable, startDemo, type Demo } from '../helpers/chromium.js';
import { uniqueEmail } from '../helpers/http.js';
import { SSO_LABEL, startOidcProvider, type OidcProvider } from '../helpers/oidc-provider.js';
import { expectState, expectText, openApp, openTab, session } from '../helpers/web-app.js';

/**
 * Social sign-in in the React app, in headless Chromium: the browser goes to a real OpenID
 * provider (`oidc-provider` on loopback) and back through Kratos' callback to the gateway.
 */

const available = chromiumAvailable();
let demo: Demo | undefined;
let provider: OidcProvider | undefined;

before(async () => {
  if (!available) return;
  provider = await startOidcProvider();
  demo = await startDemo({}, { socialProvider: provider });
  provider.allowRedirects([`${demo.gw.kratos.publicUrl}/self-service/methods/oidc/callback/sso`]);
});
after(async () => {
  await demo?.close();
  await provider?.close();
});

describe('the React app, social sign-in', { skip: !available && 'Chromium is not installed' }, () => {
  it('signs up and in with the provider, from the sign-in page', async () => {
    const email = uniqueEmail('e2e-social');
    provider!.signInAs({ sub: randomUUID(), email, email_verified: true });
    const page = await openApp(demo!.browser, demo!.baseUrl);
    await page.getByRole('link', { name: `Sign in with ${SSO_LABEL}` }).click();
    await expectState(page, 'signed-in', 'aal1');
    const answer = await session(page);
    assert.equal(answer.body.email, email);
    assert.deepEqual(
      answer.body.methods.map((m: { method: string }) => m.method),
      ['oidc'],
    );
    assert.equal(new URL(page.url()).search, '');
    await openTab(page, 'Security');
    await expectText(page, `${SSO_LABEL}: linked`);
    await page.close();
  });

  it('refuses a provider account with an existing account’s address until its password links it', async () => {
    const owner = await seedIdentity(demo!.gw.kratos);
    provider!.signInAs({ sub: randomUUID(), email: owner.email, email_verified: true });
    const page = await openApp(demo!.browser, demo!.baseUrl);
    await page.getByRole('link', { name: `Sign in with ${SSO_LABEL}` }).click();
    await expectText(page, 'An account with the e-mail address of your');
    await expectState(page, 'signed-out');
    assert.equal((await session(page)).status, 401);

    await page.fill('#field-link-password', 'not-the-password-of-it');
    await page.getByRole('button', { name: `Link ${SSO_LABEL}` }).click();
    await expectText(page, 'The e-mail address or password is wrong.');
    await expectState(page, 'signed-out');

    await page.fill('#field-link-password', owner.password);
    await page.getByRole('button', { name: `Link ${SSO_LABEL}` }).click();
    await expectState(page, 'signed-in', 'aal1');
    assert.equal((await session(page)).body.identityId, owner.id);
    await openTab(page, 'Security');
    await expectText(page, `${SSO_LABEL}: linked`);
    await page.close();
  });
});
