import { createCipheriv, createDecipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';

/** An error Vault answers with `{ errors: [message] }` and the given status. */
export class VaultHttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

interface KeyVersion {
  key: Buffer;
  createdAt: number;
}

/** The state of one transit key, as Vault keeps it in its keyring. */
export interface TransitKey {
  name: string;
  type: 'aes256-gcm96';
  derived: boolean;
  exportable: boolean;
  allowPlaintextBackup: boolean;
  deletionAllowed: boolean;
  minDecryptionVersion: number;
  minEncryptionVersion: number;
  versions: Map<number, KeyVersion>;
  latestVersion: number;
}

export interface CreateKeyOptions {
  type?: string;
  derived?: boolean;
  exportable?: boolean;
  allow_plaintext_backup?: boolean;
}

export interface KeyConfigUpdate {
  min_decryption_version?: number;
  min_encryption_version?: number;
  deletion_allowed?: boolean;
  exportable?: boolean;
  allow_plaintext_backup?: boolean;
}

const badRequest = (message: string) => new VaultHttpError(400, message);

function decodeBase64Strict(value: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw badRequest(`failed to base64-decode ${what}`);
  }
  return Buffer.from(value, 'base64');
}

/**
 * A stateful transit secrets engine: named aes256-gcm96 keys with versions, optional
 * derivation from a per-request context, and Vault's `vault:vN:` ciphertexts. Real
 * AES-GCM is used so that tampered ciphertexts fail like they do in Vault.
 */
export class TransitEngine {
  private readonly keys = new Map<string, TransitKey>();

  constructor(private readonly now: () => number) {}

  has(name: string): boolean {
    return this.keys.has(name);
  }

  list(): string[] {
    return [...this.keys.keys()].sort();
  }

  /** Creates a key; creating an existing key is a no-op, as in Vault. */
  create(name: string, options: CreateKeyOptions): TransitKey {
    const existing = this.keys.get(name);
    if (existing) return existing;
    const type = options.type ?? 'aes256-gcm96';
    if (type !== 'aes256-gcm96') throw badRequest(`unknown key type "${type}"`);
    const key: TransitKey = {
      name,
      type,
      derived: options.derived ?? false,
      exportable: options.exportable ?? false,
      allowPlaintextBackup: options.allow_plaintext_backup ?? false,
      deletionAllowed: false,
      minDecryptionVersion: 1,
      minEncryptionVersion: 0,
      versions: new Map([[1, { key: randomBytes(32), createdAt: this.now() }]]),
      latestVersion: 1,
    };
    this.keys.set(name, key);
    return key;
  }

  get(name: string): TransitKey {
    const key = this.keys.get(name);
    if (!key) throw badRequest('encryption key not found');
    return key;
  }

  /** The body of `GET /transit/keys/:name`. */
  describe(name: string): Record<string, unknown> {
    const key = this.keys.get(name);
    if (!key) throw new VaultHttpError(404, 'key not found');
    const versions: Record<string, number> = {};
    for (const [version, value] of key.versions)
      versions[String(version)] = Math.floor(value.createdAt / 1000);
    return {
      name: key.name,
      type: key.type,
      derived: key.derived,
      ...(key.derived ? { kdf: 'hkdf_sha256' } : {}),
      convergent_encryption: false,
      exportable: key.exportable,
      allow_plaintext_backup: key.allowPlaintextBackup,
      deletion_allowed: key.deletionAllowed,
      keys: versions,
      latest_version: key.latestVersion,
      min_available_version: 0,
      min_decryption_version: key.minDecryptionVersion,
      min_encryption_version: key.minEncryptionVersion,
      auto_rotate_period: 0,
      imported_key: false,
      supports_encryption: true,
      supports_decryption: true,
      supports_derivation: true,
      supports_signing: false,
    };
  }

  rotate(name: string): TransitKey {
    const key = this.get(name);
    key.latestVersion += 1;
    key.versions.set(key.latestVersion, { key: randomBytes(32), createdAt: this.now() });
    return key;
  }

