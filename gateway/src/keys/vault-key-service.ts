import { AppError } from '../errors/app-error.js';
import type { KeyService, KeyStatus } from './key-service.js';
import type { VaultClient } from './vault-client.js';

interface VaultKeyServiceOptions {
  client: VaultClient;
  mount: string;
  keyName: string;
}

/**
 * Vault transit backend: one derived aes256-gcm96 key; Vault derives the per-user key
 * from the owner id given as context, so another owner's context cannot unwrap a key.
 */
export function createVaultKeyService(options: VaultKeyServiceOptions): KeyService {
  const { client, mount, keyName } = options;

  async function keyInfoOrFail() {
    const info = await client.readKey(mount, keyName);
    if (!info) throw new AppError('keys_unavailable', 503, 'The transit key does not exist.');
    return info;
  }

  const service: KeyService = {
    backend: 'vault',
    keyName,
    async ensureKey() {
      if (await client.readKey(mount, keyName)) return;
      await client.createKey(mount, keyName, { derived: true });
    },
    async createDataKey(ownerId) {
      const key = await client.generateDataKey(mount, keyName, ownerId);
      return { plaintext: key.plaintext, wrapped: key.ciphertext, keyVersion: key.keyVersion };
    },
    unwrapDataKey: (ownerId, wrapped) => client.decrypt(mount, keyName, wrapped, ownerId),
    async rewrap(items) {
      if (items.length === 0) return [];
      const results = await client.rewrap(
        mount,
        keyName,
        items.map((item) => ({ ciphertext: item.wrapped, context: item.ownerId })),
      );
      return results.map((r) => (r.ok ? { ok: true, wrapped: r.ciphertext, keyVersion: r.keyVersion } : r));
    },
    async rotate() {
      const info = await client.rotate(mount, keyName);
      return { latestVersion: info.latestVersion };
    },
    setMinDecryptionVersion: (version) =>
      client.configure(mount, keyName, { min_decryption_version: version }),
    async status(): Promise<KeyStatus> {
      const health = await client.health();
      const base = { backend: 'vault' as const, keyName };
      if (!health.ok) return { ...base, healthy: false, detail: `vault ${health.status}` };
      const info = await keyInfoOrFail().catch(() => undefined);
      if (!info) return { ...base, healthy: false, detail: 'transit key missing or unreadable' };
      return {
        ...base,
        healthy: true,
        detail: `vault ${health.status}${health.version ? ` ${health.version}` : ''}`,
        latestVersion: info.latestVersion,
        minDecryptionVersion: info.minDecryptionVersion,
        minEncryptionVersion: info.minEncryptionVersion,
        versions: info.versions,
        backupAllowed: info.exportable && info.allowPlaintextBackup,
      };
    },
    backup: () => client.backup(mount, keyName),
    restore: (backup, restoreOptions) => client.restore(mount, backup, restoreOptions),
    async health() {
      const health = await client.health();
      return { ok: health.ok, detail: `vault ${health.status}` };
    },
    forKey: (name) => createVaultKeyService({ client, mount, keyName: name }),
  };
  return service;
}
