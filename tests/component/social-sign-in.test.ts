import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  adminIdentity,
  latestCode,
  mailCount,
  seedIdentity,
  startAccountGateway,
  totpCode,
  withTotp,
} from '../helpers/account.js';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import {
  followBrowserRedirects,
  SSO_LABEL,
  startOidcProvider,
  type OidcProvider,
  type ProviderAccount,
} from '../helpers/oidc-provider.js';

/**
 * Social sign-in through Kratos' `oidc` method (kratos/social-sign-in.yml, its provider `sso`)
 * against a real OpenID provider (`oidc-provider`) on loopback: sign-up and sign-in, the
 * callback bound to the browser that started it, the takeover attempt (a provider asserting an
 * existing account's address) refused, linking by proving the account, and unlinking.
 */
let gw: TestGateway;
let provider: OidcProvider;
const APP = 'http://localhost:3000';

before(async () => {
  provider = await startOidcProvider();
  gw = await startAccountGateway({ kratosOptions: { socialProvider: provider } });
  provider.allowRedirects([`${gw.kratos.publicUrl}/self-service/methods/oidc/callback/sso`]);
});
after(async () => {
  await gw?.close();
  await provider?.close();
});

const account = (email = uniqueEmail('social'), verified = true): ProviderAccount => ({
  sub: randomUUID(),
  email,
  email_verified: verified,
});

/** The browser's way out to the provider and back: answers the callback's path under /api/auth. */
async function toProviderAndBack(browser: Browser, who: ProviderAccount): Promise<string> {
  provider.signInAs(who);
  const started = await browser.get('/oidc/sso');
  assert.equal(started.status, 303, JSON.stringify(started.body));
  const landed = await followBrowserRedirects(started.headers.get('location')!, APP);
  assert.equal(landed.pathname, '/api/auth/oidc/callback');
  return `/oidc/callback${landed.search}`;
}

/** A whole social sign-in in `browser`: answers where the gateway sends the app. */
async function socialSignIn(browser: Browser, who: ProviderAccount): Promise<string> {
  const callback = await toProviderAndBack(browser, who);
  const finished = await browser.get(callback);
  assert.equal(finished.status, 303, JSON.stringify(finished.body));
  return finished.headers.get('location')!;
}

async function auditRows(type: string) {
  const { rows } = await gw.deps.db.query<{ outcome: string; identity_id: string | null; details: any }>(
    'SELECT outcome, identity_id, details FROM audit_events WHERE type = $1 ORDER BY seq',
    [type],
  );
  return rows;
}

const oidcIdentifiers = async (id: string): Promise<string[]> =>
  (await adminIdentity(gw.kratos, id))?.credentials?.oidc?.identifiers ?? [];

describe('GET /api/auth/social-providers', () => {
  it('lists the providers Kratos offers, with their labels', async () => {
    const res = await new Browser(gw.auth).get('/social-providers');
    assert.equal(res.status, 200);
    assert.deepEqual(res.body, { providers: [{ id: 'sso', label: SSO_LABEL }] });
  });
});

