import assert from 'node:assert/strict';
import { Secret, TOTP } from 'otpauth';
import type { KratosDouble } from '../doubles/kratos/index.js';
import type { KratosOptions } from './kratos-target.js';
import { startTestGateway, type TestGateway, type TestGatewayOptions } from './gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail, type ApiResponse } from './http.js';

export { WEBHOOK_KEY } from './http.js';

/** These suites make many attempts from one address; the rate limits have their own tests. */
const GENEROUS_RATE_LIMITS = {
  RATE_LIMIT_LOGIN: '1000/60',
  RATE_LIMIT_RECOVERY: '1000/60',
  RATE_LIMIT_VERIFICATION: '1000/60',
  RATE_LIMIT_SECOND_FACTOR: '1000/60',
};

/** A clock both the gateway and the Kratos double read, so tests can let time pass. */
export function sharedClock(start = Date.now()) {
  let now = start;
  return {
    now: () => now,
    date: () => new Date(now),
    advance(seconds: number) {
      now += seconds * 1000;
    },
  };
}

/** A test gateway for the account suites: generous rate limits on top of startTestGateway. */
export function startAccountGateway(
  options: {
    env?: Record<string, string>;
    kratosOptions?: KratosOptions;
    overrides?: TestGatewayOptions['overrides'];
    sms?: boolean;
  } = {},
): Promise<TestGateway> {
  return startTestGateway({
    sms: options.sms,
    kratosOptions: options.kratosOptions,
    env: { ...GENEROUS_RATE_LIMITS, ...options.env },
    overrides: options.overrides,
  });
}

/**
 * Creates an identity with a password through Kratos' admin API (the double's or the real one):
 * optionally with roles (`metadata_public.roles`), admin metadata, or its address already verified.
 */
export async function seedIdentity(
  kratos: Pick<KratosDouble, 'adminUrl'>,
  input: {
    email?: string;
    password?: string;
    roles?: string[];
    metadataAdmin?: Record<string, unknown>;
    verified?: boolean;
    /** A phone number (E.164) for the phone trait, verified when `phoneVerified`. */
    phone?: string;
    phoneVerified?: boolean;
  } = {},
): Promise<{ id: string; email: string; password: string }> {
  const email = input.email ?? uniqueEmail();
  const password = input.password ?? STRONG_PASSWORD;
  const res = await fetch(`${kratos.adminUrl}/admin/identities`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({
      schema_id: 'default',
      traits: { email, ...(input.phone ? { phone: input.phone } : {}) },
      credentials: { password: { config: { password } } },
      ...(input.roles ? { metadata_public: { roles: input.roles } } : {}),
      ...(input.metadataAdmin ? { metadata_admin: input.metadataAdmin } : {}),
      ...(input.verified || input.phoneVerified
        ? {
            verifiable_addresses: [
              ...(input.verified
                ? [{ value: email, verified: true, via: 'email', status: 'completed' }]
                : []),
              ...(input.phoneVerified && input.phone
                ? [{ value: input.phone, verified: true, via: 'sms', status: 'completed' }]
                : []),
            ],
          }
        : {}),
    }),
  });
  assert.equal(res.status, 201, await res.clone().text());
  const body = (await res.json()) as { id: string };
  return { id: body.id, email, password };
}

/** Reads an identity through the double's admin API. */
export async function adminIdentity(kratos: KratosDouble, id: string): Promise<any> {
  const res = await fetch(`${kratos.adminUrl}/admin/identities/${id}?include_credential=totp`);
  assert.equal(res.status, 200);
  return res.json();
}

/** The code of the newest e-mail Kratos' courier sent to `email`, read through the admin courier API. */
export async function latestCode(kratos: KratosDouble, email: string): Promise<string | undefined> {
  const res = await fetch(`${kratos.adminUrl}/admin/courier/messages?recipient=${encodeURIComponent(email)}`);
  assert.equal(res.status, 200);
  const messages = (await res.json()) as { body: string }[];
  return messages[0]?.body.match(/\b(\d{6})\b/)?.[1];
}

/** How many e-mails the courier sent to `email`. */
export async function mailCount(kratos: KratosDouble, email: string): Promise<number> {
  const res = await fetch(`${kratos.adminUrl}/admin/courier/messages?recipient=${encodeURIComponent(email)}`);
  return ((await res.json()) as unknown[]).length;
}

