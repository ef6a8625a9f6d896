import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { Queryable } from '../../db/database.js';
import { AppError } from '../../errors/app-error.js';
import type { DataKeys } from './data-keys.js';
import type { KeyService } from '../key-service.js';

/** The context of the canary data key: no user id can take this shape (it has a colon). */
const CANARY_OWNER = 'encryption-keys:canary';
const FORMAT = 'honey-jar-key-backup/1';

const bundleSchema = z.object({
  format: z.literal(FORMAT),
  createdAt: z.string(),
  backend: z.enum(['vault', 'local']),
  keyName: z.string(),
  /** The wrapping key backup, or null when the key does not allow plaintext backups. */
  keyBackup: z.string().nullable(),
  latestVersion: z.number().int().optional(),
  canary: z.object({ wrapped: z.string(), sha256: z.string() }),
  manifest: z.array(
    z.object({
      fileId: z.string(),
      keyOwnerId: z.string(),
      wrappedKey: z.string(),
      keyVersion: z.number().int(),
    }),
  ),
});

type BackupBundle = z.infer<typeof bundleSchema>;

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/**
 * A backup bundle: the wrapping key's own backup where the key allows one, the manifest of
 * every stored wrapped data key, and a canary — a data key wrapped now, with the hash of its
 * plaintext — that proves a restored key really unwraps what this one wrapped.
 */
export async function createBackupBundle(
  deps: { db: Queryable; keys: KeyService; dataKeys: Pick<DataKeys, 'all'> },
  now: Date,
): Promise<BackupBundle> {
  const status = await deps.keys.status();
  if (!status.healthy)
    throw new AppError('keys_unavailable', 503, `The key service is not ready: ${status.detail}.`);
  const canary = await deps.keys.createDataKey(CANARY_OWNER);
  const keyBackup = status.backupAllowed ? await deps.keys.backup() : null;
  const rows = await deps.dataKeys.all(deps.db);
  return {
    format: FORMAT,
    createdAt: now.toISOString(),
    backend: deps.keys.backend,
    keyName: deps.keys.keyName,
    keyBackup,
    latestVersion: status.latestVersion,
    canary: { wrapped: canary.wrapped, sha256: sha256(canary.plaintext) },
    manifest: rows.map(({ fileId, keyOwnerId, wrappedKey, keyVersion }) => ({
      fileId,
      keyOwnerId,
      wrappedKey,
      keyVersion,
    })),
  };
}

export function parseBackupBundle(text: string): BackupBundle {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new AppError('invalid_backup', 400, 'The backup file is not JSON.');
  }
  const parsed = bundleSchema.safeParse(json);
  if (!parsed.success)
    throw new AppError('invalid_backup', 400, 'The backup file is not a key backup bundle.');
  return parsed.data;
}

/** Unwraps the canary with `keys` and checks it is the data key the bundle recorded. */
export async function canaryDecrypts(keys: KeyService, bundle: BackupBundle): Promise<boolean> {
  try {
    const plaintext = await keys.unwrapDataKey(CANARY_OWNER, bundle.canary.wrapped);
    return sha256(plaintext) === bundle.canary.sha256;
  } catch (error) {
    if ((error as AppError).code === 'keys_unavailable') throw error;
    return false;
  }
}

/** Records a backup written to `fileName` (what `encryption-keys status` reports as the last one). */
export async function recordBackup(
  db: Queryable,
  keys: Pick<KeyService, 'keyName' | 'backend'>,
  file: { fileName: string; sha256: string },
): Promise<void> {
  await db.query('INSERT INTO key_backups (key_name, backend, file_name, sha256) VALUES ($1, $2, $3, $4)', [
    keys.keyName,
    keys.backend,
    file.fileName,
    file.sha256,
  ]);
}

/**
 * Restores the bundle's key. With `dryRun` it goes to a fresh key name next to the live
 * key, which is left untouched, and the canary proves the backup is usable.
 */
export async function restoreBackupBundle(
  keys: KeyService,
  bundle: BackupBundle,
  options: { dryRun: boolean; name?: string; force?: boolean; now: Date },
): Promise<{ restoredAs: string; canaryOk: boolean }> {
  if (!bundle.keyBackup) {
    throw new AppError('no_key_backup', 400, 'This bundle holds no key backup (the key did not allow one).');
  }
  if (bundle.backend !== keys.backend) {
    throw new AppError(
      'invalid_backup',
      400,
      `This bundle is for the ${bundle.backend} backend, not ${keys.backend}.`,
    );
  }
  const stamp = options.now.toISOString().replace(/\D/g, '').slice(0, 14);
  const name = options.name ?? (options.dryRun ? `${keys.keyName}-restore-check-${stamp}` : keys.keyName);
  await keys.restore(bundle.keyBackup, { name, force: options.force });
  return { restoredAs: name, canaryOk: await canaryDecrypts(keys.forKey(name), bundle) };
}
