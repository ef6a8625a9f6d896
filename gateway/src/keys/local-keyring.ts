import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';
import { AppError } from '../errors/app-error.js';
import type { KeyService, KeyStatus, RewrapResult } from './key-service.js';
import type { KeyringState, KeyringStore } from './keyring-store.js';

interface LocalKeyringOptions {
  /** 32 bytes; wraps every version key of the keyring. */
  masterKey: Buffer;
  store: KeyringStore;
  keyName: string;
}

const BACKUP_FORMAT = 'local-keyring/1';

function seal(key: Buffer, plaintext: Buffer, aad: string): Buffer {
  const nonce = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, nonce).setAAD(Buffer.from(aad));
  return Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
}

function open(key: Buffer, sealed: Buffer, aad: string): Buffer {
  if (sealed.length < 28) throw new Error('too short');
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, 12)).setAAD(Buffer.from(aad));
  decipher.setAuthTag(sealed.subarray(sealed.length - 16));
  return Buffer.concat([decipher.update(sealed.subarray(12, sealed.length - 16)), decipher.final()]);
}

const unwrapFailed = (cause?: unknown) =>
  new AppError('decryption_failed', 500, 'The data key could not be unwrapped.', { cause });

/** The per-user key: HKDF over the version key with the owner id as info, as transit derivation does. */
function userKey(versionKey: Buffer, ownerId: string): Buffer {
  return Buffer.from(hkdfSync('sha256', versionKey, Buffer.alloc(0), Buffer.from(ownerId, 'utf8'), 32));
}

function parseWrapped(wrapped: string): { version: number; body: Buffer } {
  const match = /^local:v(\d+):([A-Za-z0-9+/=]+)$/.exec(wrapped);
  if (!match) throw unwrapFailed(new Error('not a local keyring envelope'));
  return { version: Number(match[1]), body: Buffer.from(match[2] ?? '', 'base64') };
}

/** Version keys are bound to the key name they were sealed under, so a renamed copy is re-sealed. */
function resealed(masterKey: Buffer, state: KeyringState, name: string): KeyringState {
  const versions: Record<string, string> = {};
  try {
    for (const [version, sealed] of Object.entries(state.versions)) {
      const key = open(masterKey, Buffer.from(sealed, 'base64'), `keyring:${state.name}:v${version}`);
      versions[version] = seal(masterKey, key, `keyring:${name}:v${version}`).toString('base64');
    }
  } catch (error) {
    throw new AppError('invalid_backup', 400, 'The backup was not made with this master key.', {
      cause: error,
    });
  }
  return { ...state, name, versions };
}

/**
 * The embedded keyring used by `npm run dev` and tests: the same envelope and rotation
 * model as Vault transit, with version keys kept in a file wrapped by the master key.
 */
