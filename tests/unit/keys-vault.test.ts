import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { register } from 'prom-client';
import { loadConfig } from '../../gateway/src/config.js';
import { AppError } from '../../gateway/src/errors/app-error.js';
import { createKeyService } from '../../gateway/src/keys/create-key-service.js';
import type { KeyService } from '../../gateway/src/keys/key-service.js';
import { createVaultClient } from '../../gateway/src/keys/vault-client.js';
import { createVaultKeyService } from '../../gateway/src/keys/vault-key-service.js';
import { startVaultDouble, type VaultDouble } from '../doubles/vault/index.js';

const rejectsWith = (promise: Promise<unknown>, code: string, status?: number) =>
  assert.rejects(promise, (error: { code?: string; status?: number }) => {
    assert.equal(error.code, code);
    if (status) assert.equal(error.status, status);
    return true;
  });

describe('Vault transit key service', () => {
  let vault: VaultDouble;
  let keys: KeyService;

  before(async () => {
    vault = await startVaultDouble();
    const client = createVaultClient({ addr: vault.url, auth: { token: vault.rootToken }, timeoutMs: 300 });
    keys = createVaultKeyService({ client, mount: 'transit', keyName: 'gateway-files' });
    await keys.ensureKey();
  });
  beforeEach(() => {
    vault.unseal();
    vault.setStandby(false);
    vault.setDown(false);
  });
  after(() => vault.close());

  it('creates a derived aes256-gcm96 key on first start', () => {
    const key = vault.transit.get('gateway-files');
    assert.equal(key.derived, true);
    assert.equal(key.type, 'aes256-gcm96');
  });

  it('gets data keys from transit that only the same user context unwraps', async () => {
    const dataKey = await keys.createDataKey('user-a');
    assert.match(dataKey.wrapped, /^vault:v1:/);
    assert.equal(dataKey.plaintext.length, 32);
    assert.deepEqual(await keys.unwrapDataKey('user-a', dataKey.wrapped), dataKey.plaintext);
    await rejectsWith(keys.unwrapDataKey('user-b', dataKey.wrapped), 'decryption_failed');
  });

  it('rotates, rewraps in a batch and enforces the minimum decryption version', async () => {
    const first = await keys.createDataKey('user-a');
    const second = await keys.createDataKey('user-b');
    const { latestVersion } = await keys.rotate();
    const results = await keys.rewrap([
      { ownerId: 'user-a', wrapped: first.wrapped },
      { ownerId: 'user-b', wrapped: second.wrapped },
    ]);
    assert.deepEqual(
      results.map((r) => r.ok && r.keyVersion),
      [latestVersion, latestVersion],
    );
    await keys.setMinDecryptionVersion(latestVersion);
    await rejectsWith(keys.unwrapDataKey('user-a', first.wrapped), 'decryption_failed');
    const rewrapped = results[0];
    assert.ok(rewrapped?.ok);
    assert.deepEqual(await keys.unwrapDataKey('user-a', rewrapped.wrapped), first.plaintext);
    const status = await keys.status();
    assert.equal(status.minDecryptionVersion, latestVersion);
    assert.equal(status.healthy, true);
  });

  it('reports per-item rewrap failures', async () => {
    const good = await keys.createDataKey('user-a');
    const results = await keys.rewrap([
      { ownerId: 'user-a', wrapped: good.wrapped },
      { ownerId: 'user-z', wrapped: good.wrapped },
    ]);
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, false],
    );
  });

  it('refuses a backup the key does not allow, then backs up, survives destruction and restores', async () => {
    await rejectsWith(keys.backup(), 'keys_error', 502);
    await vault.transit.configure('gateway-files', { exportable: true, allow_plaintext_backup: true });
    const dataKey = await keys.createDataKey('user-c');
    const backup = await keys.backup();
    await rejectsWith(keys.restore(backup, {}), 'keys_error');
    await keys.restore(backup, { name: 'gateway-files-check' });
    assert.deepEqual(
      await keys.forKey('gateway-files-check').unwrapDataKey('user-c', dataKey.wrapped),
      dataKey.plaintext,
    );
    vault.transit.configure('gateway-files', { deletion_allowed: true });
    vault.transit.delete('gateway-files');
    await assert.rejects(keys.unwrapDataKey('user-c', dataKey.wrapped));
    await keys.restore(backup, {});
    assert.deepEqual(await keys.unwrapDataKey('user-c', dataKey.wrapped), dataKey.plaintext);
  });

  it('answers 503 keys_unavailable while Vault is sealed, standby, down or too slow', async () => {
    vault.seal();
    await rejectsWith(keys.createDataKey('user-a'), 'keys_unavailable', 503);
    assert.deepEqual(await keys.health(), { ok: false, detail: 'vault sealed' });
    vault.unseal();
    vault.setStandby(true);
    await rejectsWith(keys.createDataKey('user-a'), 'keys_unavailable', 503);
    vault.setStandby(false);
    vault.setDown(true, 'close');
    await rejectsWith(keys.createDataKey('user-a'), 'keys_unavailable', 503);
    vault.setDown(true, 'hang');
    await rejectsWith(keys.createDataKey('user-a'), 'keys_unavailable', 503);
    vault.setDown(false);
    assert.equal((await keys.createDataKey('user-a')).plaintext.length, 32);
  });

  it('never puts the token in the error it raises', async () => {
    vault.seal();
    const error = await keys.createDataKey('user-a').catch((e: Error) => e);
    assert.ok(error instanceof Error);
    const text = `${error.message} ${String((error as Error & { cause?: Error }).cause?.message)}`;
    assert.ok(!text.includes(vault.rootToken));
  });
});

