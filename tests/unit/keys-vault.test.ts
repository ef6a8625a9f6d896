import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
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

  it('fails with keys_error when the AppRole credentials are wrong', async () => {
    const client = createVaultClient({
      addr: vault.url,
      auth: { roleId: 'x', secretId: 'y' },
      timeoutMs: 1000,
    });
    const keys = createVaultKeyService({ client, mount: 'transit', keyName: 'gateway-files' });
    await rejectsWith(keys.createDataKey('user-a'), 'keys_error', 502);
  });
});