  configure(name: string, update: KeyConfigUpdate): void {
    const key = this.get(name);
    const minDecryption = update.min_decryption_version ?? key.minDecryptionVersion;
    const minEncryption = update.min_encryption_version ?? key.minEncryptionVersion;
    if (minDecryption > key.latestVersion) {
      throw badRequest('cannot set min decryption version greater than latest version');
    }
    if (minEncryption > key.latestVersion) {
      throw badRequest('cannot set min encryption version greater than latest version');
    }
    if (minEncryption !== 0 && minEncryption < minDecryption) {
      throw badRequest('min encryption version should not be less than min decryption version');
    }
    if (update.exportable === false && key.exportable) {
      throw badRequest('cannot disable exportability on a key that was exportable');
    }
    if (update.allow_plaintext_backup === false && key.allowPlaintextBackup) {
      throw badRequest('cannot disable plaintext backup on a key that was allowed to be backed up');
    }
    key.minDecryptionVersion = Math.max(minDecryption, 1);
    key.minEncryptionVersion = minEncryption;
    key.deletionAllowed = update.deletion_allowed ?? key.deletionAllowed;
    key.exportable = update.exportable ?? key.exportable;
    key.allowPlaintextBackup = update.allow_plaintext_backup ?? key.allowPlaintextBackup;
  }

  delete(name: string): void {
    const key = this.keys.get(name);
    if (!key) throw badRequest('could not delete key; not found');
    if (!key.deletionAllowed) throw badRequest('deletion is not allowed for this key');
    this.keys.delete(name);
  }

