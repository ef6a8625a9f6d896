import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { AppError } from '../http/errors.js';
import type { KeyService } from './key-service.js';
import { createKeyringStore } from './keyring-store.js';
import { createLocalKeyService } from './local-keyring.js';
import { createVaultClient, type VaultAuth, type VaultClient } from './vault-client.js';
import { createVaultKeyService } from './vault-key-service.js';

/** The configuration keys the key service reads. */
export type KeysConfig = Pick<
  Config,
  | 'KEYS_BACKEND'
  | 'LOCAL_KEYRING_MASTER_KEY'
  | 'VAULT_ADDR'
  | 'VAULT_TOKEN'
  | 'VAULT_ROLE_ID'
  | 'VAULT_SECRET_ID'
  | 'VAULT_TRANSIT_MOUNT'
  | 'VAULT_TRANSIT_KEY'
  | 'VAULT_TIMEOUT_MS'
  | 'DATA_DIR'
> & { production?: boolean };

export interface KeyServiceDeps {
  /** Milliseconds since the epoch; default `Date.now`. */
  now?: () => number;
  /** Pass a client to share it (the CLI does); otherwise one is built from the config. */
  vaultClient?: VaultClient;
}

function vaultAuth(config: KeysConfig): VaultAuth {
  if (config.VAULT_ROLE_ID && config.VAULT_SECRET_ID) {
    return { roleId: config.VAULT_ROLE_ID, secretId: config.VAULT_SECRET_ID };
  }
  if (config.VAULT_TOKEN) return { token: config.VAULT_TOKEN };
  throw new AppError(
    'config_error',
    500,
    'KEYS_BACKEND=vault needs VAULT_ROLE_ID and VAULT_SECRET_ID, or VAULT_TOKEN.',
  );
}

/**
 * Without a configured master key (development only; config refuses it in production),
 * one is generated once into the data directory and reused on every start.
 */
async function devMasterKey(dataDir: string): Promise<Buffer> {
  const path = join(dataDir, 'keyring-master.key');
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'base64');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  const handle = await open(path, 'wx', 0o600).catch(async (error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST') return undefined; // another process won the race; use its key
    throw error;
  });
  if (!handle) return devMasterKey(dataDir);
  try {
    await handle.writeFile(key.toString('base64'));
    await handle.sync();
  } finally {
    await handle.close();
  }
  return key;
}

/** Builds the key service the configuration asks for. */
export async function createKeyService(config: KeysConfig, deps: KeyServiceDeps = {}): Promise<KeyService> {
  if (config.KEYS_BACKEND === 'vault') {
    if (!config.VAULT_ADDR) throw new AppError('config_error', 500, 'KEYS_BACKEND=vault needs VAULT_ADDR.');
    const client =
      deps.vaultClient ??
      createVaultClient({
        addr: config.VAULT_ADDR,
        auth: vaultAuth(config),
        timeoutMs: config.VAULT_TIMEOUT_MS,
        now: deps.now,
      });
    return createVaultKeyService({
      client,
      mount: config.VAULT_TRANSIT_MOUNT,
      keyName: config.VAULT_TRANSIT_KEY,
    });
  }
  if (!config.LOCAL_KEYRING_MASTER_KEY && config.production) {
    throw new AppError(
      'config_error',
      500,
      'The local keyring needs LOCAL_KEYRING_MASTER_KEY in production.',
    );
  }
  const masterKey = config.LOCAL_KEYRING_MASTER_KEY
    ? Buffer.from(config.LOCAL_KEYRING_MASTER_KEY, 'base64')
    : await devMasterKey(config.DATA_DIR);
  return createLocalKeyService({
    masterKey,
    store: createKeyringStore(join(config.DATA_DIR, 'keyring')),
    keyName: config.VAULT_TRANSIT_KEY,
  });
}
