import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdir, open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { AppError } from '../errors/app-error.js';
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
  | 'VAULT_SECRET_ID_FILE'
  | 'VAULT_CACERT'
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
  // A secret id from a file is read again at every login (vault/init.sh rotates the file).
  if (config.VAULT_ROLE_ID && config.VAULT_SECRET_ID_FILE) {
    return { roleId: config.VAULT_ROLE_ID, secretIdFile: config.VAULT_SECRET_ID_FILE };
  }
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

/** Where the development master key is kept when LOCAL_KEYRING_MASTER_KEY is unset. */
export const devMasterKeyPath = (dataDir: string) => join(dataDir, 'keyring-master.key');

/**
 * Without a configured master key (development only; config refuses it in production),
 * one is generated once into the data directory and reused on every start.
 */
async function devMasterKey(dataDir: string): Promise<Buffer> {
  const path = devMasterKeyPath(dataDir);
  try {
    return Buffer.from((await readFile(path, 'utf8')).trim(), 'base64');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const key = randomBytes(32);
  const handle = await open(path, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
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

/** A Vault client from the configuration (VAULT_ADDR, a token or AppRole). */
export function vaultClientFor(config: KeysConfig, deps: KeyServiceDeps = {}): VaultClient {
  if (!config.VAULT_ADDR) throw new AppError('config_error', 500, 'KEYS_BACKEND=vault needs VAULT_ADDR.');
  return createVaultClient({
    addr: config.VAULT_ADDR,
    auth: vaultAuth(config),
    timeoutMs: config.VAULT_TIMEOUT_MS,
    now: deps.now,
    caCert: config.VAULT_CACERT ? readFileSync(config.VAULT_CACERT) : undefined,
  });
}

/** The local keyring's master key: LOCAL_KEYRING_MASTER_KEY, or (development) the one in DATA_DIR. */
export async function localMasterKey(config: KeysConfig): Promise<Buffer> {
  if (!config.LOCAL_KEYRING_MASTER_KEY && config.production) {
    throw new AppError(
      'config_error',
      500,
      'The local keyring needs LOCAL_KEYRING_MASTER_KEY in production.',
    );
  }
  return config.LOCAL_KEYRING_MASTER_KEY
    ? Buffer.from(config.LOCAL_KEYRING_MASTER_KEY, 'base64')
    : devMasterKey(config.DATA_DIR);
}

/** Builds the key service the configuration asks for. */
export async function createKeyService(config: KeysConfig, deps: KeyServiceDeps = {}): Promise<KeyService> {
  if (config.KEYS_BACKEND === 'vault') {
    const client = deps.vaultClient ?? vaultClientFor(config, deps);
    return createVaultKeyService({
      client,
      mount: config.VAULT_TRANSIT_MOUNT,
      keyName: config.VAULT_TRANSIT_KEY,
    });
  }
  const masterKey = await localMasterKey(config);
  return createLocalKeyService({
    masterKey,
    store: createKeyringStore(join(config.DATA_DIR, 'keyring')),
    keyName: config.VAULT_TRANSIT_KEY,
  });
}
