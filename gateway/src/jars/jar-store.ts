import type { Queryable } from '../db/database.js';

export type JarRole = 'owner' | 'editor' | 'viewer';
type GrantRole = Exclude<JarRole, 'owner'>;

export interface Jar {
  id: string;
  ownerId: string;
  name: string;
  restricted: boolean;
  createdAt: string;
  updatedAt: string;
}

export interface JarFile {
  id: string;
  jarId: string;
  keyOwnerId: string;
  name: string;
  contentType: string;
  plainSize: number;
  storedSize: number;
  wrappedKey: string;
  keyVersion: number;
  formatVersion: number;
  uploadedBy: string;
  createdAt: string;
}

interface Grant {
  identityId: string;
  role: GrantRole;
  grantedBy: string;
  createdAt: string;
}

type Row = Record<string, unknown>;
const iso = (value: unknown) => (value instanceof Date ? value : new Date(String(value))).toISOString();

const toJar = (row: Row): Jar => ({
  id: String(row.id),
  ownerId: String(row.owner_id),
  name: String(row.name),
  restricted: row.restricted === true,
  createdAt: iso(row.created_at),
  updatedAt: iso(row.updated_at),
});

const FILE_COLUMNS = `id, jar_id, key_owner_id, name, content_type, plain_size::float8 AS plain_size,
  stored_size::float8 AS stored_size, wrapped_key, key_version, format_version, uploaded_by, created_at`;

const toFile = (row: Row): JarFile => ({
  id: String(row.id),
  jarId: String(row.jar_id),
  keyOwnerId: String(row.key_owner_id),
  name: String(row.name),
  contentType: String(row.content_type),
  plainSize: Number(row.plain_size),
  storedSize: Number(row.stored_size),
  wrappedKey: String(row.wrapped_key),
  keyVersion: Number(row.key_version),
  formatVersion: Number(row.format_version),
  uploadedBy: String(row.uploaded_by),
  createdAt: iso(row.created_at),
});

/** A stored file's data key, as the key operations read it (their `DataKeyRow`). */
const toDataKey = (row: Row) => ({
  fileId: String(row.id),
  keyOwnerId: String(row.key_owner_id),
  wrappedKey: String(row.wrapped_key),
  keyVersion: Number(row.key_version),
});

