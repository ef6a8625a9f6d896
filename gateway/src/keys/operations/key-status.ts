import type { Queryable } from '../../db/database.js';
import type { KeyService, KeyStatus } from '../key-service.js';
import type { DataKeys } from './data-keys.js';

/** What `encryption-keys status` reports. */
interface KeyReport {
  key: KeyStatus;
  /** Stored data keys per wrapping key version. */
  dataKeysByVersion: Record<string, number>;
  lastBackup?: { fileName: string; createdAt: string };
  /** A rotation that started and has not finished its rewrap. */
  pendingRotation?: { targetVersion: number; rewrapped: number; failed: number };
}

/** Gathers the key service status and what the database knows about the stored keys. */
export async function keyReport(deps: {
  db: Queryable;
  keys: KeyService;
  dataKeys: Pick<DataKeys, 'countByVersion'>;
}): Promise<KeyReport> {
  const [key, counts, backup, rotation] = await Promise.all([
    deps.keys.status(),
    deps.dataKeys.countByVersion(deps.db),
    deps.db.query<{ file_name: string; created_at: Date }>(
      'SELECT file_name, created_at FROM key_backups WHERE key_name = $1 ORDER BY id DESC LIMIT 1',
      [deps.keys.keyName],
    ),
    deps.db.query<{ target_version: number; rewrapped: number; failed: number }>(
      'SELECT target_version, rewrapped, failed FROM key_rotations WHERE key_name = $1 AND completed_at IS NULL',
      [deps.keys.keyName],
    ),
  ]);
  const pending = rotation.rows[0];
  const last = backup.rows[0];
  return {
    key,
    dataKeysByVersion: Object.fromEntries(counts.map((row) => [String(row.keyVersion), row.count])),
    lastBackup: last
      ? { fileName: last.file_name, createdAt: new Date(last.created_at).toISOString() }
      : undefined,
    pendingRotation: pending
      ? { targetVersion: pending.target_version, rewrapped: pending.rewrapped, failed: pending.failed }
      : undefined,
  };
}
