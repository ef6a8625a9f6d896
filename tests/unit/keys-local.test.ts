import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createKeyService } from '../../gateway/src/keys/create-key-service.js';
import type { KeyService } from '../../gateway/src/keys/key-service.js';
import { createKeyringStore } from '../../gateway/src/keys/keyring-store.js';
import { createLocalKeyService } from '../../gateway/src/keys/local-keyring.js';

const rejectsWith = (promise: Promise<unknown>, code: string) =>
  assert.rejects(promise, (error: { code?: string }) => error.code === code);

describe('local keyring key service', () => {
  let dir: string;
  let keys: KeyService;
  const masterKey = randomBytes(32);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keyring-'));
    keys = createLocalKeyService({ masterKey, store: createKeyringStore(dir), keyName: 'files' });
    await keys.ensureKey();
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('wraps a fresh data key that only its owner can unwrap', async () => {
    const dataKey = await keys.createDataKey('user-a');
    assert.equal(dataKey.plaintext.length, 32);
    assert.match(dataKey.wrapped, /^local:v1:/);
    assert.deepEqual(await keys.unwrapDataKey('user-a', dataKey.wrapped), dataKey.plaintext);
    await rejectsWith(keys.unwrapDataKey('user-b', dataKey.wrapped), 'decryption_failed');
  });

  it('detects a tampered wrapped key', async () => {
    const { wrapped } = await keys.createDataKey('user-a');
    const body = Buffer.from(wrapped.slice('local:v1:'.length), 'base64');
    body[20] = (body[20] ?? 0) ^ 0x40;
    await rejectsWith(
      keys.unwrapDataKey('user-a', `local:v1:${body.toString('base64')}`),
      'decryption_failed',
    );
  });

  it('rotates, rewraps to the latest version and then refuses versions below the minimum', async () => {
    const old = await keys.createDataKey('user-a');
    const { latestVersion } = await keys.rotate();
    assert.equal(latestVersion, 2);
    assert.deepEqual(await keys.unwrapDataKey('user-a', old.wrapped), old.plaintext);
    const [rewrapped] = await keys.rewrap([{ ownerId: 'user-a', wrapped: old.wrapped }]);
    assert.ok(rewrapped?.ok);
    assert.equal(rewrapped.keyVersion, 2);
    await keys.setMinDecryptionVersion(2);
    await rejectsWith(keys.unwrapDataKey('user-a', old.wrapped), 'decryption_failed');
    assert.deepEqual(await keys.unwrapDataKey('user-a', rewrapped.wrapped), old.plaintext);
    const status = await keys.status();
    assert.deepEqual([status.latestVersion, status.minDecryptionVersion, status.healthy], [2, 2, true]);
  });

  it('reports a rewrap failure per item instead of failing the batch', async () => {
    const good = await keys.createDataKey('user-a');
    const results = await keys.rewrap([
      { ownerId: 'user-a', wrapped: good.wrapped },
      { ownerId: 'user-b', wrapped: good.wrapped },
    ]);
    assert.deepEqual(
      results.map((r) => r.ok),
      [true, false],
    );
  });

  it('restores a backup after the keyring is destroyed, and refuses to overwrite without force', async () => {
    const dataKey = await keys.createDataKey('user-c');
    const backup = await keys.backup();
    await rejectsWith(keys.restore(backup, {}), 'key_exists');
    await keys.restore(backup, { name: 'files-restored' });
    assert.deepEqual(
      await keys.forKey('files-restored').unwrapDataKey('user-c', dataKey.wrapped),
      dataKey.plaintext,
    );
    await createKeyringStore(dir).remove('files');
    await rejectsWith(keys.unwrapDataKey('user-c', dataKey.wrapped), 'keys_unavailable');
    await keys.restore(backup, {});
    assert.deepEqual(await keys.unwrapDataKey('user-c', dataKey.wrapped), dataKey.plaintext);
  });

  it('is unavailable with a master key that did not seal the keyring', async () => {
    const other = createLocalKeyService({
      masterKey: randomBytes(32),
      store: createKeyringStore(dir),
      keyName: 'files',
    });
    await rejectsWith(other.createDataKey('user-a'), 'keys_unavailable');
    assert.equal((await other.health()).ok, false);
  });
});

describe('createKeyService with the local backend', () => {
  let dataDir: string;
  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'keys-data-'));
  });
  after(() => rm(dataDir, { recursive: true, force: true }));

  const config = (dir: string) => ({
    KEYS_BACKEND: 'local' as const,
    VAULT_TRANSIT_MOUNT: 'transit',
    VAULT_TRANSIT_KEY: 'gateway-files',
    VAULT_TIMEOUT_MS: 1000,
    DATA_DIR: dir,
  });

  it('generates a development master key into the data directory once and reuses it', async () => {
    const first = await createKeyService(config(dataDir));
    await first.ensureKey();
    const { wrapped, plaintext } = await first.createDataKey('user-a');
    const stored = await readFile(join(dataDir, 'keyring-master.key'), 'utf8');
    assert.equal(Buffer.from(stored, 'base64').length, 32);
    const second = await createKeyService(config(dataDir));
    assert.deepEqual(await second.unwrapDataKey('user-a', wrapped), plaintext);
  });

  it('refuses to invent a master key in production', async () => {
    await rejectsWith(createKeyService({ ...config(dataDir), production: true }), 'config_error');
  });
});
