import type { Queryable } from '../db/database.js';

/** The profile fields the gateway keeps of an identity. */
export interface ProfileSnapshot {
  identityId: string;
  email: string;
  emailVerified: boolean;
  traits: Record<string, unknown>;
  /** Kratos' `updated_at` of the identity the snapshot was taken from, when known. */
  updatedAt?: string | undefined;
}

/**
 * Writes the snapshot into the `profiles` table. A snapshot older than the stored one
 * (by Kratos' `updated_at`) is ignored, so late or repeated deliveries never roll back.
 */
export async function saveProfile(db: Queryable, profile: ProfileSnapshot): Promise<void> {
  await db.query(
    `INSERT INTO profiles (identity_id, email, email_verified, traits, kratos_updated_at, synced_at)
     VALUES ($1, $2, $3, $4::jsonb, $5, now())
     ON CONFLICT (identity_id) DO UPDATE
       SET email = EXCLUDED.email, email_verified = EXCLUDED.email_verified, traits = EXCLUDED.traits,
           kratos_updated_at = COALESCE(EXCLUDED.kratos_updated_at, profiles.kratos_updated_at),
           synced_at = now()
     WHERE profiles.kratos_updated_at IS NULL OR EXCLUDED.kratos_updated_at IS NULL
        OR EXCLUDED.kratos_updated_at >= profiles.kratos_updated_at`,
    [
      profile.identityId,
      profile.email,
      profile.emailVerified,
      JSON.stringify(profile.traits),
      profile.updatedAt ?? null,
    ],
  );
}

/** The stored profile of an identity, if any. */
export async function findProfile(db: Queryable, identityId: string): Promise<ProfileSnapshot | undefined> {
  const { rows } = await db.query<{
    email: string;
    email_verified: boolean;
    traits: Record<string, unknown> | string;
    kratos_updated_at: Date | string | null;
  }>('SELECT email, email_verified, traits, kratos_updated_at FROM profiles WHERE identity_id = $1', [
    identityId,
  ]);
  const row = rows[0];
  if (!row) return undefined;
  return {
    identityId,
    email: row.email,
    emailVerified: row.email_verified,
    traits: typeof row.traits === 'string' ? (JSON.parse(row.traits) as Record<string, unknown>) : row.traits,
    updatedAt: row.kratos_updated_at ? new Date(row.kratos_updated_at).toISOString() : undefined,
  };
}
