import assert from 'node:assert/strict';
import { dirname, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import vault from 'node-vault';
import { startVaultDouble, type Route, type VaultDouble } from '../doubles/vault/index.js';
import { createOpenApiRequestValidator, type OpenApiRequestValidator } from './openapi-request-validator.js';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const specPath = resolve(repoRoot, 'tests/reference/vault-api/openapi-transit-subset.json');

/** The OpenAPI method of a double route: Vault documents LIST as GET on the directory path. */
const specMethod = (route: Route) => (route.method === 'LIST' ? 'GET' : route.method);
/** A concrete path for a route template, for the double mounted at `transit`. */
const concrete = (template: string) =>
  template
    .replace('{transit_mount_path}', 'transit')
    .replace('{approle_mount_path}', 'approle')
    .replace('{plaintext}', 'plaintext')
    .replace(/\{\w+\}/g, 'contract-key');

const WRONG_VALUE: Record<string, unknown> = {
  string: { not: 'a string' },
  integer: 'not-a-number',
  boolean: 'maybe',
  array: 'not-an-array',
  duration: 'soon',
};

async function call(double: VaultDouble, method: string, path: string, body?: unknown) {
  const response = await fetch(`${double.url}/v1${path}`, {
    method,
    headers: { 'x-vault-token': double.rootToken, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

describe('Vault double against the Vault transit OpenAPI document', () => {
  let double: VaultDouble;
  let spec: OpenApiRequestValidator;

  before(async () => {
    double = await startVaultDouble();
    spec = createOpenApiRequestValidator(specPath);
  });
  after(() => double.close());

  it('serves only operations the document describes', () => {
    for (const route of double.routes) {
      const operation = spec.findOperation(specMethod(route), concrete(route.template));
      assert.ok(operation, `${route.method} ${route.template} is not in the document`);
      assert.equal(operation.template, route.template);
    }
  });

  it('decodes only body fields the document declares, with the declared types', () => {
    for (const route of double.routes) {
      const operation = spec.findOperation(specMethod(route), concrete(route.template));
      const properties = (operation?.bodySchema?.properties ?? {}) as Record<
        string,
        { type: string; format?: string }
      >;
      for (const [field, type] of Object.entries(route.fields ?? {})) {
        const declared = properties[field];
        assert.ok(declared, `${route.template} decodes ${field}, which the document does not declare`);
        const expected = type === 'duration' ? 'string/duration' : type;
        const actual = declared.format === 'duration' ? 'string/duration' : declared.type;
        assert.equal(actual, expected, `${route.template} field ${field}`);
      }
    }
  });

  it('receives only schema-valid requests from a node-vault client running the gateway operations', async () => {
    double.requests.length = 0;
    const client = vault({ endpoint: double.url, token: double.rootToken });
    const context = Buffer.from('user-1').toString('base64');
    await client.write('transit/keys/contract', { type: 'aes256-gcm96', derived: true, exportable: true });
    const dataKey = await client.write('transit/datakey/plaintext/contract', { context, bits: 256 });
    await client.write('transit/decrypt/contract', { ciphertext: dataKey.data.ciphertext, context });
    await client.write('transit/keys/contract/rotate', {});
    await client.write('transit/rewrap/contract', {
      batch_input: [{ ciphertext: dataKey.data.ciphertext, context }],
    });
    await client.write('transit/keys/contract/config', {
      allow_plaintext_backup: true,
      min_decryption_version: 1,
    });
    const backup = await client.read('transit/backup/contract');
    await client.write('transit/restore/contract-copy', { backup: backup.data.backup });
    await client.write('transit/restore', { backup: backup.data.backup, force: true });
    const role = double.addAppRole('contract', {
      policies: [],
      tokenTtlSeconds: 60,
      tokenMaxTtlSeconds: 120,
    });
    const login = vault({ endpoint: double.url });
    await login.approleLogin({ role_id: role.roleId, secret_id: role.secretId });
    await login.tokenLookupSelf();
    await login.tokenRenewSelf({ increment: '60s' });

    assert.ok(double.requests.length >= 11);
    for (const request of double.requests) {
      const method = request.method === 'LIST' ? 'GET' : request.method;
      assert.deepEqual(
        spec.validateBody(method, request.path, request.body),
        [],
        `${method} ${request.path}`,
      );
    }
  });

  it('rejects, with a Vault error body, every field whose type contradicts the document', async () => {
    for (const route of double.routes.filter((r) => r.fields)) {
      for (const [field, type] of Object.entries(route.fields ?? {})) {
        const body = { [field]: WRONG_VALUE[type] };
        const path = concrete(route.template);
        assert.notDeepEqual(spec.validateBody(route.method, path, body), [], `the document accepts ${field}`);
        const response = await call(double, route.method, path, body);
        assert.equal(
          response.status,
          400,
          `${route.template} accepted ${field}=${JSON.stringify(body[field])}`,
        );
        assert.match(response.body.errors[0], /Field validation failed/);
      }
    }
  });

  it('rejects a POST without the body the document marks as required', async () => {
    for (const route of double.routes.filter((r) => r.method === 'POST')) {
      const path = concrete(route.template);
      assert.equal(spec.findOperation('POST', path)?.bodyRequired, true);
      const response = await call(double, 'POST', path);
      assert.equal(response.status, 400, `${route.template} accepted an empty body`);
      assert.deepEqual(response.body, { errors: ['missing request body'] });
    }
  });

  it('rejects requests missing the fields Vault needs to act', async () => {
    await call(double, 'POST', '/transit/keys/needs', {});
    const cases: [string, Record<string, unknown>, RegExp][] = [
      ['/transit/encrypt/needs', {}, /missing plaintext/],
      ['/transit/decrypt/needs', {}, /missing ciphertext/],
      ['/transit/rewrap/needs', {}, /missing ciphertext/],
      ['/transit/restore', {}, /'backup' must be supplied/],
      ['/auth/approle/login', {}, /missing role_id/],
    ];
    for (const [path, body, message] of cases) {
      const response = await call(double, 'POST', path, body);
      assert.equal(response.status, 400, path);
      assert.match(response.body.errors[0], message);
    }
  });
});

describe('Vault double transit semantics', () => {
  let double: VaultDouble;
  const context = Buffer.from('user-1').toString('base64');
  const plaintext = Buffer.from('secret data').toString('base64');

  before(async () => {
    double = await startVaultDouble();
    await call(double, 'POST', '/transit/keys/files', { derived: true });
  });
  after(() => double.close());

  it('requires a context for a derived key and binds the ciphertext to it', async () => {
    const missing = await call(double, 'POST', '/transit/encrypt/files', { plaintext });
    assert.equal(missing.status, 400);
    assert.match(missing.body.errors[0], /missing 'context' for key derivation/);
    const encrypted = await call(double, 'POST', '/transit/encrypt/files', { plaintext, context });
    assert.match(encrypted.body.data.ciphertext, /^vault:v1:/);
    const other = Buffer.from('user-2').toString('base64');
    const wrongUser = await call(double, 'POST', '/transit/decrypt/files', {
      ciphertext: encrypted.body.data.ciphertext,
      context: other,
    });
    assert.deepEqual(wrongUser, { status: 400, body: { errors: ['cipher: message authentication failed'] } });
  });

  it('detects a tampered ciphertext', async () => {
    const encrypted = await call(double, 'POST', '/transit/encrypt/files', { plaintext, context });
    const raw = Buffer.from(encrypted.body.data.ciphertext.slice('vault:v1:'.length), 'base64');
    raw[14] = (raw[14] ?? 0) ^ 1;
    const response = await call(double, 'POST', '/transit/decrypt/files', {
      ciphertext: `vault:v1:${raw.toString('base64')}`,
      context,
    });
    assert.equal(response.status, 400);
  });

  it('rotates, rewraps in batches and enforces min_decryption_version', async () => {
    const dataKey = await call(double, 'POST', '/transit/datakey/wrapped/files', { context });
    assert.equal(dataKey.body.data.plaintext, undefined);
    const original = dataKey.body.data.ciphertext as string;
    const rotated = await call(double, 'POST', '/transit/keys/files/rotate', {});
    const latest = rotated.body.data.latest_version as number;
    const rewrapped = await call(double, 'POST', '/transit/rewrap/files', {
      batch_input: [{ ciphertext: original, context }],
    });
    assert.equal(rewrapped.body.data.batch_results[0].key_version, latest);
    await call(double, 'POST', '/transit/keys/files/config', { min_decryption_version: latest });
    const old = await call(double, 'POST', '/transit/decrypt/files', { ciphertext: original, context });
    assert.match(old.body.errors[0], /disallowed by policy/);
    const fresh = await call(double, 'POST', '/transit/decrypt/files', {
      ciphertext: rewrapped.body.data.batch_results[0].ciphertext,
      context,
    });
    assert.equal(fresh.status, 200);
    const tooHigh = await call(double, 'POST', '/transit/keys/files/config', {
      min_decryption_version: latest + 1,
    });
    assert.equal(tooHigh.status, 400);
  });

  it('backs up only exportable keys that allow plaintext backup', async () => {
    const refused = await call(double, 'GET', '/transit/backup/files');
    assert.match(refused.body.errors[0], /exporting is disallowed/);
    await call(double, 'POST', '/transit/keys/files/config', { exportable: true });
    const stillRefused = await call(double, 'GET', '/transit/backup/files');
    assert.match(stillRefused.body.errors[0], /plaintext backup is disallowed/);
    await call(double, 'POST', '/transit/keys/files/config', { allow_plaintext_backup: true });
    const cannotUndo = await call(double, 'POST', '/transit/keys/files/config', { exportable: false });
    assert.equal(cannotUndo.status, 400);
    const backup = await call(double, 'GET', '/transit/backup/files');
    assert.equal(backup.status, 200);
    assert.equal(typeof backup.body.data.backup, 'string');
  });

  it('restores under a new name, refuses to overwrite unless forced, and the restored key decrypts', async () => {
    const encrypted = await call(double, 'POST', '/transit/encrypt/files', { plaintext, context });
    const backup = (await call(double, 'GET', '/transit/backup/files')).body.data.backup;
    const overwrite = await call(double, 'POST', '/transit/restore', { backup });
    assert.deepEqual(overwrite.body, { errors: ['key "files" already exists'] });
    assert.equal((await call(double, 'POST', '/transit/restore/files-copy', { backup })).status, 204);
    const copy = await call(double, 'POST', '/transit/decrypt/files-copy', {
      ciphertext: encrypted.body.data.ciphertext,
      context,
    });
    assert.equal(copy.body.data.plaintext, plaintext);
    assert.equal((await call(double, 'POST', '/transit/restore', { backup, force: true })).status, 204);
  });

  it('deletes a key only once deletion is allowed', async () => {
    await call(double, 'POST', '/transit/keys/doomed', {});
    const refused = await call(double, 'DELETE', '/transit/keys/doomed');
    assert.deepEqual(refused.body, { errors: ['deletion is not allowed for this key'] });
    await call(double, 'POST', '/transit/keys/doomed/config', { deletion_allowed: true });
    assert.equal((await call(double, 'DELETE', '/transit/keys/doomed')).status, 204);
    assert.equal((await call(double, 'GET', '/transit/keys/doomed')).status, 404);
  });
});

describe('Vault double auth, policies and health', () => {
  let double: VaultDouble;
  let clock = Date.now();

  before(async () => {
    double = await startVaultDouble({ now: () => clock });
    double.addPolicy('files', [{ path: 'transit/+/files', capabilities: ['update'] }]);
  });
  after(() => double.close());

  const login = async (role: { roleId: string; secretId: string }) => {
    const response = await fetch(`${double.url}/v1/auth/approle/login`, {
      method: 'POST',
      body: JSON.stringify({ role_id: role.roleId, secret_id: role.secretId }),
    });
    return { status: response.status, body: await response.json() };
  };
  const asToken = (token: string, method: string, path: string, body?: unknown) =>
    fetch(`${double.url}/v1${path}`, {
      method,
      headers: { 'x-vault-token': token },
      body: body === undefined ? undefined : JSON.stringify(body),
    });

  it('logs in with AppRole and renews only up to the max TTL', async () => {
    const role = double.addAppRole('gateway', {
      policies: ['files'],
      tokenTtlSeconds: 60,
      tokenMaxTtlSeconds: 100,
    });
    const { body } = await login(role);
    assert.equal(body.auth.lease_duration, 60);
    clock += 50_000;
    const renewed = await (
      await asToken(body.auth.client_token, 'POST', '/auth/token/renew-self', {})
    ).json();
    assert.equal(renewed.auth.lease_duration, 50);
    assert.ok(renewed.warnings?.length);
    clock += 51_000;
    const expired = await asToken(body.auth.client_token, 'GET', '/auth/token/lookup-self');
    assert.equal(expired.status, 403);
  });

  it('refuses a wrong secret id', async () => {
    const role = double.addAppRole('other', { policies: [], tokenTtlSeconds: 60, tokenMaxTtlSeconds: 60 });
    const response = await login({ roleId: role.roleId, secretId: 'wrong' });
    assert.deepEqual(response, { status: 400, body: { errors: ['invalid role or secret ID'] } });
  });

  it('answers 403 permission denied for a path the token policies do not grant', async () => {
    await call(double, 'POST', '/transit/keys/files', {});
    const token = double.createToken({ policies: ['files'] });
    const allowed = await asToken(token, 'POST', '/transit/encrypt/files', { plaintext: 'AA==' });
    assert.equal(allowed.status, 200);
    const denied = await asToken(token, 'GET', '/transit/keys/files');
    assert.equal(denied.status, 403);
    assert.deepEqual(await denied.json(), { errors: ['permission denied'] });
    const noToken = await fetch(`${double.url}/v1/transit/keys/files`);
    assert.equal(noToken.status, 403);
  });

  it('reports health with Vault status codes and refuses work while sealed or standby', async () => {
    const health = async (query = '') => (await fetch(`${double.url}/v1/sys/health${query}`)).status;
    assert.equal(await health(), 200);
    double.setStandby(true);
    assert.equal(await health(), 429);
    assert.equal(await health('?standbyok=true'), 200);
    assert.equal((await call(double, 'GET', '/transit/keys/files')).status, 503);
    double.setStandby(false);
    double.seal();
    assert.equal(await health(), 503);
    assert.deepEqual(await call(double, 'GET', '/transit/keys/files'), {
      status: 503,
      body: { errors: ['Vault is sealed'] },
    });
    double.unseal();
    double.setInitialized(false);
    assert.equal(await health(), 501);
    double.setInitialized(true);
  });

  it('drops connections while down and keeps its keys across stop and start', async () => {
    double.setDown(true);
    await assert.rejects(fetch(`${double.url}/v1/sys/health`));
    double.setDown(true, '503');
    assert.equal((await fetch(`${double.url}/v1/sys/health`)).status, 503);
    double.setDown(false);
    await double.stop();
    await assert.rejects(fetch(`${double.url}/v1/sys/health`));
    await double.start();
    assert.equal((await call(double, 'GET', '/transit/keys/files')).status, 200);
  });
});