  /** Encrypts base64 plaintext; `keyVersion` 0 or absent means the latest version. */
  encrypt(
    name: string,
    plaintextB64: string,
    context?: string,
    keyVersion?: number,
  ): Record<string, unknown> {
    const key = this.get(name);
    const version = this.encryptionVersion(key, keyVersion);
    const plaintext = decodeBase64Strict(plaintextB64, 'plaintext');
    const aesKey = this.versionKey(key, version, context);
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', aesKey, nonce);
    const body = Buffer.concat([nonce, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
    return { ciphertext: `vault:v${version}:${body.toString('base64')}`, key_version: version };
  }

  /** Decrypts a `vault:vN:` ciphertext into base64 plaintext. */
  decrypt(name: string, ciphertext: string, context?: string): { plaintext: string; version: number } {
    const key = this.get(name);
    const { version, body } = this.parseCiphertext(ciphertext);
    if (version < key.minDecryptionVersion) {
      throw badRequest('ciphertext or signature version is disallowed by policy (too old)');
    }
    if (!key.versions.has(version)) throw badRequest('invalid ciphertext: version is too new');
    const aesKey = this.versionKey(key, version, context);
    if (body.length < 28) throw badRequest('invalid ciphertext: too short');
    try {
      const decipher = createDecipheriv('aes-256-gcm', aesKey, body.subarray(0, 12));
      decipher.setAuthTag(body.subarray(body.length - 16));
      const plaintext = Buffer.concat([
        decipher.update(body.subarray(12, body.length - 16)),
        decipher.final(),
      ]);
      return { plaintext: plaintext.toString('base64'), version };
    } catch {
      throw badRequest('cipher: message authentication failed');
    }
  }

  /** Decrypts with the stored version and encrypts again with the latest (or given) version. */
  rewrap(name: string, ciphertext: string, context?: string, keyVersion?: number): Record<string, unknown> {
    const { plaintext } = this.decrypt(name, ciphertext, context);
    return this.encrypt(name, plaintext, context, keyVersion);
  }

  /**
   * `POST /transit/hmac/:name`: HMAC-SHA256 of the base64 input under the HMAC key of one
   * version (0 or absent: the latest), as `vault:vN:<base64>`. As in Vault, each version has
   * its own HMAC key, separate from its encryption key and independent of derivation; an
   * unknown key is not created.
   */
  hmac(name: string, inputB64: string, keyVersion = 0): { hmac: string } {
    const key = this.keys.get(name);
    if (!key) throw badRequest('encryption key not found');
    let version = keyVersion;
    if (version === 0) version = key.latestVersion;
    else if (
      version !== key.latestVersion &&
      key.minEncryptionVersion > 0 &&
      version < key.minEncryptionVersion
    )
      throw badRequest('cannot generate HMAC: version is too old (disallowed by policy)');
    if (version < 0) throw badRequest('key version does not exist (cannot be negative)');
    if (version > key.latestVersion)
      throw badRequest(`key version does not exist; latest key version is ${key.latestVersion}`);
    const material = key.versions.get(version);
    if (!material) throw badRequest('no such key version');
    let input: Buffer;
    try {
      input = decodeBase64Strict(inputB64, 'input');
    } catch {
      throw badRequest('unable to decode input as base64: illegal base64 data');
    }
    // The double keeps one secret per version; its HMAC key is a separate key derived from it.
    const hmacKey = Buffer.from(hkdfSync('sha256', material.key, Buffer.alloc(0), 'transit-hmac-key', 32));
    const mac = createHmac('sha256', hmacKey).update(input).digest('base64');
    return { hmac: `vault:v${version}:${mac}` };
  }

  /** Generates a data key and returns it wrapped (and in plaintext when asked). */
  datakey(name: string, kind: string, bits: number, context?: string): Record<string, unknown> {
    if (kind !== 'plaintext' && kind !== 'wrapped') throw badRequest('invalid type');
    if (![128, 256, 512].includes(bits)) throw badRequest(`invalid bits length ${bits}`);
    const dataKey = randomBytes(bits / 8).toString('base64');
    const wrapped = this.encrypt(name, dataKey, context);
    return kind === 'plaintext' ? { plaintext: dataKey, ...wrapped } : wrapped;
  }

  /** `GET /transit/backup/:name`: the whole key, only when it may leave Vault in plaintext. */
  backup(name: string): string {
    const key = this.get(name);
    if (!key.exportable) throw badRequest('exporting is disallowed on the policy');
    if (!key.allowPlaintextBackup) throw badRequest('plaintext backup is disallowed on the policy');
    const versions = [...key.versions].map(([version, value]) => ({
      version,
      key: value.key.toString('base64'),
      created_at: value.createdAt,
    }));
    const snapshot = { ...key, versions };
    return Buffer.from(JSON.stringify(snapshot)).toString('base64');
  }

  /** `POST /transit/restore[/:name]`: refuses to overwrite an existing key unless forced. */
  restore(backup: string, name: string | undefined, force: boolean): void {
    const snapshot = this.parseBackup(backup);
    const target = name ?? snapshot.name;
    if (this.keys.has(target) && !force) throw badRequest(`key "${target}" already exists`);
    this.keys.set(target, { ...snapshot, name: target });
  }

  private parseBackup(backup: string): TransitKey {
    try {
      const raw = JSON.parse(decodeBase64Strict(backup, 'backup').toString('utf8'));
      const versions = new Map<number, KeyVersion>(
        raw.versions.map((v: { version: number; key: string; created_at: number }) => [
          v.version,
          { key: Buffer.from(v.key, 'base64'), createdAt: v.created_at },
        ]),
      );
      return { ...raw, versions };
    } catch (error) {
      if (error instanceof VaultHttpError) throw error;
      throw badRequest('failed to restore the key: invalid backup');
    }
  }

  private encryptionVersion(key: TransitKey, requested?: number): number {
    if (!requested) return key.latestVersion;
    if (requested > key.latestVersion)
      throw badRequest('requested version for encryption is greater than latest');
    if (requested < key.minEncryptionVersion) {
      throw badRequest('requested version for encryption is less than the minimum encryption key version');
    }
    if (requested < key.minDecryptionVersion) {
      throw badRequest('requested version for encryption is less than the minimum decryption key version');
    }
    return requested;
  }

  private versionKey(key: TransitKey, version: number, context?: string): Buffer {
    const material = key.versions.get(version);
    if (!material) throw badRequest('invalid key version');
    if (!key.derived) return material.key;
    if (!context) {
      throw badRequest(
        "missing 'context' for key derivation; the key was created using a derived key, which means additional, per-request information must be included in order to perform operations with the key",
      );
    }
    const info = decodeBase64Strict(context, 'context');
    return Buffer.from(hkdfSync('sha256', material.key, Buffer.alloc(0), info, 32));
  }

  private parseCiphertext(ciphertext: string): { version: number; body: Buffer } {
    const match = /^vault:v(\d+):(.*)$/s.exec(ciphertext);
    if (!match) throw badRequest('invalid ciphertext: no prefix');
    return {
      version: Number(match[1]),
      body: decodeBase64Strict(match[2] ?? '', 'ciphertext'),
    };
  }
}
