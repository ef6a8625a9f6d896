import type { Queryable } from '../../db/database.js';

/** One stored data key: the file it encrypts, whose key wraps it, and under which version. */
export interface DataKeyRow {
  fileId: string;
  keyOwnerId: string;
  wrappedKey: string;
  keyVersion: number;
}

/**
 * The stored data keys, read and rewrapped through the owner of their table (the jar store,
 * `jars/jar-store.ts`, which the command line hands in): the key operations never query it.
 * Every function takes the database or a transaction.
 */
export interface DataKeys {
  /** How many data keys each wrapping key version holds. */
  countByVersion(db: Queryable): Promise<{ keyVersion: number; count: number }[]>;
  /** Every data key, by file id. */
  all(db: Queryable): Promise<DataKeyRow[]>;
  /** Up to `limit` data keys wrapped below `version`, by file id after `after`. */
  belowVersion(db: Queryable, version: number, after: string | null, limit: number): Promise<DataKeyRow[]>;
  /** How many data keys are wrapped below `version` (after `after`, by file id). */
  countBelowVersion(db: Queryable, version: number, after?: string | null): Promise<number>;
  /** Stores a rewrapped key, unless the row changed since it was read. */
  rewrap(db: Queryable, row: DataKeyRow, wrappedKey: string, keyVersion: number): Promise<void>;
}
