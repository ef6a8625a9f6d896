import type { Database } from '../../db/database.js';
import type { KeyService } from '../key-service.js';
import type { DataKeyRow, DataKeys } from './data-keys.js';

export interface RotationProgress {
  targetVersion: number;
  rewrapped: number;
  failed: number;
  remaining: number;
}

interface RotateOptions {
  batchSize: number;
  /** Stop after this many batches (to spread the load over several runs); the next run resumes. */
  maxBatches?: number;
  onProgress?: (progress: RotationProgress) => void;
}

interface RotationResult extends RotationProgress {
  resumed: boolean;
  completed: boolean;
}

/** What a rotation uses. */
interface RotationDeps {
  db: Database;
  keys: KeyService;
  dataKeys: DataKeys;
}

/** Starts a rotation, or picks up the one an interrupted run left unfinished. */
async function startOrResume(
  db: Database,
  keys: KeyService,
): Promise<{ targetVersion: number; resumed: boolean }> {
  const pending = await db.query<{ target_version: number }>(
    'SELECT target_version FROM key_rotations WHERE key_name = $1 AND completed_at IS NULL',
    [keys.keyName],
  );
  const existing = pending.rows[0];
  if (existing) return { targetVersion: existing.target_version, resumed: true };
  const { latestVersion } = await keys.rotate();
  await db.query(
    `INSERT INTO key_rotations (key_name, target_version) VALUES ($1, $2)
     ON CONFLICT (key_name) DO UPDATE SET target_version = EXCLUDED.target_version, last_file_id = NULL,
       rewrapped = 0, failed = 0, started_at = now(), updated_at = now(), completed_at = NULL`,
    [keys.keyName, latestVersion],
  );
  return { targetVersion: latestVersion, resumed: false };
}

/**
 * Rewraps one batch and records it: the new wrapped keys and the progress marker are
 * written in one transaction, so an interruption never loses or repeats a rewrap.
 */
async function rewrapBatch({ db, keys, dataKeys }: RotationDeps, rows: DataKeyRow[]): Promise<number> {
  const results = await keys.rewrap(
    rows.map((row) => ({ ownerId: row.keyOwnerId, wrapped: row.wrappedKey })),
  );
  let failed = 0;
  await db.transaction(async (tx) => {
    for (const [i, result] of results.entries()) {
      const row = rows[i];
      if (!row || !result.ok) {
        failed += 1;
        continue;
      }
      await dataKeys.rewrap(tx, row, result.wrapped, result.keyVersion);
    }
    await tx.query(
      `UPDATE key_rotations SET last_file_id = $2, rewrapped = rewrapped + $3, failed = failed + $4, updated_at = now()
        WHERE key_name = $1`,
      [keys.keyName, rows[rows.length - 1]?.fileId, rows.length - failed, failed],
    );
  });
  return failed;
}

/**
 * Rotates the wrapping key and rewraps every stored data key under the new version in
 * batches, without touching file bodies. Resumable: progress lives in `key_rotations`.
 */
export async function rotateKeys(deps: RotationDeps, options: RotateOptions): Promise<RotationResult> {
  const { db, keys, dataKeys } = deps;
  const { targetVersion, resumed } = await startOrResume(db, keys);
  for (let batches = 0; options.maxBatches === undefined || batches < options.maxBatches; batches += 1) {
    const marker = await db.query<{ last_file_id: string | null }>(
      'SELECT last_file_id FROM key_rotations WHERE key_name = $1',
      [keys.keyName],
    );
    const after = marker.rows[0]?.last_file_id ?? null;
    const rows = await dataKeys.belowVersion(db, targetVersion, after, options.batchSize);
    if (rows.length === 0) break;
    await rewrapBatch(deps, rows);
    options.onProgress?.(await progress(deps, targetVersion));
  }
  const state = await progress(deps, targetVersion);
  const completed = state.remaining === 0;
  if (completed) {
    await db.query('UPDATE key_rotations SET completed_at = now() WHERE key_name = $1', [keys.keyName]);
  }
  return { ...state, resumed, completed };
}

async function progress(
  { db, keys, dataKeys }: RotationDeps,
  targetVersion: number,
): Promise<RotationProgress> {
  const row = await db.query<{ rewrapped: number; failed: number; last_file_id: string | null }>(
    'SELECT rewrapped, failed, last_file_id FROM key_rotations WHERE key_name = $1',
    [keys.keyName],
  );
  const state = row.rows[0];
  return {
    targetVersion,
    rewrapped: Number(state?.rewrapped ?? 0),
    failed: Number(state?.failed ?? 0),
    remaining: await dataKeys.countBelowVersion(db, targetVersion, state?.last_file_id ?? null),
  };
}

/** Data keys still wrapped below `version`: raising the minimum would make them unreadable. */
export function keysBelowVersion(
  deps: { db: Database; dataKeys: DataKeys },
  version: number,
): Promise<number> {
  return deps.dataKeys.countBelowVersion(deps.db, version);
}
