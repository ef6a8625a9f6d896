import { existsSync } from 'node:fs';
import { join } from 'node:path';

type Env = Record<string, string | undefined>;

/**
 * The file in DATA_DIR where `npm run dev` keeps the master key of the local keyring it
 * generated; it hands the key to the gateway as LOCAL_KEYRING_MASTER_KEY.
 */
const devKeyringKeyFile = (dataDir: string) => join(dataDir, 'dev-keyring-master-key');

/**
 * The environment a CLI tool reads development data with, laid out as `npm run dev` lays it
 * out: the keyring master key from the file dev generated (by path, through
 * LOCAL_KEYRING_MASTER_KEY_FILE) and PGlite under DATA_DIR. Without this the tools would
 * generate a master key of their own, which opens nothing dev wrote. Only in development,
 * only with the local keyring, and never over a setting that was given.
 */
export function withDevData(env: Env): Env {
  if ((env.NODE_ENV ?? 'development') !== 'development') return env;
  if ((env.KEYS_BACKEND ?? 'local') !== 'local') return env;
  const dataDir = env.DATA_DIR ?? '.data';
  const out = { ...env };
  const keyFile = devKeyringKeyFile(dataDir);
  if (!env.LOCAL_KEYRING_MASTER_KEY && !env.LOCAL_KEYRING_MASTER_KEY_FILE && existsSync(keyFile)) {
    out.LOCAL_KEYRING_MASTER_KEY_FILE = keyFile;
  }
  if (!env.DATABASE_URL && !env.PGLITE_DIR) out.PGLITE_DIR = join(dataDir, 'pglite');
  return out;
}