/** SQL for jars, grants and file metadata; every function takes the database or a transaction. */
export const jarStore = {
  async insertJar(db: Queryable, jar: { id: string; ownerId: string; name: string; restricted: boolean }) {
    const result = await db.query(
      'INSERT INTO jars (id, owner_id, name, restricted) VALUES ($1, $2, $3, $4) RETURNING *',
      [jar.id, jar.ownerId, jar.name, jar.restricted],
    );
    return toJar(result.rows[0] as Row);
  },

  async findJar(db: Queryable, id: string): Promise<Jar | undefined> {
    const result = await db.query('SELECT * FROM jars WHERE id = $1', [id]);
    return result.rows[0] ? toJar(result.rows[0]) : undefined;
  },

  /** The jars an identity owns or holds a grant on, with its role in each. */
  async listJarsFor(db: Queryable, identityId: string): Promise<(Jar & { role: JarRole })[]> {
    const result = await db.query(
      `SELECT j.*, CASE WHEN j.owner_id = $1 THEN 'owner' ELSE g.role END AS role
         FROM jars j LEFT JOIN jar_grants g ON g.jar_id = j.id AND g.identity_id = $1
        WHERE j.owner_id = $1 OR g.identity_id IS NOT NULL
        ORDER BY j.created_at, j.id`,
      [identityId],
    );
    return result.rows.map((row) => ({ ...toJar(row), role: row.role as JarRole }));
  },

  async updateJar(db: Queryable, id: string, changes: { name?: string; restricted?: boolean }) {
    const result = await db.query(
      `UPDATE jars SET name = COALESCE($2, name), restricted = COALESCE($3, restricted), updated_at = now()
        WHERE id = $1 RETURNING *`,
      [id, changes.name ?? null, changes.restricted ?? null],
    );
    return toJar(result.rows[0] as Row);
  },

  async deleteJar(db: Queryable, id: string): Promise<void> {
    await db.query('DELETE FROM jars WHERE id = $1', [id]);
  },

  async findGrant(db: Queryable, jarId: string, identityId: string): Promise<GrantRole | undefined> {
    const result = await db.query<{ role: GrantRole }>(
      'SELECT role FROM jar_grants WHERE jar_id = $1 AND identity_id = $2',
      [jarId, identityId],
    );
    return result.rows[0]?.role;
  },

  async listGrants(db: Queryable, jarId: string): Promise<Grant[]> {
    const result = await db.query(
      'SELECT identity_id, role, granted_by, created_at FROM jar_grants WHERE jar_id = $1 ORDER BY created_at',
      [jarId],
    );
    return result.rows.map((row) => ({
      identityId: String(row.identity_id),
      role: row.role as GrantRole,
      grantedBy: String(row.granted_by),
      createdAt: iso(row.created_at),
    }));
  },

  async putGrant(
    db: Queryable,
    grant: { jarId: string; identityId: string; role: GrantRole; grantedBy: string },
  ) {
    await db.query(
      `INSERT INTO jar_grants (jar_id, identity_id, role, granted_by) VALUES ($1, $2, $3, $4)
       ON CONFLICT (jar_id, identity_id) DO UPDATE SET role = EXCLUDED.role, granted_by = EXCLUDED.granted_by`,
      [grant.jarId, grant.identityId, grant.role, grant.grantedBy],
    );
  },

  async deleteGrant(db: Queryable, jarId: string, identityId: string): Promise<boolean> {
    const result = await db.query('DELETE FROM jar_grants WHERE jar_id = $1 AND identity_id = $2', [
      jarId,
      identityId,
    ]);
    return result.rowCount > 0;
  },

  async insertFile(db: Queryable, file: Omit<JarFile, 'createdAt'>): Promise<JarFile> {
    const result = await db.query(
      `INSERT INTO jar_files (id, jar_id, key_owner_id, name, content_type, plain_size, stored_size,
                              wrapped_key, key_version, format_version, uploaded_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING ${FILE_COLUMNS}`,
      [
        file.id,
        file.jarId,
        file.keyOwnerId,
        file.name,
        file.contentType,
        file.plainSize,
        file.storedSize,
        file.wrappedKey,
        file.keyVersion,
        file.formatVersion,
        file.uploadedBy,
      ],
    );
    return toFile(result.rows[0] as Row);
  },

  async findFile(db: Queryable, jarId: string, fileId: string): Promise<JarFile | undefined> {
    const result = await db.query(`SELECT ${FILE_COLUMNS} FROM jar_files WHERE jar_id = $1 AND id = $2`, [
      jarId,
      fileId,
    ]);
    return result.rows[0] ? toFile(result.rows[0]) : undefined;
  },

  async listFiles(db: Queryable, jarId: string): Promise<JarFile[]> {
    const result = await db.query(
      `SELECT ${FILE_COLUMNS} FROM jar_files WHERE jar_id = $1 ORDER BY created_at, id`,
      [jarId],
    );
    return result.rows.map(toFile);
  },

  /** A random sample of all stored files (every file when `limit` is null), for `encryption-keys verify`. */
  async sampleFiles(db: Queryable, limit: number | null): Promise<JarFile[]> {
    const result = await db.query(`SELECT ${FILE_COLUMNS} FROM jar_files ORDER BY random() LIMIT $1`, [
      limit,
    ]);
    return result.rows.map(toFile);
  },

  async listFileIds(db: Queryable, jarId: string): Promise<string[]> {
    const result = await db.query<{ id: string }>('SELECT id FROM jar_files WHERE jar_id = $1', [jarId]);
    return result.rows.map((row) => String(row.id));
  },

  async deleteFile(db: Queryable, jarId: string, fileId: string): Promise<boolean> {
    const result = await db.query('DELETE FROM jar_files WHERE jar_id = $1 AND id = $2', [jarId, fileId]);
    return result.rowCount > 0;
  },
};

/**
 * The data keys of the stored files, for the key operations (status, backup, rotation): the
 * command line hands this to them, so the jar store stays the one owner of `jar_files`.
 */
export const jarDataKeys = {
  countByVersion: async (db: Queryable): Promise<{ keyVersion: number; count: number }[]> => {
    const result = await db.query<{ key_version: number; n: number }>(
      'SELECT key_version, count(*)::int AS n FROM jar_files GROUP BY key_version ORDER BY key_version',
    );
    return result.rows.map((row) => ({ keyVersion: Number(row.key_version), count: Number(row.n) }));
  },

  all: async (db: Queryable): Promise<ReturnType<typeof toDataKey>[]> => {
    const result = await db.query(
      'SELECT id, key_owner_id, wrapped_key, key_version FROM jar_files ORDER BY id',
    );
    return result.rows.map(toDataKey);
  },

  belowVersion: async (
    db: Queryable,
    version: number,
    after: string | null,
    limit: number,
  ): Promise<ReturnType<typeof toDataKey>[]> => {
    const result = await db.query(
      `SELECT id, key_owner_id, wrapped_key, key_version FROM jar_files
        WHERE key_version < $1 AND ($2::uuid IS NULL OR id > $2::uuid) ORDER BY id LIMIT $3`,
      [version, after, limit],
    );
    return result.rows.map(toDataKey);
  },

  countBelowVersion: async (db: Queryable, version: number, after: string | null = null): Promise<number> => {
    const result = await db.query<{ n: number }>(
      'SELECT count(*)::int AS n FROM jar_files WHERE key_version < $1 AND ($2::uuid IS NULL OR id > $2::uuid)',
      [version, after],
    );
    return Number(result.rows[0]?.n ?? 0);
  },

  rewrap: async (
    db: Queryable,
    row: { fileId: string; wrappedKey: string },
    wrappedKey: string,
    keyVersion: number,
  ): Promise<void> => {
    await db.query(
      'UPDATE jar_files SET wrapped_key = $2, key_version = $3 WHERE id = $1 AND wrapped_key = $4',
      [row.fileId, wrappedKey, keyVersion, row.wrappedKey],
    );
  },
};
