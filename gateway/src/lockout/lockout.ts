import type { AuditLog } from '../audit/audit-log.js';
import type { EventContext } from '../audit/request-event.js';
import type { Config } from '../config.js';
import type { Database } from '../db/database.js';
import { AppError } from '../errors/app-error.js';
import type { KratosIdentity } from '../kratos/types.js';
import type { KratosClient } from '../kratos/client.js';
import { identifierKey } from '../security/client-key.js';
import { sendLockoutNotice, type NoticeDeps } from './lockout-notice.js';

/** What the password lockout uses. */
export type LockoutDeps = NoticeDeps & {
  config: Pick<Config, 'LOCKOUT_MAX_FAILURES' | 'LOCKOUT_WINDOW_SECONDS' | 'LOCKOUT_DURATION_SECONDS'>;
  db: Database;
  audit: AuditLog;
  kratos: Pick<KratosClient, 'findIdentityByIdentifier'>;
  clock: () => Date;
};

/**
 * Account lockout for password login (Kratos has none, ory/kratos #3037). Failures are
 * counted per login identifier, hashed, in Postgres: a lock survives restarts and holds
 * on every replica. Unknown identifiers are counted and locked exactly like known ones,
 * so a 423 says nothing about whether an account exists. Passkey login never looks here.
 */

interface LockRow {
  failures: number;
  locked_until: string | Date | null;
}

const secondsUntil = (until: string | Date, now: Date) =>
  Math.max(1, Math.ceil((new Date(until).getTime() - now.getTime()) / 1000));

function lockedError(lockedUntil: string | Date, now: Date): AppError {
  const retryAfterSeconds = secondsUntil(lockedUntil, now);
  return new AppError(
    'account_locked',
    423,
    'Password sign-in is locked after too many failed attempts. Try again later, or sign in with a passkey.',
    {
      details: { retryAfterSeconds, lockedUntil: new Date(lockedUntil).toISOString() },
      headers: { 'Retry-After': String(retryAfterSeconds) },
    },
  );
}

/**
 * Refuses (423, audited) a password login for a locked identifier, before the password is
 * checked; a sign-in by e-mailed code (`method: 'code'`) is refused alike.
 */
export async function assertNotLocked(
  deps: LockoutDeps,
  ctx: EventContext,
  identifier: string,
  method: 'password' | 'code' = 'password',
): Promise<void> {
  const now = deps.clock();
  const { rows } = await deps.db.query<LockRow & { identity_id: string | null }>(
    'SELECT failures, locked_until, identity_id FROM account_lockouts WHERE identifier_hash = $1 AND locked_until > $2::timestamptz',
    [identifierKey(identifier), now.toISOString()],
  );
  const lock = rows[0];
  if (!lock?.locked_until) return;
  await deps.audit.record({
    type: method === 'code' ? 'login.code' : 'login.password',
    outcome: 'denied',
    identityId: lock.identity_id ?? undefined,
    ip: ctx.ip,
    requestId: ctx.requestId,
    details: { method, reason: 'account_locked' },
  });
  throw lockedError(lock.locked_until, now);
}

/** Counts one failure in the current window (a new window starts when the old one or an old lock ran out). */
async function countFailure(deps: LockoutDeps, hash: string, now: Date): Promise<LockRow> {
  const { rows } = await deps.db.query<LockRow>(
    `INSERT INTO account_lockouts AS l (identifier_hash, failures, window_started_at, locked_until, updated_at)
     VALUES ($1, 1, $2::timestamptz, NULL, $2::timestamptz)
     ON CONFLICT (identifier_hash) DO UPDATE SET
       failures = CASE WHEN l.window_started_at <= $2::timestamptz - $3::int * interval '1 second'
                         OR l.locked_until <= $2::timestamptz THEN 1 ELSE l.failures + 1 END,
       window_started_at = CASE WHEN l.window_started_at <= $2::timestamptz - $3::int * interval '1 second'
                         OR l.locked_until <= $2::timestamptz THEN $2::timestamptz ELSE l.window_started_at END,
       locked_until = CASE WHEN l.locked_until <= $2::timestamptz THEN NULL ELSE l.locked_until END,
       updated_at = $2::timestamptz
     RETURNING failures, locked_until`,
    [hash, now.toISOString(), deps.config.LOCKOUT_WINDOW_SECONDS],
  );
  const [row] = rows;
  if (!row) throw new Error('account_lockouts: the upsert returned no row');
  return row;
}