describe('Vault AppRole authentication', () => {
  let vault: VaultDouble;
  let clock = Date.now();

  before(async () => {
    vault = await startVaultDouble({ now: () => clock });
    vault.addPolicy('gateway', [
      { path: 'transit/keys/gateway-files', capabilities: ['read'] },
      { path: 'transit/datakey/plaintext/gateway-files', capabilities: ['update'] },
      { path: 'transit/decrypt/gateway-files', capabilities: ['update'] },
    ]);
    vault.transit.create('gateway-files', { derived: true });
  });
  after(() => vault.close());

  const paths = () => vault.requests.map((r) => r.path);

  it('logs in, renews before expiry and logs in again once renewal stops extending', async () => {
    const role = vault.addAppRole('gateway', {
      policies: ['gateway'],
      tokenTtlSeconds: 60,
      tokenMaxTtlSeconds: 130,
    });
    const client = createVaultClient({ addr: vault.url, auth: role, timeoutMs: 1000, now: () => clock });
    const keys = createVaultKeyService({ client, mount: 'transit', keyName: 'gateway-files' });
    const dataKey = await keys.createDataKey('user-a');
    assert.deepEqual(
      paths().filter((p) => p.startsWith('/auth')),
      ['/auth/approle/login'],
    );
    clock += 45_000;
    await keys.unwrapDataKey('user-a', dataKey.wrapped);
    assert.equal(paths().filter((p) => p === '/auth/token/renew-self').length, 1);
    clock += 45_000;
    await keys.unwrapDataKey('user-a', dataKey.wrapped);
    // The second renewal is capped by the 130 s max TTL, so the client logs in afresh.
    assert.equal(paths().filter((p) => p === '/auth/token/renew-self').length, 2);
    assert.equal(paths().filter((p) => p === '/auth/approle/login').length, 2);
    clock += 45_000;
    assert.deepEqual(await keys.unwrapDataKey('user-a', dataKey.wrapped), dataKey.plaintext);
  });

  it('logs in again when its token expired while idle', async () => {
    const role = vault.addAppRole('gateway-2', {
      policies: ['gateway'],
      tokenTtlSeconds: 600,
      tokenMaxTtlSeconds: 600,
    });
    const client = createVaultClient({ addr: vault.url, auth: role, timeoutMs: 1000, now: () => clock });
    const keys = createVaultKeyService({ client, mount: 'transit', keyName: 'gateway-files' });
    const dataKey = await keys.createDataKey('user-a');
    clock += 700_000;
    assert.deepEqual(await keys.unwrapDataKey('user-a', dataKey.wrapped), dataKey.plaintext);
  });

  it('answers keys_forbidden when the policy does not grant the path', async () => {
    const role = vault.addAppRole('gateway-3', {
      policies: ['gateway'],
      tokenTtlSeconds: 600,
      tokenMaxTtlSeconds: 600,
    });
    const client = createVaultClient({ addr: vault.url, auth: role, timeoutMs: 1000, now: () => clock });
    const keys = createVaultKeyService({ client, mount: 'transit', keyName: 'gateway-files' });
    await rejectsWith(keys.rotate(), 'keys_forbidden', 502);
  });

  it('answers 503 keys_unavailable when Vault refuses the AppRole credentials', async () => {
    const client = createVaultClient({
      addr: vault.url,
      auth: { roleId: 'x', secretId: 'y' },
      timeoutMs: 1000,
    });
    const keys = createVaultKeyService({ client, mount: 'transit', keyName: 'gateway-files' });
    await rejectsWith(keys.createDataKey('user-a'), 'keys_unavailable', 503);
  });
});

