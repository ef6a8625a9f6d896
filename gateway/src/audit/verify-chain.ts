import type { Queryable } from '../db/database.js';
import { GENESIS_HASH, hashEvent } from './audit-log.js';
import { AUDIT_COLUMNS, fromRow, type AuditRow } from './audit-rows.js';

export type ChainReport =
  | { ok: true; checked: number; lastSeq: number }
  | { ok: false; checked: number; brokenAt: number; reason: string };

/**
 * Walks the whole audit chain in order and recomputes every hash. The first row whose
 * content no longer matches its hash, whose `prev_hash` is not the hash before it, or
 * whose `seq` leaves a gap (a deleted row) is named as the broken link.
 */
export async function verifyAuditChain(
  db: Queryable,
  options: { batchSize?: number } = {},
): Promise<ChainReport> {
  const batchSize = options.batchSize ?? 1000;
  let prevHash = GENESIS_HASH;
  let lastSeq = 0;
  let checked = 0;
  for (;;) {
    const { rows } = await db.query<AuditRow>(
      `SELECT ${AUDIT_COLUMNS} FROM audit_events WHERE seq > $1 ORDER BY seq LIMIT $2`,
      [lastSeq, batchSize],
    );
    if (rows.length === 0) return { ok: true, checked, lastSeq };
    for (const row of rows) {
      const event = fromRow(row);
      const broken = (reason: string): ChainReport => ({ ok: false, checked, brokenAt: event.seq, reason });
      if (event.seq !== lastSeq + 1) return broken(`seq ${lastSeq + 1} is missing`);
      if (event.prevHash !== prevHash) return broken('prev_hash is not the hash of the event before');
      if (hashEvent(prevHash, event) !== event.hash) return broken('the content does not match its hash');
      prevHash = event.hash;
      lastSeq = event.seq;
      checked += 1;
    }
  }
}
