import { coalesced } from '../db/coalesce.js';
import type { Database, Queryable } from '../db/database.js';

/** A passkey as the gateway stores it. */
export interface StoredPasskey {
  /** Credential id, base64url. */
  id: string;
  identityId: string;
  /** COSE-encoded public key. */
  publicKey: Uint8Array<ArrayBuffer>;
  counter: number;
  transports: string[];
  aaguid: string;
  deviceType: 'singleDevice' | 'multiDevice';
  backedUp: boolean;
  nickname: string;
  clonedSuspected: boolean;
  /** Registered while the account's e-mail address was unverified (removed when someone proves it). */
  registeredUnverified: boolean;
  createdAt: string;
  lastUsedAt: string | null;
}

type NewPasskey = Omit<StoredPasskey, 'clonedSuspected' | 'createdAt' | 'lastUsedAt'>;

interface PasskeyRow {
  id: string;
  identity_id: string;
  public_key: Uint8Array;
  counter: string | number;
  transports: string[];
  aaguid: string;
  device_type: string;
  backed_up: boolean;
  nickname: string;
  cloned_suspected: boolean;
  registered_unverified: boolean;
  created_at: Date | string;
  last_used_at: Date | string | null;
}

/** A value and how often it occurs. */
export interface PopulationRow {
  value: number;
  n: number;
}

const iso = (value: Date | string) => new Date(value).toISOString();

function toPasskey(row: PasskeyRow): StoredPasskey {
  return {
    id: row.id,
    identityId: row.identity_id,
    publicKey: new Uint8Array(row.public_key),
    counter: Number(row.counter),
    transports: row.transports ?? [],
    aaguid: row.aaguid,
    deviceType: row.device_type === 'multiDevice' ? 'multiDevice' : 'singleDevice',
    backedUp: row.backed_up,
    nickname: row.nickname,
    clonedSuspected: row.cloned_suspected,
    registeredUnverified: row.registered_unverified,
    createdAt: iso(row.created_at),
    lastUsedAt: row.last_used_at ? iso(row.last_used_at) : null,
  };
}

/**
 * Passkey credentials and WebAuthn user handles in Postgres. The store only keeps what
 * the ceremonies decided; it never verifies anything itself.
 */
