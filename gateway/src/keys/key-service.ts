/** Where the wrapping keys live. */
type KeysBackend = 'vault' | 'local';

/** A fresh data key: use `plaintext` once, store `wrapped` and `keyVersion` with the file. */
interface DataKey {
  plaintext: Buffer;
  wrapped: string;
  keyVersion: number;
}

export type RewrapResult = { ok: true; wrapped: string; keyVersion: number } | { ok: false; error: string };

/** What an operator needs to know about the wrapping key. */
export interface KeyStatus {
  backend: KeysBackend;
  keyName: string;
  healthy: boolean;
  detail: string;
  latestVersion?: number;
  minDecryptionVersion?: number;
  minEncryptionVersion?: number;
  versions?: number[];
  /** Whether `backup()` can succeed for this key. */
  backupAllowed?: boolean;
}

/**
 * Envelope encryption of user files: a wrapping key (Vault transit or the local keyring)
 * → a per-user key derived from the owner id → a per-file data key. Wrapped data keys
 * are `<backend>:v<version>:<base64>` strings.
 */
export interface KeyService {
  readonly backend: KeysBackend;
  readonly keyName: string;
  /** Creates the wrapping key when it does not exist yet (dev, tests, first start). */
  ensureKey(): Promise<void>;
  createDataKey(ownerId: string): Promise<DataKey>;
  /** Fails with `decryption_failed` for another owner's key or a tampered one. */
  unwrapDataKey(ownerId: string, wrapped: string): Promise<Buffer>;
  /** Re-wraps with the latest key version without exposing the data keys. */
  rewrap(items: { ownerId: string; wrapped: string }[]): Promise<RewrapResult[]>;
  rotate(): Promise<{ latestVersion: number }>;
  setMinDecryptionVersion(version: number): Promise<void>;
  status(): Promise<KeyStatus>;
  /** An opaque backup of the wrapping key; refuses when the key does not allow it. */
  backup(): Promise<string>;
  /** Restores a backup under `name` (default: its own name); refuses to overwrite unless `force`. */
  restore(backup: string, options: { name?: string; force?: boolean }): Promise<void>;
  health(): Promise<{ ok: boolean; detail: string }>;
  /** The same service over another key name, e.g. a restored copy to check before switching. */
  forKey(name: string): KeyService;
}
