import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createAuditLog } from '../../gateway/src/audit/audit-log.js';
import { verifyAuditChain } from '../../gateway/src/audit/verify-chain.js';
import { runMigrations, type Database } from '../../gateway/src/db/database.js';
import { openTestDatabase } from '../helpers/database.js';

describe('audit log group commit', () => {
  let db: Database;
  let close: () => Promise<void>;
  before(async () => {
    ({ db, close } = await openTestDatabase({ migrated: true }));
  });
  after(() => close());

  it('commits many concurrent events as one unbroken chain, each caller resolved after its row', async () => {
    const audit = createAuditLog({ db, clock: () => new Date() });
    const events = Array.from({ length: 250 }, (_, i) =>
      audit.record({ type: 'login.password', outcome: 'success', identityId: `id-${i}`, details: { i } }),
    );
    await Promise.all(events);
    const { rows } = await db.query<{ n: string }>('SELECT count(*) AS n FROM audit_events');
    assert.equal(Number(rows[0]!.n), 250);
    const seen = await db.query<{ identity_id: string }>('SELECT identity_id FROM audit_events ORDER BY seq');
    assert.equal(new Set(seen.rows.map((r) => r.identity_id)).size, 250);
    const report = await verifyAuditChain(db);
    assert.equal(report.ok, true, JSON.stringify(report));
  });

  it('keeps the chain unbroken across two writers sharing the database (two replicas)', async () => {
    const a = createAuditLog({ db, clock: () => new Date() });
    const b = createAuditLog({ db, clock: () => new Date() });
    await Promise.all(
      Array.from({ length: 60 }, (_, i) =>
        (i % 2 ? a : b).record({ type: 'login.passkey', outcome: 'success' }),
      ),
    );
    assert.equal((await verifyAuditChain(db)).ok, true);
  });

  it('stores every value as given: quotes, backslashes, SQL and non-ASCII text in the columns and the details', async () => {
    const audit = createAuditLog({ db, clock: () => new Date() });
    const hostile = `a'b\\c"; DROP TABLE audit_events; --\\'\u00e9\u{1F511}`;
    await audit.record({
      type: 'login.password',
      outcome: 'failure',
      identityId: hostile,
      ip: "::ffff:1.2.3.4'",
      requestId: '\\x00',
      details: { identifier: hostile, nested: { quote: "it's", backslash: '\\' } },
    });
    const { rows } = await db.query<{
      identity_id: string;
      ip: string;
      request_id: string;
      details: unknown;
    }>('SELECT identity_id, ip, request_id, details FROM audit_events ORDER BY seq DESC LIMIT 1');
    assert.equal(rows[0]!.identity_id, hostile);
    assert.equal(rows[0]!.ip, "::ffff:1.2.3.4'");
    assert.equal(rows[0]!.request_id, '\\x00');
    assert.deepEqual(rows[0]!.details, { identifier: hostile, nested: { quote: "it's", backslash: '\\' } });
    assert.equal((await verifyAuditChain(db)).ok, true);
  });

  it('rejects every caller of a batch that cannot be written, and recovers afterwards', async () => {
    // No audit_events table yet: every write fails until the migrations ran.
    const { db: broken, close: closeBroken } = await openTestDatabase({ migrated: false });
    const audit = createAuditLog({ db: broken, clock: () => new Date() });
    await assert.rejects(audit.record({ type: 'session.logout', outcome: 'success' }), {
      code: 'audit_unavailable',
    });
    await runMigrations(broken);
    await audit.record({ type: 'session.logout', outcome: 'success' });
    await closeBroken();
  });
});