/** Sets the lock; only the one request that set it gets `true` (so one e-mail goes out). */
async function lock(deps: LockoutDeps, hash: string, identityId: string | undefined, now: Date) {
  const until = new Date(now.getTime() + deps.config.LOCKOUT_DURATION_SECONDS * 1000);
  const { rows } = await deps.db.query(
    `UPDATE account_lockouts SET locked_until = $2::timestamptz, identity_id = $3, updated_at = $4::timestamptz
     WHERE identifier_hash = $1 AND locked_until IS NULL RETURNING identifier_hash`,
    [hash, until.toISOString(), identityId ?? null, now.toISOString()],
  );
  return { lockedNow: rows.length > 0, until };
}

/**
 * Records a wrong password for `identifier`. When it is the failure that reaches
 * LOCKOUT_MAX_FAILURES within LOCKOUT_WINDOW_SECONDS, the identifier is locked for
 * LOCKOUT_DURATION_SECONDS, the lock is audited, the owner is told by e-mail, and this
 * attempt already answers 423.
 */
export async function recordPasswordFailure(
  deps: LockoutDeps,
  ctx: EventContext,
  identifier: string,
): Promise<void> {
  const now = deps.clock();
  const hash = identifierKey(identifier);
  const row = await countFailure(deps, hash, now);
  if (row.failures < deps.config.LOCKOUT_MAX_FAILURES) return;
  // Another request locked it a moment ago.
  if (row.locked_until) throw lockedError(row.locked_until, now);
  const identity = await deps.kratos.findIdentityByIdentifier(identifier);
  const { lockedNow, until } = await lock(deps, hash, identity?.id, now);
  if (lockedNow) {
    await deps.audit.record({
      type: 'account.locked',
      outcome: 'success',
      identityId: identity?.id,
      ip: ctx.ip,
      requestId: ctx.requestId,
      details: { failures: row.failures, lockedUntil: until.toISOString(), known: identity !== undefined },
    });
    if (identity) await sendLockoutNotice(deps, identity, until);
  }
  throw lockedError(until, now);
}

/** A successful password login starts the count afresh. */
export async function clearPasswordFailures(deps: LockoutDeps, identifier: string): Promise<void> {
  await deps.db.query('DELETE FROM account_lockouts WHERE identifier_hash = $1 AND locked_until IS NULL', [
    identifierKey(identifier),
  ]);
}

/** The lock on an identity's password login, if any. */
export async function lockoutStatus(
  deps: Pick<LockoutDeps, 'db' | 'clock'>,
  identity: Pick<KratosIdentity, 'id' | 'email'>,
): Promise<{ locked: boolean; lockedUntil?: string; failures: number }> {
  const { rows } = await deps.db.query<LockRow>(
    'SELECT failures, locked_until FROM account_lockouts WHERE identity_id = $1 OR identifier_hash = $2',
    [identity.id, identifierKey(identity.email)],
  );
  const now = deps.clock().getTime();
  const active = rows.find((r) => r.locked_until && new Date(r.locked_until).getTime() > now);
  if (active?.locked_until) {
    return {
      locked: true,
      lockedUntil: new Date(active.locked_until).toISOString(),
      failures: active.failures,
    };
  }
  return { locked: false, failures: rows[0]?.failures ?? 0 };
}

/** Lifts the lock and forgets the failures of an identity (admin unlock); true when there was a lock. */
export async function unlockIdentity(
  deps: Pick<LockoutDeps, 'db' | 'clock'>,
  identity: Pick<KratosIdentity, 'id' | 'email'>,
): Promise<boolean> {
  const status = await lockoutStatus(deps, identity);
  await deps.db.query('DELETE FROM account_lockouts WHERE identity_id = $1 OR identifier_hash = $2', [
    identity.id,
    identifierKey(identity.email),
  ]);
  return status.locked;
}
