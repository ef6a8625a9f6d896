import { hkdfSync } from 'node:crypto';
import { access } from 'node:fs/promises';
import type { Config } from '../config.js';
import { AppError } from '../errors/app-error.js';
import {
  devMasterKeyPath,
  localMasterKey,
  vaultClientFor,
  type KeyServiceDeps,
  type KeysConfig,
} from './create-key-service.js';

/** The configuration keys the audit chain key is derived from. */
type AuditChainKeyConfig = KeysConfig & Pick<Config, 'AUDIT_CHAIN_KEY' | 'AUDIT_CHAIN_VAULT_KEY'>;

/** The key of the audit chain and where it came from (never the key itself in logs). */
interface AuditChainKey {
  key: Buffer;
  source: 'AUDIT_CHAIN_KEY' | 'local keyring' | 'vault transit hmac';
}

/** Domain of the derivation: another purpose of the same master key derives another key. */
const PURPOSE = Buffer.from('auth-gateway/audit-chain/v1', 'utf8');
/**
 * The Vault transit key version the chain key is derived from. Pinned: rotating the transit
 * key must not change the chain key, or the rows written before could no longer be checked.
 */
const VAULT_KEY_VERSION = 1;

const subkey = (ikm: Buffer) => Buffer.from(hkdfSync('sha256', ikm, Buffer.alloc(0), PURPOSE, 32));

/**
 * The key every new audit row and every checkpoint is MAC'd with. Resolved once at start
 * (so group commit stays local and fast) from, in order: AUDIT_CHAIN_KEY (or its _FILE);
 * the local keyring (HKDF subkey of the master key); or Vault, as the transit HMAC of a
 * fixed purpose string under AUDIT_CHAIN_VAULT_KEY, version 1, through HKDF. The database
 * holds none of these, so whoever owns only the database cannot recompute the chain.
 */
export async function resolveAuditChainKey(
  config: AuditChainKeyConfig,
  deps: KeyServiceDeps = {},
): Promise<AuditChainKey> {
  const key = await findAuditChainKey(config, { ...deps, create: true });
  if (!key) throw new AppError('keys_unavailable', 503, 'No audit chain key.');
  return key;
}

/**
 * The same key for a checker (`audit verify`): `create: false` never makes a development
 * master key up, so a missing one answers undefined instead of a key that matches nothing.
 */
export async function findAuditChainKey(
  config: AuditChainKeyConfig,
  deps: KeyServiceDeps & { create: boolean },
): Promise<AuditChainKey | undefined> {
  if (config.AUDIT_CHAIN_KEY) {
    const key = Buffer.from(config.AUDIT_CHAIN_KEY, 'base64');
    if (key.length !== 32)
      throw new AppError('config_error', 500, 'AUDIT_CHAIN_KEY must be 32 bytes encoded in base64.');
    return { key, source: 'AUDIT_CHAIN_KEY' };
  }
  if (config.KEYS_BACKEND === 'vault') {
    const client = deps.vaultClient ?? vaultClientFor(config, deps);
    const mac = await client.hmac(
      config.VAULT_TRANSIT_MOUNT,
      config.AUDIT_CHAIN_VAULT_KEY,
      PURPOSE,
      VAULT_KEY_VERSION,
    );
    return { key: subkey(mac), source: 'vault transit hmac' };
  }
  if (!config.LOCAL_KEYRING_MASTER_KEY && !deps.create) {
    const present = await access(devMasterKeyPath(config.DATA_DIR)).then(
      () => true,
      () => false,
    );
    if (!present) return undefined;
  }
  return { key: subkey(await localMasterKey(config)), source: 'local keyring' };
}