export function createPasskeyStore(db: Database) {
  const count = async (q: Queryable, identityId: string) =>
    Number(
      (
        await q.query<{ n: string | number }>(
          'SELECT count(*) AS n FROM passkey_credentials WHERE identity_id = $1',
          [identityId],
        )
      ).rows[0]?.n ?? 0,
    );

  // Sign-ins arriving together read their credentials, and then store their uses, in one
  // statement per batch (db/coalesce.ts).
  const selectWithUserHandles = db.prepared<PasskeyRow & { owner_user_handle: string | null }>(
    'passkeys-with-user-handles',
    // Columns by name: a prepared statement's result must not change when a migration adds one.
    `SELECT c.id, c.identity_id, c.public_key, c.counter, c.transports, c.aaguid, c.device_type, c.backed_up,
            c.nickname, c.cloned_suspected, c.registered_unverified, c.created_at, c.last_used_at,
            u.user_handle AS owner_user_handle
       FROM passkey_credentials c LEFT JOIN passkey_users u ON u.identity_id = c.identity_id
      WHERE c.id = ANY($1)`,
  );
  const findWithUserHandle = coalesced(async (ids: string[]) => {
    const { rows } = await selectWithUserHandles([ids]);
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => {
      const row = byId.get(id);
      return row ? { passkey: toPasskey(row), userHandle: row.owner_user_handle ?? undefined } : undefined;
    });
  });
  // A counter must move forward unless both sides are 0 (WebAuthn §6.1.1); each credential
  // is in a batch once, so the rows updated are the uses that passed.
  const updateUses = db.prepared<{ id: string }>(
    'passkey-uses',
    `UPDATE passkey_credentials c
        SET counter = v.counter, backed_up = v.backed_up, last_used_at = v.used_at
       FROM unnest($1::text[], $2::bigint[], $3::boolean[], $4::timestamptz[]) AS v(id, counter, backed_up, used_at)
      WHERE c.id = v.id AND (c.counter < v.counter OR (c.counter = 0 AND v.counter = 0))
      RETURNING c.id`,
  );
  const recordUses = coalesced(
    async (uses: Array<{ id: string; counter: number; backedUp: boolean; usedAt: Date }>) => {
      const { rows } = await updateUses([
        uses.map((u) => u.id),
        uses.map((u) => u.counter),
        uses.map((u) => u.backedUp),
        uses.map((u) => u.usedAt.toISOString()),
      ]);
      const updated = new Set(rows.map((r) => r.id));
      return uses.map((u) => updated.has(u.id));
    },
    (use) => use.id,
  );

  return {
    /** The identity's WebAuthn user handle, created (from `fresh`) on first use. */
    async userHandleFor(identityId: string, fresh: () => string): Promise<string> {
      await db.query(
        'INSERT INTO passkey_users (identity_id, user_handle) VALUES ($1, $2) ON CONFLICT (identity_id) DO NOTHING',
        [identityId, fresh()],
      );
      const { rows } = await db.query<{ user_handle: string }>(
        'SELECT user_handle FROM passkey_users WHERE identity_id = $1',
        [identityId],
      );
      const [row] = rows;
      if (!row) throw new Error('passkey_users: no user handle after the insert');
      return row.user_handle;
    },

    async find(id: string): Promise<StoredPasskey | undefined> {
      const { rows } = await db.query<PasskeyRow>('SELECT * FROM passkey_credentials WHERE id = $1', [id]);
      return rows[0] ? toPasskey(rows[0]) : undefined;
    },

    /** The passkey with its owner's WebAuthn user handle, in one round trip (an assertion needs both). */
    findWithUserHandle,

    async list(identityId: string): Promise<StoredPasskey[]> {
      const { rows } = await db.query<PasskeyRow>(
        'SELECT * FROM passkey_credentials WHERE identity_id = $1 ORDER BY created_at, id',
        [identityId],
      );
      return rows.map(toPasskey);
    },

    count: (identityId: string) => count(db, identityId),

    /** Ids of the identity's passkeys, oldest first. */
    async idsOf(identityId: string): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>(
        'SELECT id FROM passkey_credentials WHERE identity_id = $1 ORDER BY created_at',
        [identityId],
      );
      return rows.map((r) => r.id);
    },

    /** Ids of the identity's usable passkeys (not suspected of being cloned). */
    async usableIds(identityId: string): Promise<string[]> {
      const { rows } = await db.query<{ id: string }>(
        'SELECT id FROM passkey_credentials WHERE identity_id = $1 AND NOT cloned_suspected',
        [identityId],
      );
      return rows.map((r) => r.id);
    },

    /** Whether the identity had a usable passkey at `since` (an ISO time). */
    async hadUsableAt(identityId: string, since: string): Promise<boolean> {
      const { rows } = await db.query(
        `SELECT 1 FROM passkey_credentials
          WHERE identity_id = $1 AND NOT cloned_suspected AND created_at <= $2 LIMIT 1`,
        [identityId, since],
      );
      return rows.length > 0;
    },

    /**
     * How many passkeys accounts have (among those with at most ten) and how long their ids
     * are (up to 1366 characters): value and number of occurrences, for decoys shaped alike.
     */
    async population(): Promise<{ counts: PopulationRow[]; lengths: PopulationRow[] }> {
      const [counts, lengths] = await Promise.all([
        db.query<PopulationRow>(
          `SELECT c.n::int AS value, count(*)::int AS n
             FROM (SELECT count(*) AS n FROM passkey_credentials GROUP BY identity_id) c
            WHERE c.n <= 10 GROUP BY c.n`,
        ),
        db.query<PopulationRow>(
          `SELECT length(id)::int AS value, count(*)::int AS n FROM passkey_credentials
            WHERE length(id) <= 1366 GROUP BY 1`,
        ),
      ]);
      return { counts: counts.rows, lengths: lengths.rows };
    },

    /** Stores a new credential; false when that credential id is registered already. */
    async add(p: NewPasskey): Promise<boolean> {
      const { rowCount } = await db.query(
        `INSERT INTO passkey_credentials
           (id, identity_id, public_key, counter, transports, aaguid, device_type, backed_up, nickname,
            registered_unverified)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO NOTHING`,
        [
          p.id,
          p.identityId,
          Buffer.from(p.publicKey),
          p.counter,
          p.transports,
          p.aaguid,
          p.deviceType,
          p.backedUp,
          p.nickname,
          p.registeredUnverified,
        ],
      );
      return rowCount === 1;
    },

    /**
     * After a verified assertion: the new counter, the backup state and the time of use.
     * The counter only moves forward (or stays 0 for authenticators without one), checked
     * in the same statement, so two racing assertions cannot both pass with one value.
     * False when the counter did not advance: a possible clone.
     */
    recordUse: (id: string, use: { counter: number; backedUp: boolean; usedAt: Date }) =>
      recordUses({ id, ...use }),

    async markCloned(id: string) {
      await db.query('UPDATE passkey_credentials SET cloned_suspected = true WHERE id = $1', [id]);
    },

    /**
     * Once someone proved the account's address: removes the passkeys registered while it
     * was unverified, except `keep` (the passkeys the proving session signed in with, which
     * are now simply the account's), and answers the removed ones.
     */
    async removeUnverifiedEra(identityId: string, keep: string[]): Promise<StoredPasskey[]> {
      return db.transaction(async (tx) => {
        await tx.query(
          'UPDATE passkey_credentials SET registered_unverified = false WHERE identity_id = $1 AND id = ANY($2)',
          [identityId, keep],
        );
        const { rows } = await tx.query<PasskeyRow>(
          'DELETE FROM passkey_credentials WHERE identity_id = $1 AND registered_unverified RETURNING *',
          [identityId],
        );
        return rows.map(toPasskey);
      });
    },
    /** Renames one of the identity's passkeys; false when it has no such passkey. */
    async rename(identityId: string, id: string, nickname: string): Promise<boolean> {
      const { rowCount } = await db.query(
        'UPDATE passkey_credentials SET nickname = $3 WHERE id = $1 AND identity_id = $2',
        [id, identityId, nickname],
      );
      return rowCount === 1;
    },

    /**
     * Deletes one of the identity's passkeys. With `keepOne` it refuses to delete the
     * last one; the identity's row is locked so two deletes cannot both pass the check.
     */
    async remove(
      identityId: string,
      id: string,
      options: { keepOne: boolean },
    ): Promise<'removed' | 'not_found' | 'last_one'> {
      return db.transaction(async (tx) => {
        await tx.query('SELECT 1 FROM passkey_users WHERE identity_id = $1 FOR UPDATE', [identityId]);
        const owned = await tx.query('SELECT 1 FROM passkey_credentials WHERE id = $1 AND identity_id = $2', [
          id,
          identityId,
        ]);
        if (owned.rows.length === 0) return 'not_found';
        if (options.keepOne && (await count(tx, identityId)) <= 1) return 'last_one';
        await tx.query('DELETE FROM passkey_credentials WHERE id = $1 AND identity_id = $2', [
          id,
          identityId,
        ]);
        return 'removed';
      });
    },
  };
}

export type PasskeyStore = ReturnType<typeof createPasskeyStore>;
