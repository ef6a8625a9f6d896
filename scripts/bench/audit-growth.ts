/**
 * Audit insert rate on an empty chain and with a million rows present. The rows are
 * bulk-loaded with `generate_series` (a consistent chain of filler hashes), then one real
 * row is appended with its true hash, so `audit.record` continues a valid chain tail.
 */
import pg from 'pg';
import { createAuditLog, hashEvent, type StoredAuditEvent } from '../../gateway/src/audit/audit-log.js';
import { openDatabase, runMigrations, type Database } from '../../gateway/src/db/database.js';

export interface AuditRate {
  rows: number;
  /** Events a second, one writer awaiting each (what a request does). */
  sequentialPerSecond: number;
  /** Events a second with 8 writers at once (they serialise on the chain lock). */
  concurrentPerSecond: number;
}

async function rate(db: Database, writers: number, seconds: number): Promise<number> {
  const audit = createAuditLog({ db, clock: () => new Date() });
  const end = Date.now() + seconds * 1000;
  let done = 0;
  await Promise.all(
    Array.from({ length: writers }, async () => {
      while (Date.now() < end) {
        // A type of the catalogue, recorded as a password login records it.
        await audit.record({
          type: 'login.password',
          outcome: 'success',
          identityId: 'bench',
          details: { n: done },
        });
        done++;
      }
    }),
  );
  return done / seconds;
}

async function measureAt(db: Database, seconds: number): Promise<AuditRate> {
  const count = await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events');
  return {
    rows: Number(count.rows[0]!.n),
    sequentialPerSecond: await rate(db, 1, seconds),
    concurrentPerSecond: await rate(db, 8, seconds),
  };
}

/**
 * Appends `rows - 1` filler rows and one genuinely hashed tail row after whatever is there.
 * Runs on its own connection: the gateway pool's query timeout is meant for requests, not bulk loads.
 */
async function bulkLoad(url: string, rows: number): Promise<void> {
  const db = new pg.Client({ connectionString: url });
  await db.connect();
  try {
    await appendRows(db, rows);
  } finally {
    await db.end();
  }
}

async function appendRows(db: pg.Client, rows: number): Promise<void> {
  const last = await db.query<{ seq: string }>('SELECT coalesce(max(seq), 0) AS seq FROM audit_events');
  const from = Number(last.rows[0]!.seq) + 1;
  const to = from + rows - 2;
  await db.query(
    `INSERT INTO audit_events (seq, occurred_at, type, outcome, identity_id, details, prev_hash, hash)
     SELECT g, now() - make_interval(secs => $2::bigint - g), 'bench.filler', 'success', 'id-' || (g % 5000),
            '{}'::jsonb, repeat(md5((g - 1)::text), 2), repeat(md5(g::text), 2)
     FROM generate_series($1::bigint, $2::bigint) AS g`,
    [from, to],
  );
  const tail = await db.query<{ hash: string }>('SELECT hash FROM audit_events WHERE seq = $1', [to]);
  const row = {
    seq: to + 1,
    occurredAt: new Date().toISOString(),
    type: 'bench.tail',
    outcome: 'success',
    identityId: null,
    actorId: null,
    ip: null,
    requestId: null,
    details: {},
  } as unknown as Omit<StoredAuditEvent, 'hash' | 'prevHash'>;
  const prevHash = tail.rows[0]!.hash;
  await db.query(
    `INSERT INTO audit_events (seq, occurred_at, type, outcome, details, prev_hash, hash)
     VALUES ($1, $2, $3, $4, '{}'::jsonb, $5, $6)`,
    [row.seq, row.occurredAt, row.type, row.outcome, prevHash, hashEvent(prevHash, row)],
  );
  await db.query('ANALYZE audit_events');
}

/** The audit insert rate on an empty table and with `rows` rows present, in one throwaway database. */
export async function auditGrowth(url: string, rows: number, seconds: number) {
  const db = await openDatabase({ url, pgliteDir: 'memory' });
  try {
    await runMigrations(db);
    const empty = await measureAt(db, seconds);
    const loadStarted = Date.now();
    await bulkLoad(url, rows);
    const loadSeconds = (Date.now() - loadStarted) / 1000;
    const full = await measureAt(db, seconds);
    return { empty, full, loadSeconds };
  } finally {
    await db.close();
  }
}
