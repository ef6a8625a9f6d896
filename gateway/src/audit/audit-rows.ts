import type { StoredAuditEvent } from './audit-log.js';

/** An `audit_events` row as the drivers return it. */
export interface AuditRow {
  seq: string | number;
  occurred_at: Date | string;
  type: string;
  outcome: string;
  identity_id: string | null;
  actor_id: string | null;
  ip: string | null;
  request_id: string | null;
  details: Record<string, unknown> | string | null;
  prev_hash: string;
  hash: string;
}

export const AUDIT_COLUMNS =
  'seq, occurred_at, type, outcome, identity_id, actor_id, ip, request_id, details, prev_hash, hash';

/**
 * The details column as stored (the driver gives JSON text or the parsed value): taken as it
 * is, whatever its shape, so that verification hashes exactly what the row holds.
 */
function storedDetails(details: AuditRow['details']): Record<string, unknown> {
  const value: unknown = typeof details === 'string' ? JSON.parse(details) : details;
  return (value ?? {}) as Record<string, unknown>;
}

/** The stored event of a row; absent values stay `null`, exactly as they were hashed. */
export function fromRow(row: AuditRow): StoredAuditEvent {
  return {
    seq: Number(row.seq),
    occurredAt: new Date(row.occurred_at).toISOString(),
    type: row.type,
    outcome: row.outcome as StoredAuditEvent['outcome'],
    identityId: row.identity_id as string,
    actorId: row.actor_id as string,
    ip: row.ip as string,
    requestId: row.request_id as string,
    details: storedDetails(row.details),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}