describe('social sign-in', () => {
  it('signs up a new account at aal1 with the provider’s verified address, and signs it in again', async () => {
    const who = account();
    const browser = new Browser(gw.auth);
    assert.equal(await socialSignIn(browser, who), '/');
    const session = await browser.get('/session');
    assert.equal(session.status, 200, JSON.stringify(session.body));
    assert.equal(session.body.email, who.email);
    assert.equal(session.body.emailVerified, true);
    assert.equal(session.body.aal, 'aal1');
    assert.deepEqual(
      session.body.methods.map((m: { method: string }) => m.method),
      ['oidc'],
    );
    const [success] = (await auditRows('login.social')).filter(
      (r) => r.identity_id === session.body.identityId,
    );
    assert.equal(success?.outcome, 'success');
    assert.equal(success?.details.provider, 'sso');

    // Signing in again with the same provider account reaches the same account.
    const again = new Browser(gw.auth);
    assert.equal(await socialSignIn(again, who), '/');
    assert.equal((await again.get('/session')).body.identityId, session.body.identityId);
  });

  it('owes the account’s second factor, as a password sign-in does', async () => {
    const who = account();
    const first = new Browser(gw.auth);
    await socialSignIn(first, who);
    const identityId = (await first.get('/session')).body.identityId;
    const enrolled = await first.post('/mfa/totp');
    const confirmed = await first.post('/mfa/totp/confirm', { code: totpCode(enrolled.body.secret) });
    assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));

    const next = new Browser(gw.auth);
    assert.equal(await socialSignIn(next, who), '/');
    const owed = await next.get('/session');
    assert.equal(owed.status, 403);
    assert.equal(owed.body.error.code, 'aal2_required');
    assert.equal((await next.get('/passkeys')).status, 403);
    // The factor steps the social session up, to the same account.
    const stepped = await next.post('/step-up/totp', {
      code: totpCode(enrolled.body.secret, Date.now() + 30_000),
    });
    assert.equal(stepped.status, 200, JSON.stringify(stepped.body));
    assert.equal(stepped.body.identityId, identityId);
    assert.equal(stepped.body.aal, 'aal2');
  });

  it('counts the answer only in the browser that started it, once', async () => {
    const victim = new Browser(gw.auth);
    const callback = await toProviderAndBack(victim, account());

    // Another browser holding the URL (a leaked link, a login-CSRF page) gets nothing.
    const attacker = new Browser(gw.auth);
    const stolen = await attacker.get(callback);
    assert.equal(stolen.status, 400);
    assert.equal(stolen.body.error.code, 'social_not_started');
    assert.equal((await attacker.get('/session')).status, 401);

    // A different binding in the right browser is refused and changes nothing...
    const forged = callback.replace(/binding=[^&]+/, `binding=${'A'.repeat(32)}`);
    const refused = await victim.get(forged);
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.code, 'social_not_started');
    // ...so the real answer still signs the browser in, and only once.
    assert.equal((await victim.get(callback)).headers.get('location'), '/');
    assert.equal((await victim.get('/session')).status, 200);
    const replay = await new Browser(gw.auth).get(callback);
    assert.equal(replay.status, 400);
  });

  it('signs nobody in and links nothing when the provider asserts an existing account’s address', async () => {
    const owner = await seedIdentity(gw.kratos);
    const attacker = new Browser(gw.auth);
    const landing = await socialSignIn(attacker, account(owner.email));
    assert.equal(landing, '/?social=account_exists&provider=sso');
    assert.equal((await attacker.get('/session')).status, 401);
    assert.deepEqual(await oidcIdentifiers(owner.id), []);
    const refusals = (await auditRows('login.social')).filter((r) => r.details.reason === 'account_exists');
    assert.ok(refusals.length > 0);
    assert.ok(refusals.every((r) => r.identity_id === null));

    // Guessing the owner's password there links nothing either.
    const wrong = await attacker.post('/social-links', { password: 'not-the-owner-password-1' });
    assert.equal(wrong.status, 401);
    assert.equal(wrong.body.error.code, 'invalid_credentials');
    assert.deepEqual(await oidcIdentifiers(owner.id), []);
  });

  it('never takes an unverified e-mail claim', async () => {
    const who = account(uniqueEmail('unverified'), false);
    const browser = new Browser(gw.auth);
    assert.equal(await socialSignIn(browser, who), '/?social=failed&reason=refused');
    assert.equal((await browser.get('/session')).status, 401);
    const found = await fetch(
      `${gw.kratos.adminUrl}/admin/identities?credentials_identifier=${encodeURIComponent(who.email)}`,
    );
    assert.deepEqual(await found.json(), []);
  });

  it('refuses an unknown provider, a malformed one and a callback without a started sign-in', async () => {
    const browser = new Browser(gw.auth);
    const unknown = await browser.get('/oidc/nope');
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'unknown_provider');
    assert.equal((await browser.get('/oidc/NOPE!')).status, 400);
    const callback = await browser.get(`/oidc/callback?binding=${'x'.repeat(32)}&code=abc`);
    assert.equal(callback.status, 400);
    assert.equal(callback.body.error.code, 'social_not_started');
    assert.equal((await browser.get('/oidc/callback?binding=a&flow=not-a-uuid')).status, 400);
    assert.equal((await browser.get('/oidc/callback')).status, 400);
  });

  it('answers 502 naming the provider while it cannot be reached, and works again after', async () => {
    provider.down(true);
    try {
      const res = await new Browser(gw.auth).get('/oidc/sso');
      assert.equal(res.status, 502);
      assert.equal(res.body.error.code, 'social_provider_unavailable');
      assert.match(res.body.error.message, new RegExp(SSO_LABEL));
    } finally {
      provider.down(false);
    }
    assert.equal(await socialSignIn(new Browser(gw.auth), account()), '/');
  });
});

