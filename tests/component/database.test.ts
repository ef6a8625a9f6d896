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

    it('runs a prepared statement again and again, on every connection, and after a column is added', async () => {
      await db.query('CREATE TABLE prepared_probe (id int PRIMARY KEY, v text)');
      await db.query("INSERT INTO prepared_probe VALUES (1, 'one'), (2, 'two')");
      const read = db.prepared<{ id: number; v: string }>(
        'prepared-probe',
        'SELECT id, v FROM prepared_probe WHERE id = ANY($1) ORDER BY id',
      );
      // More at once than the pool has connections, so several connections prepare it.
      const answers = await Promise.all(Array.from({ length: 24 }, (_, i) => read([[1 + (i % 2)]])));
      answers.forEach((a, i) => assert.deepEqual(a.rows, [{ id: 1 + (i % 2), v: i % 2 ? 'two' : 'one' }]));
      // A migration of another replica adds a column: the statement names its columns, so it still runs.
      await db.query('ALTER TABLE prepared_probe ADD COLUMN w int');
      assert.deepEqual((await read([[1, 2]])).rows, [
        { id: 1, v: 'one' },
        { id: 2, v: 'two' },
      ]);
    });

    it('runs a transaction in two round trips, and rolls it back when its second part fails', async () => {
      await db.query('CREATE TABLE two_probe (v text UNIQUE)');
      const result = await db.transactionInTwo<{ n: string }, string>(
        "INSERT INTO two_probe VALUES ('a'); SELECT count(*) AS n FROM two_probe",
        async (opened) => ({ sql: `INSERT INTO two_probe VALUES ('b${opened.rows[0]?.n}')`, result: 'done' }),
      );
      assert.equal(result, 'done');
      await assert.rejects(
        db.transactionInTwo("INSERT INTO two_probe VALUES ('c')", async () => ({
          sql: "INSERT INTO two_probe VALUES ('a')",
          result: undefined,
        })),
      );
      const { rows } = await db.query<{ v: string }>('SELECT v FROM two_probe ORDER BY v');
      assert.deepEqual(
        rows.map((r) => r.v),
        ['a', 'b1'],
        'the failed transaction left nothing behind',
      );
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
