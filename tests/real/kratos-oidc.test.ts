/**
 * Social sign-in through the real Kratos v1.3.1 `oidc` method, against a real OpenID provider
 * (`oidc-provider`) on loopback, with the overlay (kratos/social-sign-in.yml) and claim mapper
 * (kratos/oidc/claims.jsonnet) the repository ships: what a gateway building on API flows and Kratos' session-token
 * exchange can rely on.
 *
 * Part of the real-stack tier (`npm run test:real`), which builds on `npm run real:build`.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { seedIdentity } from '../helpers/account.js';
import {
  followBrowserRedirects,
  socialSignInEnv,
  startOidcProvider,
  type OidcProvider,
  type ProviderAccount,
} from '../helpers/oidc-provider.js';
import { startRealKratos, type RealKratos } from '../helpers/real-kratos.js';

const RETURN_TO = 'http://localhost:3000/api/auth/oidc/callback';

let provider: OidcProvider;
let kratos: RealKratos;
let hooks: Server;

before(async () => {
  provider = await startOidcProvider();
  // The registration web hooks answer as a gateway that changes nothing would.
  hooks = createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}'));
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  const hooksUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
  kratos = await startRealKratos({
    webhookUrl: (hook) => `${hooksUrl}/${hook}`,
    env: socialSignInEnv(provider),
  });
  provider.allowRedirects([`${kratos.publicUrl}/self-service/methods/oidc/callback/sso`]);
});
after(async () => {
  await kratos?.close();
  await provider?.close();
  hooks?.close();
});

/**
 * A native login flow that asks for a session-token exchange code, submitted with the oidc
 * method, then the browser's way through the provider back to Kratos' callback and on to
 * `RETURN_TO` (redirects followed by hand, cookies kept per host as a browser keeps them).
 */
async function socialSignIn(account: ProviderAccount): Promise<{ initCode: string; landed: URL }> {
  provider.signInAs(account);
  const started = await fetch(
    `${kratos.publicUrl}/self-service/login/api?return_session_token_exchange_code=true&return_to=${encodeURIComponent(RETURN_TO)}`,
  );
  const flow = (await started.json()) as { id: string; session_token_exchange_code: string };
  const submitted = await fetch(`${kratos.publicUrl}/self-service/login?flow=${flow.id}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
    body: JSON.stringify({ method: 'oidc', provider: 'sso' }),
  });
  assert.equal(submitted.status, 422);
  const answer = (await submitted.json()) as { error: { id: string }; redirect_browser_to: string };
  assert.equal(answer.error.id, 'browser_location_change_required');
  const landed = await followBrowserRedirects(answer.redirect_browser_to, RETURN_TO);
  return { initCode: flow.session_token_exchange_code, landed };
}

const exchange = (initCode: string, returnToCode: string) =>
  fetch(
    `${kratos.publicUrl}/sessions/token-exchange?init_code=${encodeURIComponent(initCode)}&return_to_code=${encodeURIComponent(returnToCode)}`,
  );

async function identitiesWith(email: string) {
  const res = await fetch(
    `${kratos.adminUrl}/admin/identities?credentials_identifier=${encodeURIComponent(email)}&include_credential=oidc`,
  );
  return (await res.json()) as {
    id: string;
    credentials?: Record<string, { identifiers?: string[] }>;
    verifiable_addresses?: { value: string; verified: boolean }[];
  }[];
}

describe('social sign-in through the real Kratos oidc method', () => {
  it('signs up a new account with a verified e-mail, whose session only the flow’s own init code can take', async () => {
    const email = `social-${randomUUID()}@example.com`;
    const { initCode, landed } = await socialSignIn({ sub: randomUUID(), email, email_verified: true });
    const code = landed.searchParams.get('code');
    assert.ok(code, `no exchange code in ${landed.href}`);

    // Someone holding only the code that reached the browser gets nothing.
    const stolen = await exchange('x'.repeat(64), code);
    assert.equal(stolen.status, 404);

    const res = await exchange(initCode, code);
    assert.equal(res.status, 200);
    const { session_token, session } = (await res.json()) as {
      session_token: string;
      session: {
        id: string;
        authenticator_assurance_level: string;
        authentication_methods: { method: string; provider?: string }[];
        identity: { traits: { email: string }; verifiable_addresses: { verified: boolean }[] };
      };
    };
    assert.match(session_token, /^ory_st_/);
    assert.equal(session.authenticator_assurance_level, 'aal1');
    assert.deepEqual(
      session.authentication_methods.map((m) => [m.method, m.provider]),
      [['oidc', 'sso']],
    );
    assert.equal(session.identity.traits.email, email);
    assert.equal(session.identity.verifiable_addresses[0]?.verified, true);

    // Kratos answers the same exchange again (the same session): whoever runs it must forget
    // the init code once it has the session.
    const again = await exchange(initCode, code);
    assert.equal(again.status, 200);
    assert.equal(((await again.json()) as { session: { id: string } }).session.id, session.id);
  });

  it('refuses a provider that asserts the e-mail of an existing account: no session, nothing linked', async () => {
    const { email } = await seedIdentity(kratos, { password: 'owner-passphrase-not-known-1' });

    const { initCode, landed } = await socialSignIn({
      sub: `attacker-${randomUUID()}`,
      email,
      email_verified: true,
    });
    assert.equal(landed.searchParams.get('code'), null);
    assert.match(landed.searchParams.get('flow') ?? '', /^[0-9a-f-]{36}$/);
    assert.equal((await exchange(initCode, 'anything')).status, 404);

    const [owner, ...others] = await identitiesWith(email);
    assert.equal(others.length, 0);
    assert.equal(owner?.credentials?.oidc, undefined);
  });

  it('never takes an unverified e-mail claim: no account is made with that address', async () => {
    const email = `unverified-${randomUUID()}@example.com`;
    const { landed } = await socialSignIn({ sub: randomUUID(), email, email_verified: false });
    assert.equal(landed.searchParams.get('code'), null);
    assert.deepEqual(await identitiesWith(email), []);
  });
});