export function createLocalKeyService(options: LocalKeyringOptions): KeyService {
  const { masterKey, store, keyName } = options;
  const versionAad = (version: number) => `keyring:${keyName}:v${version}`;

  async function load(): Promise<KeyringState> {
    const state = await store.load(keyName);
    if (!state) throw new AppError('keys_unavailable', 503, 'The local keyring has no key yet.');
    return state;
  }

  function versionKey(state: KeyringState, version: number): Buffer {
    const sealed = state.versions[String(version)];
    if (!sealed) throw unwrapFailed(new Error(`unknown key version ${version}`));
    try {
      return open(masterKey, Buffer.from(sealed, 'base64'), versionAad(version));
    } catch (error) {
      throw new AppError('keys_unavailable', 503, 'The local keyring does not match the master key.', {
        cause: error,
      });
    }
  }

  function wrap(state: KeyringState, ownerId: string, dataKey: Buffer): string {
    const version = state.latestVersion;
    const body = seal(userKey(versionKey(state, version), ownerId), dataKey, `local:v${version}`);
    return `local:v${version}:${body.toString('base64')}`;
  }

  function unwrap(state: KeyringState, ownerId: string, wrapped: string): Buffer {
    const { version, body } = parseWrapped(wrapped);
    if (version < state.minDecryptionVersion)
      throw unwrapFailed(new Error('key version is below the minimum'));
    const key = userKey(versionKey(state, version), ownerId);
    try {
      return open(key, body, `local:v${version}`);
    } catch (error) {
      throw unwrapFailed(error);
    }
  }

  function addVersion(state: KeyringState): KeyringState {
    const version = state.latestVersion + 1;
    const sealed = seal(masterKey, randomBytes(32), versionAad(version)).toString('base64');
    return { ...state, latestVersion: version, versions: { ...state.versions, [String(version)]: sealed } };
  }

  const service: KeyService = {
    backend: 'local',
    keyName,
    async ensureKey() {
      if (await store.load(keyName)) return;
      await store.save(
        addVersion({ name: keyName, latestVersion: 0, minDecryptionVersion: 1, versions: {} }),
      );
    },
    async createDataKey(ownerId) {
      const state = await load();
      const plaintext = randomBytes(32);
      return { plaintext, wrapped: wrap(state, ownerId, plaintext), keyVersion: state.latestVersion };
    },
    async unwrapDataKey(ownerId, wrapped) {
      return unwrap(await load(), ownerId, wrapped);
    },
    async rewrap(items) {
      const state = await load();
      return items.map((item): RewrapResult => {
        try {
          const wrapped = wrap(state, item.ownerId, unwrap(state, item.ownerId, item.wrapped));
          return { ok: true, wrapped, keyVersion: state.latestVersion };
        } catch (error) {
          return { ok: false, error: error instanceof Error ? error.message : 'rewrap failed' };
        }
      });
    },
    async rotate() {
      const next = addVersion(await load());
      await store.save(next);
      return { latestVersion: next.latestVersion };
    },
    async setMinDecryptionVersion(version) {
      const state = await load();
      if (version < 1 || version > state.latestVersion) {
        throw new AppError(
          'invalid_key_version',
          400,
          'The minimum version must be between 1 and the latest version.',
        );
      }
      await store.save({ ...state, minDecryptionVersion: version });
    },
    async status(): Promise<KeyStatus> {
      const state = await store.load(keyName);
      if (!state) return { backend: 'local', keyName, healthy: false, detail: 'no keyring yet' };
      const healthy = (() => {
        try {
          versionKey(state, state.latestVersion);
          return true;
        } catch {
          return false;
        }
      })();
      return {
        backend: 'local',
        keyName,
        healthy,
        detail: healthy ? 'local keyring' : 'the keyring does not match the master key',
        latestVersion: state.latestVersion,
        minDecryptionVersion: state.minDecryptionVersion,
        minEncryptionVersion: 0,
        versions: Object.keys(state.versions).map(Number),
        backupAllowed: true,
      };
    },
    async backup() {
      const state = await load();
      return Buffer.from(JSON.stringify({ format: BACKUP_FORMAT, state })).toString('base64');
    },
    async restore(backup, restoreOptions) {
      const parsed = (() => {
        try {
          return JSON.parse(Buffer.from(backup, 'base64').toString('utf8')) as {
            format: string;
            state: KeyringState;
          };
        } catch {
          return undefined;
        }
      })();
      if (parsed?.format !== BACKUP_FORMAT)
        throw new AppError('invalid_backup', 400, 'Not a local keyring backup.');
      const name = restoreOptions.name ?? parsed.state.name;
      if ((await store.load(name)) && !restoreOptions.force) {
        throw new AppError('key_exists', 409, `A key named "${name}" already exists.`);
      }
      await store.save(resealed(masterKey, parsed.state, name));
    },
    async health() {
      const status = await service.status();
      return { ok: status.healthy, detail: status.detail };
    },
    forKey: (name) => createLocalKeyService({ masterKey, store, keyName: name }),
  };
  return service;
}
