import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { StoredAuditEvent } from './audit-log.js';

/** The `prev_hash` of the very first row. */
export const GENESIS_HASH = '0'.repeat(64);

/**
 * Marks a keyed row's hash: HMAC-SHA256 under the chain key. Rows without it are the
 * unkeyed prefix written before the keyed chain began (plain SHA-256, 64 hex characters).
 */
const KEYED_PREFIX = 'hmac-sha256:';

/** Deterministic JSON: object keys sorted at every depth, so the hash does not depend on key order. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

type RowContent = Omit<StoredAuditEvent, 'hash' | 'prevHash'>;

function rowBody(e: RowContent): string {
  return canonicalJson({
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
}

/** Unkeyed (legacy) link: SHA-256 over the previous hash and the canonical encoding of the row's content. */
export function hashEvent(prevHash: string, e: RowContent): string {
  return createHash('sha256').update(prevHash).update('\n').update(rowBody(e)).digest('hex');
}

/** Keyed link: HMAC-SHA256 under the chain key over the previous hash and the canonical row. */
export function keyedHash(key: Buffer, prevHash: string, e: RowContent): string {
  const mac = createHmac('sha256', key).update(prevHash).update('\n').update(rowBody(e)).digest('hex');
  return `${KEYED_PREFIX}${mac}`;
}

export const isKeyedHash = (hash: string) => hash.startsWith(KEYED_PREFIX);

/** Compares two hashes or MACs in constant time (for equal lengths; unequal lengths differ anyway). */
export function sameMac(a: string, b: string): boolean {
  const x = Buffer.from(a, 'utf8');
  const y = Buffer.from(b, 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}