describe('linking and unlinking a provider', () => {
  it('links the provider once the owner proves the account with its password, then signs in with it', async () => {
    const owner = await seedIdentity(gw.kratos);
    const who = account(owner.email);
    const browser = new Browser(gw.auth);
    assert.equal(await socialSignIn(browser, who), '/?social=account_exists&provider=sso');
    const linked = await browser.post('/social-links', { password: owner.password });
    assert.equal(linked.status, 200, JSON.stringify(linked.body));
    assert.equal(linked.body.identityId, owner.id);
    assert.deepEqual(await oidcIdentifiers(owner.id), [`sso:${who.sub}`]);
    assert.deepEqual((await browser.get('/social-links')).body, { providers: ['sso'] });
    const audit = (await auditRows('social.linked')).filter((r) => r.identity_id === owner.id);
    assert.equal(audit.length, 1);

    // The same provider account now signs in to the owner's account.
    const later = new Browser(gw.auth);
    assert.equal(await socialSignIn(later, who), '/');
    assert.equal((await later.get('/session')).body.identityId, owner.id);

    // A link is used once: no second password on that flow.
    const again = await browser.post('/social-links', { password: owner.password });
    assert.equal(again.status, 400);
    assert.equal(again.body.error.code, 'social_link_not_started');
  });

  it('links an account without a password by a code mailed to its address', async () => {
    const email = uniqueEmail('codeonly');
    const created = await fetch(`${gw.kratos.adminUrl}/admin/identities`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        schema_id: 'default',
        traits: { email },
        verifiable_addresses: [{ value: email, verified: true, via: 'email', status: 'completed' }],
      }),
    });
    assert.equal(created.status, 201);
    const { id } = (await created.json()) as { id: string };
    const who = account(email);
    const browser = new Browser(gw.auth);
    assert.equal(await socialSignIn(browser, who), '/?social=account_exists&provider=sso');
    const before = await mailCount(gw.kratos, email);
    const sent = await browser.post('/social-links/code', {});
    assert.equal(sent.status, 202, JSON.stringify(sent.body));
    assert.equal(await mailCount(gw.kratos, email), before + 1);
    const code = await latestCode(gw.kratos, email);
    assert.ok(code);

    const wrong = await browser.post('/social-links/code/verify', {
      code: code === '000000' ? '111111' : '000000',
    });
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.error.code, 'invalid_code');
    assert.deepEqual(await oidcIdentifiers(id), []);

    const linked = await browser.post('/social-links/code/verify', { code });
    assert.equal(linked.status, 200, JSON.stringify(linked.body));
    assert.equal(linked.body.identityId, id);
    assert.deepEqual(await oidcIdentifiers(id), [`sso:${who.sub}`]);
    const audit = (await auditRows('social.linked')).filter((r) => r.identity_id === id);
    assert.equal(audit[0]?.details.proof, 'code');
  });

  it('does not let a password alone link a provider to an account with a second factor', async () => {
    const { email, id, password, secret } = await withTotp(gw);
    const attacker = new Browser(gw.auth);
    assert.equal(await socialSignIn(attacker, account(email)), '/?social=account_exists&provider=sso');
    const refused = await attacker.post('/social-links', { password });
    assert.equal(refused.status, 403);
    assert.equal(refused.body.error.code, 'aal2_required');
    assert.deepEqual(await oidcIdentifiers(id), []);

    // The owner, signed in with both factors, links it and keeps that session.
    const owner = new Browser(gw.auth);
    await owner.post('/login/password', { identifier: email, password });
    const stepped = await owner.post('/step-up/totp', { code: totpCode(secret, Date.now() + 30_000) });
    assert.equal(stepped.status, 200, JSON.stringify(stepped.body));
    const who = account(email);
    assert.equal(await socialSignIn(owner, who), '/?social=account_exists&provider=sso');
    const linked = await owner.post('/social-links', { password });
    assert.equal(linked.status, 200, JSON.stringify(linked.body));
    assert.equal(linked.body.aal, 'aal2');
    assert.deepEqual(await oidcIdentifiers(id), [`sso:${who.sub}`]);
  });

  it('unlinks a provider, never the last way in', async () => {
    const owner = await seedIdentity(gw.kratos);
    const who = account(owner.email);
    const browser = new Browser(gw.auth);
    await socialSignIn(browser, who);
    assert.equal((await browser.post('/social-links', { password: owner.password })).status, 200);
    const unlinked = await browser.delete('/social-links/sso');
    assert.equal(unlinked.status, 204);
    assert.deepEqual((await browser.get('/social-links')).body, { providers: [] });
    assert.equal((await auditRows('social.unlinked')).filter((r) => r.identity_id === owner.id).length, 1);
    // The provider account no longer signs in to it.
    assert.equal(await socialSignIn(new Browser(gw.auth), who), '/?social=account_exists&provider=sso');
    assert.equal((await browser.delete('/social-links/sso')).status, 404);

    // An account made by social sign-in has no other way in.
    const socialOnly = new Browser(gw.auth);
    await socialSignIn(socialOnly, account());
    const last = await socialOnly.delete('/social-links/sso');
    assert.equal(last.status, 409);
    assert.equal(last.body.error.code, 'last_credential');
    assert.deepEqual((await socialOnly.get('/social-links')).body, { providers: ['sso'] });
  });

  it('asks a signed-out browser to sign in before listing or unlinking', async () => {
    const browser = new Browser(gw.auth);
    assert.equal((await browser.get('/social-links')).status, 401);
    assert.equal((await browser.delete('/social-links/sso')).status, 401);
    assert.equal((await browser.post('/social-links', { password: STRONG_PASSWORD })).status, 400);
  });
});
