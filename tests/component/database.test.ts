import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { openDatabase, runMigrations, type Database } from '../../gateway/src/db/database.js';
import { openTestPglite } from '../helpers/database.js';
import { createTestDatabase } from '../helpers/gateway.js';

/** The same adapter contract on both engines: PGlite (embedded) and the real Postgres server. */
const engines: { name: string; open: () => Promise<{ db: Database; drop(): Promise<void> }> }[] = [
  {
    name: 'PGlite',
    open: async () => ({ db: await openTestPglite({ migrated: false }), drop: async () => undefined }),
  },
];
if (process.env.DATABASE_URL) {
  engines.push({
    name: 'Postgres',
    open: async () => {
      const t = await createTestDatabase();
      return { db: await openDatabase({ url: t.url, pgliteDir: 'memory' }), drop: t.drop };
    },
  });
} else if (process.env.CI) {
  throw new Error('CI must provide DATABASE_URL so the adapter is tested against real Postgres');
}

for (const engine of engines) {
  describe(`database adapter on ${engine.name}`, async () => {
    const { db, drop } = await engine.open();
    after(async () => {
      await db.close();
      await drop();
    });

    it('applies every migration once, and again is a no-op', async () => {
      const first = await runMigrations(db);
      assert.ok(first.includes('001_audit_events.sql'));
      assert.deepEqual(await runMigrations(db), []);
    });

    it('runs parameterised queries', async () => {
      const { rows } = await db.query<{ n: number }>('SELECT $1::int + 1 AS n', [41]);
      assert.equal(rows[0]?.n, 42);
    });

    it('rolls a failed transaction back', async () => {
      await db.query('CREATE TABLE IF NOT EXISTS tx_probe (v text)');
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.query('INSERT INTO tx_probe (v) VALUES ($1)', ['lost']);
          throw new Error('boom');
        }),
      );
      const { rows } = await db.query('SELECT * FROM tx_probe');
      assert.equal(rows.length, 0);
    });

    it('refuses UPDATE and DELETE on the audit log', async () => {
      await db.query(
        `INSERT INTO audit_events (seq, occurred_at, type, outcome, prev_hash, hash) VALUES (1, now(), 't', 'success', 'a', 'b')`,
      );
      await assert.rejects(db.query(`UPDATE audit_events SET type = 'x'`), /append-only/);
      await assert.rejects(db.query(`DELETE FROM audit_events`), /append-only/);
    });
  });
}