describe('AppRole secret id from a file (rotated by vault/init.sh)', () => {
  let vault: VaultDouble;
  let clock = Date.now();
  let dir: string;
  let roleCount = 0;

  before(async () => {
    vault = await startVaultDouble({ now: () => clock });
    vault.addPolicy('gateway', [
      { path: 'transit/keys/gateway-files', capabilities: ['read'] },
      { path: 'transit/datakey/plaintext/gateway-files', capabilities: ['update'] },
      { path: 'transit/decrypt/gateway-files', capabilities: ['update'] },
    ]);
    vault.transit.create('gateway-files', { derived: true });
    dir = mkdtempSync(path.join(tmpdir(), 'vault-secret-id-'));
  });
  after(async () => {
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh AppRole, its secret id in a file, and a key service logging in with the file. */
  function setUp() {
    const name = `rotating-${++roleCount}`;
    const role = vault.addAppRole(name, {
      policies: ['gateway'],
      tokenTtlSeconds: 600,
      tokenMaxTtlSeconds: 3600,
    });
    const file = path.join(dir, `${name}-secret-id`);
    writeFileSync(file, `${role.secretId}\n`, { mode: 0o400 });
    const client = createVaultClient({
      addr: vault.url,
      auth: { roleId: role.roleId, secretIdFile: file },
      timeoutMs: 1000,
      now: () => clock,
    });
    const keys = createVaultKeyService({ client, mount: 'transit', keyName: 'gateway-files' });
    return { name, role, file, keys };
  }

  /** Replaces the file as init.sh does: a new file renamed over the old one. */
  function rotate(file: string, secretId: string) {
    writeFileSync(`${file}.new`, `${secretId}\n`, { mode: 0o400 });
    renameSync(`${file}.new`, file);
  }

  const logins = () => vault.requests.filter((r) => r.path === '/auth/approle/login');
  const lastLoginSecretId = () => (logins().at(-1)?.body as { secret_id?: string }).secret_id;

  it('logs in with the new secret id once the token was revoked, and once it expired', async () => {
    const { name, role, file, keys } = setUp();
    const dataKey = await keys.createDataKey('user-a');
    assert.equal(lastLoginSecretId(), role.secretId);

    const second = vault.issueSecretId(name);
    rotate(file, second);
    vault.destroySecretId(name, role.secretId);
    vault.revokeRoleTokens(name);
    assert.deepEqual(await keys.unwrapDataKey('user-a', dataKey.wrapped), dataKey.plaintext);
    assert.equal(lastLoginSecretId(), second);

    const third = vault.issueSecretId(name);
    rotate(file, third);
    vault.destroySecretId(name, second);
    clock += 700_000; // the idle token expired
    assert.deepEqual(await keys.unwrapDataKey('user-a', dataKey.wrapped), dataKey.plaintext);
    assert.equal(lastLoginSecretId(), third);
  });

  it('answers 503 keys_unavailable while the file holds a refused secret id, and recovers once it holds a valid one', async () => {
    const { name, role, file, keys } = setUp();
    await keys.createDataKey('user-a');
    rotate(file, 'a-destroyed-secret-id');
    vault.revokeRoleTokens(name);
    const error = await keys.createDataKey('user-a').catch((e: AppError) => e);
    assert.ok(error instanceof AppError);
    assert.equal(error.code, 'keys_unavailable');
    assert.equal(error.status, 503);
    assert.match(String((error.cause as Error).message), /AppRole login refused/);
    assert.ok(
      !`${error.message} ${String((error.cause as Error).message)}`.includes('a-destroyed-secret-id'),
    );
    // The same refused id is not sent again at once: no login storm against Vault.
    const before = logins().length;
    await rejectsWith(keys.createDataKey('user-a'), 'keys_unavailable', 503);
    assert.equal(logins().length, before);
    // A valid id in the file works at the very next request.
    rotate(file, role.secretId);
    assert.equal((await keys.createDataKey('user-a')).plaintext.length, 32);
    assert.equal(lastLoginSecretId(), role.secretId);
  });

  it('answers 503 keys_unavailable while the file is missing or empty', async () => {
    const { name, role, file, keys } = setUp();
    await keys.createDataKey('user-a');
    vault.revokeRoleTokens(name);
    rmSync(file);
    await rejectsWith(keys.createDataKey('user-a'), 'keys_unavailable', 503);
    writeFileSync(file, '\n');
    await rejectsWith(keys.createDataKey('user-a'), 'keys_unavailable', 503);
    rotate(file, role.secretId);
    assert.equal((await keys.createDataKey('user-a')).plaintext.length, 32);
  });

  it('counts logins by outcome and exposes when the secret id in use was written', async () => {
    const { name, role, file, keys } = setUp();
    const value = async (metric: string, labels: Record<string, string> = {}) =>
      (await register.getSingleMetric(metric)?.get())?.values.find((v) =>
        Object.entries(labels).every(([k, l]) => v.labels[k] === l),
      )?.value ?? 0;
    const written = new Date('2026-01-02T03:04:05Z');
    utimesSync(file, written, written);
    const [ok, refused] = [
      await value('gateway_vault_logins_total', { outcome: 'ok' }),
      await value('gateway_vault_logins_total', { outcome: 'refused' }),
    ];
    await keys.createDataKey('user-a');
    assert.equal(await value('gateway_vault_logins_total', { outcome: 'ok' }), ok + 1);
    assert.equal(await value('gateway_vault_secret_id_written_timestamp_seconds'), written.getTime() / 1000);
    rotate(file, 'not-valid-either');
    vault.revokeRoleTokens(name);
    await rejectsWith(keys.createDataKey('user-a'), 'keys_unavailable', 503);
    assert.equal(await value('gateway_vault_logins_total', { outcome: 'refused' }), refused + 1);
    rotate(file, role.secretId);
  });

  it('reads the file at every login when configured with VAULT_SECRET_ID_FILE', async () => {
    const { name, role, file } = setUp();
    const config = loadConfig({
      KEYS_BACKEND: 'vault',
      VAULT_ADDR: vault.url,
      VAULT_ROLE_ID: role.roleId,
      VAULT_SECRET_ID_FILE: file,
    });
    assert.equal(config.VAULT_SECRET_ID_FILE, file);
    const keys = await createKeyService(config);
    const dataKey = await keys.createDataKey('user-b');
    const next = vault.issueSecretId(name);
    rotate(file, next);
    vault.destroySecretId(name, role.secretId);
    vault.revokeRoleTokens(name);
    assert.deepEqual(await keys.unwrapDataKey('user-b', dataKey.wrapped), dataKey.plaintext);
    assert.equal(lastLoginSecretId(), next);
  });
});