/** The current TOTP code for a base32 secret (what an authenticator app shows). */
export function totpCode(secret: string, at = Date.now()): string {
  return new TOTP({ algorithm: 'SHA1', digits: 6, period: 30, secret: Secret.fromBase32(secret) }).generate({
    timestamp: at,
  });
}

/** A browser signed in with a password at the gateway. */
export async function signedIn(gw: TestGateway, email: string, password = STRONG_PASSWORD): Promise<Browser> {
  const browser = new Browser(gw.auth);
  const res = await browser.post('/login/password', { identifier: email, password });
  assert.ok(res.status === 200 || res.status === 403, JSON.stringify(res.body));
  return browser;
}

/** Enrolls TOTP for a signed-in browser and answers the secret. */
export async function enrollTotp(browser: Browser, at = Date.now()): Promise<string> {
  const started = await browser.post('/mfa/totp');
  assert.equal(started.status, 200, JSON.stringify(started.body));
  const confirmed = await browser.post('/mfa/totp/confirm', { code: totpCode(started.body.secret, at) });
  assert.equal(confirmed.status, 200, JSON.stringify(confirmed.body));
  return started.body.secret as string;
}

/** Signs in at Kratos directly (a browser login flow) and answers the ory_kratos_session cookie value. */
export async function kratosBrowserSession(
  kratos: KratosDouble,
  email: string,
  password = STRONG_PASSWORD,
): Promise<string> {
  const started = await fetch(`${kratos.publicUrl}/self-service/login/browser`, {
    headers: { Accept: 'application/json' },
  });
  assert.equal(started.status, 200);
  const csrfCookie = started.headers.getSetCookie()[0]!.split(';')[0]!;
  const flow = (await started.json()) as {
    id: string;
    ui: { nodes: { attributes: { name?: string; value?: string } }[] };
  };
  const csrfToken = flow.ui.nodes.find((n) => n.attributes.name === 'csrf_token')?.attributes.value;
  const done = await fetch(`${kratos.publicUrl}/self-service/login?flow=${flow.id}`, {
    method: 'POST',
    headers: { Accept: 'application/json', 'Content-Type': 'application/json', Cookie: csrfCookie },
    body: JSON.stringify({ method: 'password', identifier: email, password, csrf_token: csrfToken }),
  });
  assert.equal(done.status, 200, await done.clone().text());
  const cookie = done.headers.getSetCookie().find((c) => c.startsWith('ory_kratos_session='));
  assert.ok(cookie);
  return cookie.split(';')[0]!.slice('ory_kratos_session='.length);
}

/** The six-digit sign-up code of the newest mail in `raw`, if it is a code mail. */
export function signUpCode(raw: string): string | undefined {
  return /code to finish signing up: (\d{6})/.exec(raw)?.[1];
}

/**
 * Signs up through both steps of the verification-first sign-up, as a person does: POST
 * /register (202), the code from the mail the gateway sent to the sink, then POST
 * /register/confirm. Answers the confirmation (201 and the session on success), so callers
 * keep asserting on it as they did on the one-step /register.
 */
export async function registerAccount(
  gw: TestGateway,
  browser: Browser,
  input: { email: string; password?: string; traits?: Record<string, unknown> },
): Promise<ApiResponse> {
  assert.ok(gw.mail, 'registerAccount needs the mail sink of the test gateway');
  // The browser may be rooted at /api/auth (gw.auth) or higher up (/api).
  assert.ok(gw.auth.startsWith(browser.baseUrl), `browser at ${browser.baseUrl} cannot reach ${gw.auth}`);
  const prefix = gw.auth.slice(browser.baseUrl.length);
  const address = input.email.trim().toLowerCase();
  const seen = gw.mail.to(address).length;
  const started = await browser.post(`${prefix}/register`, input);
  assert.equal(started.status, 202, JSON.stringify(started.body));
  const code = signUpCode((await gw.mail.waitFor(address, seen)).raw);
  assert.ok(code, `the sign-up mail to ${address} carries no code (is the address taken?)`);
  return browser.post(`${prefix}/register/confirm`, { email: input.email, code });
}

/** An identity with TOTP enrolled, and a fresh browser whose password login now owes the second factor. */
export async function withTotp(gw: TestGateway) {
  const identity = await seedIdentity(gw.kratos);
  const secret = await enrollTotp(await signedIn(gw, identity.email));
  const browser = new Browser(gw.auth);
  const login = await browser.post('/login/password', {
    identifier: identity.email,
    password: identity.password,
  });
  return { ...identity, secret, browser, login };
}
