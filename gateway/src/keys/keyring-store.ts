import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** The local keyring of one key name: its versions, each wrapped by the master key. */
export interface KeyringState {
  name: string;
  latestVersion: number;
  minDecryptionVersion: number;
  /** version → base64(nonce ‖ ciphertext ‖ tag) of the version key under the master key. */
  versions: Record<string, string>;
}

/** Persists keyrings as JSON files in a directory, one per key name. */
export interface KeyringStore {
  load(name: string): Promise<KeyringState | undefined>;
  save(state: KeyringState): Promise<void>;
  remove(name: string): Promise<void>;
}

const SAFE_NAME = /^[A-Za-z0-9_.-]+$/;

function fileOf(dir: string, name: string): string {
  if (!SAFE_NAME.test(name) || name.startsWith('.')) throw new Error('invalid key name');
  return join(dir, `${name}.json`);
}

/** Writes to a temp file, fsyncs and renames, so a crash never leaves a half-written keyring. */
async function writeAtomically(path: string, content: string): Promise<void> {
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path).catch(async (error: unknown) => {
    await rm(temp, { force: true });
    throw error;
  });
}

export function createKeyringStore(dir: string): KeyringStore {
  return {
    async load(name) {
      try {
        return JSON.parse(await readFile(fileOf(dir, name), 'utf8')) as KeyringState;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
        throw error;
      }
    },
    async save(state) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await writeAtomically(fileOf(dir, state.name), JSON.stringify(state, null, 2));
    },
    async remove(name) {
      await rm(fileOf(dir, name), { force: true });
    },
  };
}
