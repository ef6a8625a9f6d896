/**
 * The Kratos double's `oidc` method (social sign-in) held to what real Kratos v1.3.1 answers
 * (tests/real/kratos-oidc.test.ts pins the real behaviour): API login flows with a session-token
 * exchange code, a real OpenID provider (`oidc-provider`) on loopback, the claim mapping of
 * kratos/oidc/claims.jsonnet, account linking through the login flow Kratos makes for a
 * duplicate e-mail, and the admin view and removal of the oidc credential.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { startKratosDouble, type KratosDouble } from '../doubles/kratos/index.js';
import {
  followBrowserRedirects,
  startOidcProvider,
  type OidcProvider,
  type ProviderAccount,
} from '../helpers/oidc-provider.js';
import { kratosSpecPath } from './kratos-contract-helpers.js';
import { createOpenApiValidator } from './openapi-validator.js';

const RETURN_TO = 'http://localhost:3000/api/auth/oidc/callback';
const LABEL = 'Company SSO';
const PASSWORD = 'owner-passphrase-not-known-1';

let provider: OidcProvider;
let kratos: KratosDouble;
let hooks: Server;
/** Every JSON answer of an operation the Kratos API document declares is checked against it. */
const validator = createOpenApiValidator(kratosSpecPath);
const hookCalls: { hook: string; body: { flow_type?: string; identity?: { traits?: unknown } } }[] = [];

