import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { registerAccount } from '../helpers/account.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, uniqueEmail } from '../helpers/http.js';
import { signUpWithPasskey } from '../helpers/passkey-flows.js';
import { SoftAuthenticator } from '../helpers/soft-authenticator.js';

/**
 * Every field of the verify bodies, broken in every way we can think of, must be a
 * client error with our error shape, never a 500.
 */

let gw: TestGateway;
before(async () => {
  gw = await startTestGateway();
});
after(async () => {
  await gw?.close();
});

type Json = Record<string, unknown>;

const garbage = () => randomBytes(64).toString('base64url');
const notBase64 = '%%% not base64url %%%';

/** Values no field accepts, plus the ones each kind of field refuses. */
function mutationsFor(path: string, required: boolean): unknown[] {
  const values: unknown[] = [true, 1.5, '', notBase64, 'A'.repeat(70_000)];
  if (required) values.push(undefined, null);
  if (!path.endsWith('transports')) values.push([]);
  if (!path.endsWith('clientExtensionResults')) values.push({});
  if (/clientDataJSON|attestationObject|authenticatorData|signature|userHandle|\.id$|rawId/.test(path))
    values.push(garbage());
  if (path.endsWith('transports')) values.push(['telepathy'], 'usb', [1]);
  if (path.endsWith('publicKeyAlgorithm')) values.push('ES256');
  if (path.endsWith('clientDataJSON'))
    values.push(
      Buffer.from('[1,2]').toString('base64url'),
      Buffer.from('{"challenge":7}').toString('base64url'),
    );
  return values;
}

/** Returns a deep copy of `body` with `path` set to `value` (deleted when undefined). */
function mutate(body: Json, path: string, value: unknown): Json {
  const copy = structuredClone(body);
  const keys = path.split('.');
  let target = copy as Json;
  for (const key of keys.slice(0, -1)) target = target[key] as Json;
  const last = keys[keys.length - 1]!;
  if (value === undefined) delete target[last];
  else target[last] = value;
  return copy;
}

function assertClientError(res: { status: number; body: any }, what: string) {
  assert.ok(
    res.status >= 400 && res.status < 500,
    `${what}: status ${res.status} ${JSON.stringify(res.body)}`,
  );
  assert.equal(typeof res.body?.error?.code, 'string', `${what}: error shape`);
}

const ASSERTION_FIELDS: [string, boolean][] = [
  ['credential', true],
  ['credential.id', true],
  ['credential.rawId', true],
  ['credential.type', true],
  ['credential.authenticatorAttachment', false],
  ['credential.clientExtensionResults', false],
  ['credential.response', true],
  ['credential.response.clientDataJSON', true],
  ['credential.response.authenticatorData', true],
  ['credential.response.signature', true],
  ['credential.response.userHandle', false],
];

const REGISTRATION_FIELDS: [string, boolean][] = [
  ['credential', true],
  ['credential.id', true],
  ['credential.rawId', true],
  ['credential.type', true],
  ['credential.authenticatorAttachment', false],
  ['credential.clientExtensionResults', false],
  ['credential.response', true],
  ['credential.response.clientDataJSON', true],
  ['credential.response.attestationObject', true],
  ['credential.response.transports', false],
  ['credential.response.authenticatorData', false],
  ['credential.response.publicKeyAlgorithm', false],
  ['credential.response.publicKey', false],
  ['nickname', false],
];

/**
 * Values that are not broken for a registration: the response's authenticatorData and
 * publicKey are informational copies (the attestation object is what is verified), and
 * a nickname is free text.
 */
const registrationAccepts = (path: string, value: unknown) =>
  typeof value === 'string' &&
  ((path === 'nickname' && value.trim().length > 0 && value.length <= 64) ||
    (/authenticatorData|publicKey$/.test(path) && /^[A-Za-z0-9_-]{1,16000}$/.test(value)));

describe('POST /api/auth/login/passkey with malformed bodies', () => {
  let authenticator: SoftAuthenticator;
  before(async () => {
    ({ authenticator } = await signUpWithPasskey(gw));
  });

  /** A valid body for a fresh challenge of a fresh browser. */
  async function validLogin() {
    const browser = new Browser(gw.auth);
    const options = await browser.post('/login/passkey/options', {});
    return { browser, body: { credential: authenticator.authenticate(options.body) } as Json };
  }

  for (const [path, required] of ASSERTION_FIELDS) {
    it(`answers 4xx for every broken ${path}`, async () => {
      for (const value of mutationsFor(path, required)) {
        const { browser, body } = await validLogin();
        const res = await browser.post('/login/passkey', mutate(body, path, value));
        assertClientError(res, `${path} = ${JSON.stringify(value)?.slice(0, 40)}`);
      }
    });
  }

  it('answers 400 for bodies that are not the expected object', async () => {
    for (const body of [[], 'credential', 42, null, { credential: {} }, { credential: [], extra: 1 }]) {
      const res = await new Browser(gw.auth).post('/login/passkey', body);
      assertClientError(res, JSON.stringify(body));
    }
    const { browser, body } = await validLogin();
    assertClientError(await browser.post('/login/passkey', { ...body, extra: true }), 'unknown field');
  });

  it('accepts the unbroken body (the mutations above are the only difference)', async () => {
    const { browser, body } = await validLogin();
    assert.equal((await browser.post('/login/passkey', body)).status, 200);
  });
});

describe('POST /api/auth/passkeys with malformed bodies', () => {
  let browser: Browser;
  const authenticator = new SoftAuthenticator();
  before(async () => {
    browser = new Browser(gw.auth);
    assert.equal((await registerAccount(gw, browser, { email: uniqueEmail('malformed') })).status, 201);
  });

  async function validRegistration() {
    const options = await browser.post('/passkeys/options', {});
    return { credential: authenticator.register(options.body), nickname: 'Laptop' } as Json;
  }

  for (const [path, required] of REGISTRATION_FIELDS) {
    it(`answers 4xx for every broken ${path}`, async () => {
      for (const value of mutationsFor(path, required)) {
        if (registrationAccepts(path, value)) continue;
        const res = await browser.post('/passkeys', mutate(await validRegistration(), path, value));
        assertClientError(res, `${path} = ${JSON.stringify(value)?.slice(0, 40)}`);
      }
    });
  }

  it('accepts the unbroken body', async () => {
    assert.equal((await browser.post('/passkeys', await validRegistration())).status, 201);
  });
});

describe('options endpoints with malformed bodies', () => {
  it('answers 400 for a malformed identifier or unknown fields', async () => {
    for (const body of [
      { identifier: 42 },
      { identifier: 'x' },
      { identifier: 'a'.repeat(400) },
      { other: 1 },
    ]) {
      const res = await new Browser(gw.auth).post('/login/passkey/options', body);
      assert.equal(res.status, 400, JSON.stringify(body));
    }
  });

  it('answers 415 for a body that is not JSON', async () => {
    const res = await new Browser(gw.auth).request('POST', '/login/passkey/options', {
      body: 'identifier=x',
      headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(res.status, 415);
  });
});
