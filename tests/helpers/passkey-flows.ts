/**
 * Passkey ceremonies as a browser runs them against a test gateway, driven by the
 * software authenticator: the building blocks of the passkey component tests.
 */
import assert from 'node:assert/strict';
import { registerAccount, seedIdentity } from './account.js';
import type { TestGateway } from './gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from './http.js';
import { SoftAuthenticator, type CeremonyOverrides } from './soft-authenticator.js';

/** A passwordless sign-up that registers its first passkey with `authenticator`. */
export async function signUpWithPasskey(gw: TestGateway, authenticator = new SoftAuthenticator()) {
  const browser = new Browser(gw.auth);
  const email = uniqueEmail('passkey');
  const signUp = await registerAccount(gw, browser, { email });
  assert.equal(signUp.status, 201, JSON.stringify(signUp.body));
  const passkeyId = await addPasskey(browser, authenticator);
  return { browser, email, authenticator, passkeyId, identityId: signUp.body.identityId as string };
}

/** Registers one more passkey for the browser's session; answers its credential id. */
export async function addPasskey(browser: Browser, authenticator: SoftAuthenticator, nickname?: string) {
  const options = await browser.post('/passkeys/options', {});
  assert.equal(options.status, 200, JSON.stringify(options.body));
  const credential = authenticator.register(options.body);
  const added = await browser.post('/passkeys', { credential, ...(nickname ? { nickname } : {}) });
  assert.equal(added.status, 201, JSON.stringify(added.body));
  return credential.id;
}

/** A passkey login in a fresh browser (discoverable, or narrowed by `identifier`). */
export async function passkeyLogin(
  gw: TestGateway,
  authenticator: SoftAuthenticator,
  options: { identifier?: string; overrides?: CeremonyOverrides; browser?: Browser } = {},
) {
  const browser = options.browser ?? new Browser(gw.auth);
  const request = await browser.post(
    '/login/passkey/options',
    options.identifier ? { identifier: options.identifier } : {},
  );
  assert.equal(request.status, 200, JSON.stringify(request.body));
  const credential = authenticator.authenticate(request.body, options.overrides);
  const res = await browser.post('/login/passkey', { credential });
  return { browser, res, credential };
}

/** An identity with a password, created through Kratos' admin API. */
export async function seedPasswordUser(gw: TestGateway) {
  const { id, email } = await seedIdentity(gw.kratos, { email: uniqueEmail('password') });
  return { email, identityId: id };
}

/** A password login in a fresh browser. */
export async function passwordLogin(gw: TestGateway, email: string) {
  const browser = new Browser(gw.auth);
  const res = await browser.post('/login/password', { identifier: email, password: STRONG_PASSWORD });
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return browser;
}

/** A passkey step-up of the browser's session. */
export async function stepUp(
  browser: Browser,
  authenticator: SoftAuthenticator,
  overrides?: CeremonyOverrides,
) {
  const options = await browser.post('/step-up/options', {});
  assert.equal(options.status, 200, JSON.stringify(options.body));
  return browser.post('/step-up', { credential: authenticator.authenticate(options.body, overrides) });
}

/** The audit events of a type about an identity, oldest first. */
export async function auditEvents(gw: TestGateway, type: string, identityId?: string) {
  const { rows } = await gw.deps.db.query<{ outcome: string; identity_id: string | null; details: any }>(
    `SELECT outcome, identity_id, details FROM audit_events
      WHERE type = $1 AND ($2::text IS NULL OR identity_id = $2) ORDER BY seq`,
    [type, identityId ?? null],
  );
  return rows.map((r) => ({
    outcome: r.outcome,
    identityId: r.identity_id,
    details: typeof r.details === 'string' ? JSON.parse(r.details) : r.details,
  }));
}