before(async () => {
  provider = await startOidcProvider();
  hooks = createServer((req, res) => {
    let text = '';
    req.on('data', (chunk: Buffer) => (text += chunk.toString()));
    req.on('end', () => {
      hookCalls.push({ hook: req.url?.slice(1) ?? '', body: JSON.parse(text || '{}') as never });
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => hooks.listen(0, '127.0.0.1', resolve));
  const hooksUrl = `http://127.0.0.1:${(hooks.address() as AddressInfo).port}`;
  kratos = await startKratosDouble({
    webhookUrl: (hook) => `${hooksUrl}/${hook}`,
    webhookApiKey: 'key',
    oidcProviders: [
      {
        id: 'sso',
        label: LABEL,
        issuerUrl: provider.issuer,
        clientId: provider.clientId,
        clientSecret: provider.clientSecret,
      },
    ],
  });
  provider.allowRedirects([`${kratos.publicUrl}/self-service/methods/oidc/callback/sso`]);
});
after(async () => {
  await kratos?.close();
  await provider?.close();
  hooks?.close();
});

interface Flow {
  id: string;
  return_to?: string;
  session_token_exchange_code?: string;
  ui: {
    nodes: { group: string; attributes: Record<string, unknown>; meta: { label?: { id: number } } }[];
    messages?: { id: number; text: string; type: string; context: Record<string, unknown> }[];
  };
}

async function call(url: string, init: { method?: string; json?: unknown; unchecked?: boolean } = {}) {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    redirect: 'manual',
    headers: {
      Accept: 'application/json',
      ...(init.json === undefined ? {} : { 'Content-Type': 'application/json' }),
    },
    body: init.json === undefined ? undefined : JSON.stringify(init.json),
  });
  const text = await res.text();
  const body: unknown = text ? JSON.parse(text) : undefined;
  const { pathname, search } = new URL(url);
  const method = init.method ?? 'GET';
  // The document declares the 422 body's `error` as errorGeneric, which wraps `error` once more;
  // Kratos (and the double) send the generic error itself there, as every other error does.
  if (!init.unchecked && res.status !== 422 && validator.findOperation(method, `${pathname}${search}`))
    validator.assertResponse(method, `${pathname}${search}`, res.status, body);
  return { status: res.status, headers: res.headers, body: body as any };
}

const startFlow = async (returnTo = RETURN_TO) =>
  call(
    `${kratos.publicUrl}/self-service/login/api?return_session_token_exchange_code=true&return_to=${encodeURIComponent(returnTo)}`,
  );

const submitOidc = (flowId: string, providerId = 'sso') =>
  call(`${kratos.publicUrl}/self-service/login?flow=${flowId}`, {
    method: 'POST',
    json: { method: 'oidc', provider: providerId },
  });

async function socialSignIn(
  account: ProviderAccount,
  returnTo = RETURN_TO,
): Promise<{ initCode: string; landed: URL }> {
  provider.signInAs(account);
  const flow = (await startFlow(returnTo)).body as Flow;
  const submitted = await submitOidc(flow.id);
  assert.equal(submitted.status, 422, JSON.stringify(submitted.body));
  return {
    initCode: flow.session_token_exchange_code ?? '',
    landed: await followBrowserRedirects(submitted.body.redirect_browser_to as string, RETURN_TO),
  };
}

const exchange = (initCode: string, returnToCode: string) =>
  call(
    `${kratos.publicUrl}/sessions/token-exchange?init_code=${encodeURIComponent(initCode)}&return_to_code=${encodeURIComponent(returnToCode)}`,
  );

async function createOwner(email: string): Promise<string> {
  const created = await call(`${kratos.adminUrl}/admin/identities`, {
    method: 'POST',
    json: {
      schema_id: 'default',
      traits: { email },
      credentials: { password: { config: { password: PASSWORD } } },
    },
  });
  assert.equal(created.status, 201);
  return created.body.id as string;
}

const adminIdentity = async (id: string) =>
  (await call(`${kratos.adminUrl}/admin/identities/${id}?include_credential=oidc`)).body as {
    id: string;
    credentials: Record<string, { type: string; identifiers: string[]; config?: { providers: unknown[] } }>;
  };

const identitiesWith = async (email: string) =>
  (await call(`${kratos.adminUrl}/admin/identities?credentials_identifier=${encodeURIComponent(email)}`))
    .body as { id: string; credentials: Record<string, unknown> }[];

describe('Kratos double: the oidc method as real Kratos v1.3.1 answers it', () => {
  it('offers each provider on a login flow with a 64-character exchange code and the return_to', async () => {
    const started = await startFlow();
    assert.equal(started.status, 200);
    const flow = started.body as Flow;
    assert.match(flow.session_token_exchange_code ?? '', /^[A-Za-z0-9]{64}$/);
    assert.equal(flow.return_to, RETURN_TO);
    const oidcNodes = flow.ui.nodes.filter((n) => n.group === 'oidc');
    assert.deepEqual(oidcNodes, [
      {
        type: 'input',
        group: 'oidc',
        attributes: { name: 'provider', type: 'submit', value: 'sso', disabled: false, node_type: 'input' },
        messages: [],
        meta: {
          label: {
            id: 1010002,
            text: `Sign in with ${LABEL}`,
            type: 'info',
            context: { provider: LABEL, provider_id: 'sso' },
          },
        },
      },
    ]);
    // The code is shown once, on creation (Kratos does not store it with the flow).
    const fetched = await call(`${kratos.publicUrl}/self-service/login/flows?id=${flow.id}`);
    assert.equal(fetched.status, 200);
    assert.equal(fetched.body.session_token_exchange_code, undefined);
    const other = (await startFlow()).body as Flow;
    assert.notEqual(other.session_token_exchange_code, flow.session_token_exchange_code);
  });

  it('offers no provider when the method is off', async () => {
    const plain = await startKratosDouble();
    try {
      const flow = (await call(`${plain.publicUrl}/self-service/login/api`)).body as Flow;
      assert.deepEqual(
        flow.ui.nodes.filter((n) => n.group === 'oidc'),
        [],
      );
      const submitted = await call(`${plain.publicUrl}/self-service/login?flow=${flow.id}`, {
        method: 'POST',
        json: { method: 'oidc', provider: 'sso' },
      });
      assert.equal(submitted.status, 400);
      assert.equal(submitted.body.ui.messages[0].id, 4010002);
    } finally {
      await plain.close();
    }
  });

  it('refuses a return_to outside the allowed return URLs', async () => {
    const res = await startFlow('https://evil.example/steal');
    assert.equal(res.status, 400);
    assert.deepEqual(res.body, {
      error: {
        id: 'self_service_flow_return_to_forbidden',
        code: 400,
        status: 'Bad Request',
        reason: 'Requested return_to URL "https://evil.example/steal" is not allowed.',
        message: 'The request was malformed or contained invalid parameters',
      },
    });
  });

  it('sends the browser to the provider with the client, callback, scopes, state and PKCE S256', async () => {
    const flow = (await startFlow()).body as Flow;
    const res = await submitOidc(flow.id);
    assert.equal(res.status, 422);
    const to = res.body.redirect_browser_to as string;
    assert.deepEqual(res.body, {
      error: {
        id: 'browser_location_change_required',
        code: 422,
        status: 'Unprocessable Entity',
        reason: `In order to complete this flow please redirect the browser to: ${to}`,
        message: 'browser location change required',
      },
      redirect_browser_to: to,
    });
    const url = new URL(to);
    assert.equal(url.origin, provider.issuer);
    assert.equal(url.searchParams.get('client_id'), provider.clientId);
    assert.equal(
      url.searchParams.get('redirect_uri'),
      `${kratos.publicUrl}/self-service/methods/oidc/callback/sso`,
    );
    assert.equal(url.searchParams.get('response_type'), 'code');
    assert.equal(url.searchParams.get('prompt'), null);
    assert.equal(url.searchParams.get('scope'), 'openid email');
    assert.equal(url.searchParams.get('code_challenge_method'), 'S256');
    assert.match(url.searchParams.get('code_challenge') ?? '', /^[A-Za-z0-9_-]{43}$/);
    assert.ok((url.searchParams.get('state') ?? '').length > 40);
    const again = await submitOidc(flow.id);
    assert.notEqual(
      new URL(again.body.redirect_browser_to as string).searchParams.get('state'),
      url.searchParams.get('state'),
    );
  });

  it('answers 404 for an unknown provider and 500 when the provider is down', async () => {
    const flow = (await startFlow()).body as Flow;
    const unknown = await submitOidc(flow.id, 'nope');
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.body, {
      error: {
        code: 404,
        status: 'Not Found',
        reason: 'OpenID Connect Provider "nope" is unknown or has not been configured',
        message: 'The requested resource could not be found',
      },
    });
    provider.down(true);
    try {
      const down = await submitOidc(flow.id);
      assert.equal(down.status, 500);
      assert.deepEqual(down.body, {
        error: {
          code: 500,
          status: 'Internal Server Error',
          reason: 'Unable to initialize OpenID Connect Provider: 503 Service Unavailable: ',
          message: 'An internal server error occurred, please contact the system administrator',
        },
      });
    } finally {
      provider.down(false);
    }
  });

  it('signs up a verified e-mail: the session goes only to the flow’s own init code, again and again', async () => {
    const email = `social-${randomUUID()}@example.com`;
    const sub = randomUUID();
    const before = hookCalls.length;
    const { initCode, landed } = await socialSignIn({ sub, email, email_verified: true });
    assert.equal(`${landed.origin}${landed.pathname}`, RETURN_TO);
    const code = landed.searchParams.get('code');
    assert.match(code ?? '', /^[A-Za-z0-9]{64}$/);

    const stolen = await exchange('x'.repeat(64), code ?? '');
    assert.equal(stolen.status, 404);
    assert.deepEqual(stolen.body, {
      error: {
        code: 404,
        status: 'Not Found',
        reason: 'no session yet for this "code"',
        message: 'The requested resource could not be found',
      },
    });

    const res = await exchange(initCode, code ?? '');
    assert.equal(res.status, 200);
    assert.match(res.body.session_token as string, /^ory_st_/);
    const session = res.body.session;
    assert.equal(session.authenticator_assurance_level, 'aal1');
    assert.deepEqual(
      session.authentication_methods.map((m: { method: string; aal: string; provider?: string }) => [
        m.method,
        m.aal,
        m.provider,
      ]),
      [['oidc', 'aal1', 'sso']],
    );
    assert.equal(session.identity.traits.email, email);
    assert.equal(session.identity.verifiable_addresses[0].verified, true);
    assert.equal(session.identity.verifiable_addresses[0].status, 'completed');

    const again = await exchange(initCode, code ?? '');
    assert.equal(again.status, 200);
    assert.equal(again.body.session.id, session.id);
    assert.equal(again.body.session_token, res.body.session_token);

    // The registration hooks ran as for password and code sign-ups: defaults first, then after-registration.
    const ran = hookCalls.slice(before).map((c) => [c.hook, c.body.flow_type]);
    assert.deepEqual(ran, [
      ['registration-defaults', 'api'],
      ['after-registration', 'api'],
    ]);

    const identity = await adminIdentity(session.identity.id as string);
    assert.deepEqual(identity.credentials.oidc?.identifiers, [`sso:${sub}`]);
    const [linked] = (identity.credentials.oidc?.config?.providers ?? []) as {
      subject: string;
      provider: string;
    }[];
    assert.equal(linked?.subject, sub);
    assert.equal(linked?.provider, 'sso');
    assert.deepEqual(
      (await identitiesWith(`sso:${sub}`)).map((i) => i.id),
      [session.identity.id],
    );
    assert.deepEqual(
      (await identitiesWith(email)).map((i) => i.id),
      [session.identity.id],
    );

    // The same provider account signs in to the same identity next time.
    const next = await socialSignIn({ sub, email, email_verified: true });
    const second = await exchange(next.initCode, next.landed.searchParams.get('code') ?? '');
    assert.equal(second.status, 200);
    assert.equal(second.body.session.identity.id, session.identity.id);
    assert.notEqual(second.body.session.id, session.id);
    assert.equal(second.body.session.authentication_methods[0].provider, 'sso');
  });

  it('appends the code to a return_to with its own query, re-encoded with sorted keys as Kratos does', async () => {
    const returnTo = `${RETURN_TO}?z=1&a=b+c`;
    const { landed } = await socialSignIn(
      { sub: randomUUID(), email: `query-${randomUUID()}@example.com`, email_verified: true },
      returnTo,
    );
    const code = landed.searchParams.get('code') ?? '';
    assert.match(code, /^[A-Za-z0-9]{64}$/);
    assert.equal(landed.href, `${RETURN_TO}?a=b+c&code=${code}&z=1`);
  });

  it('never takes an unverified e-mail claim: back to return_to with neither code nor flow, no account', async () => {
    const email = `unverified-${randomUUID()}@example.com`;
    const { initCode, landed } = await socialSignIn({ sub: randomUUID(), email, email_verified: false });
    assert.equal(landed.href, RETURN_TO);
    assert.deepEqual(await identitiesWith(email), []);
    assert.equal((await exchange(initCode, 'anything')).status, 404);
  });

  it('refuses an existing account’s e-mail, then links the provider account once the owner signs in there', async () => {
    const email = `owner-${randomUUID()}@example.com`;
    const ownerId = await createOwner(email);
    const sub = `attacker-${randomUUID()}`;
    const { initCode, landed } = await socialSignIn({ sub, email, email_verified: true });
    assert.equal(landed.searchParams.get('code'), null);
    assert.equal(landed.searchParams.get('no_org_ui'), 'true');
    const flowId = landed.searchParams.get('flow') ?? '';
    assert.match(flowId, /^[0-9a-f-]{36}$/);
    assert.equal(`${landed.origin}${landed.pathname}`, RETURN_TO);
    assert.equal((await exchange(initCode, 'anything')).status, 404);
    const [owner, ...others] = await identitiesWith(email);
    assert.equal(others.length, 0);
    assert.equal(owner?.id, ownerId);
    assert.equal((await adminIdentity(ownerId)).credentials.oidc, undefined);

    const flow = (await call(`${kratos.publicUrl}/self-service/login/flows?id=${flowId}`)).body as Flow;
    assert.equal(flow.return_to, RETURN_TO);
    assert.deepEqual(flow.ui.messages, [
      {
        id: 1010016,
        type: 'info',
        text: `You tried to sign in with "${email}", but that email is already used by another account. Sign in to your account with one of the options below to add your account "${email}" at "${LABEL}" as another way to sign in.`,
        context: {
          available_credential_types: [],
          available_providers: [],
          duplicateIdentifier: email,
          duplicate_identifier: email,
          newLoginUrl: 'http://localhost:3000/login',
          new_login_url: 'http://localhost:3000/login',
          provider: LABEL,
        },
      },
    ]);
    const identifier = flow.ui.nodes.find((n) => n.attributes.name === 'identifier');
    assert.equal(identifier?.attributes.type, 'hidden');
    assert.equal(identifier?.attributes.value, email);
    // The provider just used is not offered again on this flow.
    assert.equal(flow.ui.nodes.filter((n) => n.group === 'oidc').length, 0);

    const login = (password: string) =>
      call(`${kratos.publicUrl}/self-service/login?flow=${flowId}`, {
        method: 'POST',
        json: { method: 'password', identifier: email, password },
      });
    const wrong = await login('not-the-password-at-all');
    assert.equal(wrong.status, 400);
    assert.equal(wrong.body.ui.messages[0].id, 4000006);
    assert.equal((await adminIdentity(ownerId)).credentials.oidc, undefined);

    const right = await login(PASSWORD);
    assert.equal(right.status, 200, JSON.stringify(right.body));
    assert.deepEqual(
      right.body.session.authentication_methods.map(
        (m: { method: string; aal: string; provider?: string }) => [m.method, m.aal, m.provider],
      ),
      [
        ['password', 'aal1', undefined],
        ['oidc', 'aal1', undefined],
      ],
    );
    const linked = await adminIdentity(ownerId);
    assert.deepEqual(linked.credentials.oidc?.identifiers, [`sso:${sub}`]);
    assert.equal((linked.credentials.oidc?.config?.providers[0] as { subject: string }).subject, sub);
    assert.deepEqual(
      (await identitiesWith(email)).map((i) => i.id),
      [ownerId],
    );

    // From now on that provider account signs in to the owner's account.
    const social = await socialSignIn({ sub, email, email_verified: true });
    const session = await exchange(social.initCode, social.landed.searchParams.get('code') ?? '');
    assert.equal(session.status, 200);
    assert.equal(session.body.session.identity.id, ownerId);

    // Removing it leaves the credential, without identifiers; the account stays otherwise.
    const bad = await call(`${kratos.adminUrl}/admin/identities/${ownerId}/credentials/oidc`, {
      method: 'DELETE',
    });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.reason, 'You must provide an identifier to delete this credential.');
    const removed = await call(
      `${kratos.adminUrl}/admin/identities/${ownerId}/credentials/oidc?identifier=${encodeURIComponent(`sso:${sub}`)}`,
      { method: 'DELETE' },
    );
    assert.equal(removed.status, 204);
    const after = await adminIdentity(ownerId);
    assert.equal(after.credentials.oidc?.type, 'oidc');
    assert.deepEqual(after.credentials.oidc?.identifiers, []);
    assert.equal(after.credentials.oidc?.config, undefined);
    const gone = await call(
      `${kratos.adminUrl}/admin/identities/${ownerId}/credentials/oidc?identifier=${encodeURIComponent(`sso:${sub}`)}`,
      { method: 'DELETE' },
    );
    assert.equal(gone.status, 404);
    const unlinked = await socialSignIn({ sub, email, email_verified: true });
    assert.equal(unlinked.landed.searchParams.get('code'), null);
    assert.match(unlinked.landed.searchParams.get('flow') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('refuses to link to an account that does not hold the duplicate e-mail', async () => {
    const email = `owner-${randomUUID()}@example.com`;
    await createOwner(email);
    const otherEmail = `other-${randomUUID()}@example.com`;
    const otherId = await createOwner(otherEmail);
    const { landed } = await socialSignIn({ sub: randomUUID(), email, email_verified: true });
    const flowId = landed.searchParams.get('flow') ?? '';
    const res = await call(`${kratos.publicUrl}/self-service/login?flow=${flowId}`, {
      method: 'POST',
      json: { method: 'password', identifier: otherEmail, password: PASSWORD },
    });
    assert.equal(res.status, 400);
    assert.deepEqual(res.body.ui.messages, [
      { id: 4010009, text: 'Linked credentials do not match.', type: 'error', context: {} },
    ]);
    assert.equal((await adminIdentity(otherId)).credentials.oidc, undefined);
  });

  it('links on a sign-in by e-mailed code on the linking flow too', async () => {
    const email = `owner-${randomUUID()}@example.com`;
    const ownerId = await createOwner(email);
    const sub = randomUUID();
    const { landed } = await socialSignIn({ sub, email, email_verified: true });
    const flowId = landed.searchParams.get('flow') ?? '';
    const url = `${kratos.publicUrl}/self-service/login?flow=${flowId}`;
    const sent = await call(url, { method: 'POST', json: { method: 'code', identifier: email } });
    assert.equal(sent.status, 400);
    const mail = kratos.state.courier.filter((m) => m.recipient === email).at(-1);
    const code = /\d{6}/.exec(mail?.body ?? '')?.[0];
    assert.ok(code, 'no login code was sent');
    // Kratos answers `continue_with: null` after a code sign-in, which its document does not allow.
    const done = await call(url, {
      method: 'POST',
      json: { method: 'code', identifier: email, code },
      unchecked: true,
    });
    assert.equal(done.status, 200, JSON.stringify(done.body));
    assert.deepEqual(
      done.body.session.authentication_methods.map((m: { method: string }) => m.method),
      ['code', 'oidc'],
    );
    assert.deepEqual((await adminIdentity(ownerId)).credentials.oidc?.identifiers, [`sso:${sub}`]);
  });

  it('sends a callback with a missing or forged state to the error page', async () => {
    const callback = `${kratos.publicUrl}/self-service/methods/oidc/callback/sso`;
    for (const query of ['?code=abc', '?code=abc&state=forged']) {
      const res = await fetch(`${callback}${query}`, { redirect: 'manual' });
      assert.equal(res.status, 303);
      const location = new URL(res.headers.get('location') ?? '');
      assert.equal(`${location.origin}${location.pathname}`, 'http://localhost:3000/error');
      const id = location.searchParams.get('id') ?? '';
      assert.match(id, /^[0-9a-f-]{36}$/);
      const error = await call(`${kratos.publicUrl}/self-service/errors?id=${id}`);
      assert.equal(error.status, 200);
      assert.equal(error.body.error.code, 400);
      assert.match(error.body.error.reason as string, /state/);
    }
  });

  it('signs up and signs in through a registration flow as well', async () => {
    const email = `register-${randomUUID()}@example.com`;
    const sub = randomUUID();
    const viaRegistration = async () => {
      provider.signInAs({ sub, email, email_verified: true });
      const started = await call(
        `${kratos.publicUrl}/self-service/registration/api?return_session_token_exchange_code=true&return_to=${encodeURIComponent(RETURN_TO)}`,
      );
      assert.equal(started.status, 200);
      const flow = started.body as Flow;
      assert.match(flow.session_token_exchange_code ?? '', /^[A-Za-z0-9]{64}$/);
      const button = flow.ui.nodes.find((n) => n.group === 'oidc');
      assert.deepEqual(button?.meta.label, {
        id: 1040002,
        text: `Sign up with ${LABEL}`,
        type: 'info',
        context: { provider: LABEL, provider_id: 'sso' },
      });
      const submitted = await call(`${kratos.publicUrl}/self-service/registration?flow=${flow.id}`, {
        method: 'POST',
        json: { method: 'oidc', provider: 'sso' },
      });
      assert.equal(submitted.status, 422);
      const landed = await followBrowserRedirects(submitted.body.redirect_browser_to as string, RETURN_TO);
      const res = await exchange(
        flow.session_token_exchange_code ?? '',
        landed.searchParams.get('code') ?? '',
      );
      assert.equal(res.status, 200);
      return res.body.session as { id: string; identity: { id: string; traits: { email: string } } };
    };
    const first = await viaRegistration();
    assert.equal(first.identity.traits.email, email);
    // The provider account is known now: a registration flow signs it in to the same identity.
    const second = await viaRegistration();
    assert.equal(second.identity.id, first.identity.id);
    assert.notEqual(second.id, first.id);
  });

  it('binds a flow without an exchange code to the continuity cookie of its submitter', async () => {
    provider.signInAs({ sub: randomUUID(), email: `x-${randomUUID()}@example.com`, email_verified: true });
    const flow = (await call(`${kratos.publicUrl}/self-service/login/api`)).body as Flow;
    assert.equal(flow.session_token_exchange_code, undefined);
    const submitted = await submitOidc(flow.id);
    assert.equal(submitted.status, 422);
    assert.match(submitted.headers.get('set-cookie') ?? '', /^ory_kratos_continuity=/);
    const callback = await followBrowserRedirects(
      submitted.body.redirect_browser_to as string,
      `${kratos.publicUrl}/self-service/methods/oidc/callback/sso`,
    );
    const res = await call(callback.href);
    assert.equal(res.status, 400);
    assert.equal(
      res.body.error.reason,
      "The browser does not contain the necessary cookie to resume the session. This is a security violation and was blocked. Please clear your browser's cookies and cache and try again.",
    );
  });
});
