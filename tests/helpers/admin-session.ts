/**
 * Signed-in users of every kind the admin tests need, made through the real flows: a
 * Kratos identity seeded through the double's admin API (roles in metadata_public), a
 * gateway password login, TOTP enrolled through the gateway's settings routes and the
 * step-up with a TOTP code that turns the session into aal2.
 */
import assert from 'node:assert/strict';
import { Secret, TOTP } from 'otpauth';
import { seedIdentity as seedAccount } from './account.js';
import type { TestGateway } from './gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from './http.js';

export interface TestUser {
  id: string;
  email: string;
  browser: Browser;
  /** Base32 TOTP secret, when one was enrolled. */
  totpSecret?: string;
}

/** The current TOTP code of a base32 secret. */
export const totpCode = (secret: string) =>
  new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate();

/** Creates an identity at Kratos, with a password and roles. */
export async function seedIdentity(gw: TestGateway, options: { roles?: string[]; email?: string } = {}) {
  const { id, email } = await seedAccount(gw.kratos, {
    email: options.email ?? uniqueEmail('admin-test'),
    roles: options.roles ?? [],
  });
  return { id, email };
}

/** Signs in with the password through the gateway; `expect` is the status the login should answer. */
export async function passwordLogin(gw: TestGateway, email: string, expect = 200): Promise<Browser> {
  const browser = new Browser(gw.auth);
  const res = await browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
  assert.equal(res.status, expect, JSON.stringify(res.body));
  return browser;
}

/** Enrols TOTP for the signed-in browser through the gateway; answers the secret. */
export async function enrolTotp(browser: Browser): Promise<string> {
  const start = await browser.post('/mfa/totp');
  assert.equal(start.status, 200, JSON.stringify(start.body));
  const secret = start.body.secret as string;
  const confirm = await browser.post('/mfa/totp/confirm', { code: totpCode(secret) });
  assert.equal(confirm.status, 200, JSON.stringify(confirm.body));
  return secret;
}

/**
 * A user at aal1 with a password only (no second factor at all). The policy makes holders
 * of an admin permission (admin, auditor) enrol one at once: their sign-in answers 403
 * `mfa_enrollment_required`, and the session may only enrol a factor or sign out.
 */
export async function aal1User(gw: TestGateway, roles: string[] = []): Promise<TestUser> {
  const { id, email } = await seedIdentity(gw, { roles });
  const mustEnrol = gw.deps.policy.mfaRequirement(roles)?.graceDays === 0;
  const browser = await passwordLogin(gw, email, mustEnrol ? 403 : 200);
  return { id, email, browser };
}

/** A user with TOTP enrolled whose current session has only the password: it owes the second factor. */
export async function pendingSecondFactorUser(gw: TestGateway, roles: string[] = []): Promise<TestUser> {
  const user = await aal1User(gw, roles);
  const totpSecret = await enrolTotp(user.browser);
  const browser = await passwordLogin(gw, user.email, 403);
  return { ...user, browser, totpSecret };
}

/** A user signed in with password + TOTP: an aal2 session. */
export async function aal2User(gw: TestGateway, roles: string[] = []): Promise<TestUser> {
  const user = await pendingSecondFactorUser(gw, roles);
  const res = await user.browser.post('/step-up/totp', { code: totpCode(user.totpSecret!) });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assert.equal(res.body.aal, 'aal2');
  return user;
}
