import { createHash } from 'node:crypto';
import type { Database, Queryable } from '../db/database.js';
import { AppError } from '../http/errors.js';

export type AuditOutcome = 'success' | 'failure' | 'denied';

/** One thing that happened, as the caller describes it. */
export interface AuditEvent {
  type: string;
  outcome: AuditOutcome;
  identityId?: string | undefined;
  actorId?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
  details?: Record<string, unknown> | undefined;
}

/** A stored event, with its place in the chain. */
export interface StoredAuditEvent extends Required<Omit<AuditEvent, 'details'>> {
  seq: number;
  occurredAt: string;
  details: Record<string, unknown>;
  prevHash: string;
  hash: string;
}

export interface AuditLog {
  /** Appends the event; throws (and the action must fail) if it cannot be written. */
  record(event: AuditEvent): Promise<void>;
}

export const GENESIS_HASH = '0'.repeat(64);

/** Deterministic JSON: object keys sorted at every depth, so the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

/** SHA-256 over the previous hash and the canonical encoding of the row's content. */
export function hashEvent(prevHash: string, e: Omit<StoredAuditEvent, 'hash' | 'prevHash'>): string {
  const body = canonicalJson({
    seq: e.seq,
    occurredAt: e.occurredAt,
    type: e.type,
    outcome: e.outcome,
    identityId: e.identityId,
    actorId: e.actorId,
    ip: e.ip,
    requestId: e.requestId,
    details: e.details,
  });
  return createHash('sha256').update(prevHash).update('\n').update(body).digest('hex');
}

// Serialises writers across every replica, so the chain never forks.
const CHAIN_LOCK = 727275;
// Rows per INSERT statement (11 parameters each stays far below Postgres' 65535 limit).
const ROWS_PER_STATEMENT = 200;

interface Pending {
  event: AuditEvent;
  at: Date;
  resolve: () => void;
  reject: (err: unknown) => void;
}

function toRow(seq: number, event: AuditEvent, at: Date): Omit<StoredAuditEvent, 'hash' | 'prevHash'> {
  return {
    seq,
    // Millisecond precision, so the timestamp read back from Postgres hashes the same.
    occurredAt: new Date(Math.floor(at.getTime())).toISOString(),
    type: event.type,
    outcome: event.outcome,
    identityId: event.identityId ?? null,
    actorId: event.actorId ?? null,
    ip: event.ip ?? null,
    requestId: event.requestId ?? null,
    details: event.details ?? {},
  } as unknown as Omit<StoredAuditEvent, 'hash' | 'prevHash'>;
}

/** Appends a batch of events to the chain in one transaction, under the chain lock. */
async function appendBatch(tx: Queryable, batch: Pending[]): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK]);
  const last = await tx.query<{ seq: string; hash: string }>(
    'SELECT seq, hash FROM audit_events ORDER BY seq DESC LIMIT 1',
  );
  let prevHash = last.rows[0]?.hash ?? GENESIS_HASH;
  let seq = Number(last.rows[0]?.seq ?? 0);
  const values: unknown[][] = batch.map(({ event, at }) => {
    const row = toRow(++seq, event, at);
    const hash = hashEvent(prevHash, row);
    const params = [
      row.seq,
      row.occurredAt,
      row.type,
      row.outcome,
      row.identityId,
      row.actorId,
      row.ip,
      row.requestId,
      JSON.stringify(row.details),
      prevHash,
      hash,
    ];
    prevHash = hash;
    return params;
  });
  for (let i = 0; i < values.length; i += ROWS_PER_STATEMENT) {
    const chunk = values.slice(i, i + ROWS_PER_STATEMENT);
    const tuples = chunk.map(
      (_, r) => `(${Array.from({ length: 11 }, (_, c) => `$${r * 11 + c + 1}`).join(', ')})`,
    );
    await tx.query(
      `INSERT INTO audit_events (seq, occurred_at, type, outcome, identity_id, actor_id, ip, request_id, details, prev_hash, hash)
       VALUES ${tuples.join(', ')}`,
      chunk.flat(),
    );
  }
}

/**
 * The Postgres-backed, hash-chained audit log. Writes are group-committed: events that
 * arrive while a transaction is in flight are appended together in the next one, so the
 * chain lock and the commit are paid once per batch instead of once per event. Every
 * `record` still resolves only after its own row is committed.
 */
export function createAuditLog(deps: { db: Database; clock: () => Date }): AuditLog {
  let queue: Pending[] = [];
  let flushing = false;

  async function flush() {
    flushing = true;
    while (queue.length > 0) {
      const batch = queue;
      queue = [];
      try {
        await deps.db.transaction((tx) => appendBatch(tx, batch));
        for (const p of batch) p.resolve();
      } catch (err) {
        const failure = new AppError(
          'audit_unavailable',
          503,
          'The action could not be recorded and was not performed.',
          {
            cause: err,
          },
        );
        for (const p of batch) p.reject(failure);
      }
    }
    flushing = false;
  }

  return {
    record(event) {
      return new Promise<void>((resolve, reject) => {
        queue.push({ event, at: deps.clock(), resolve, reject });
        if (!flushing) void flush();
      });
    },
  };
}
