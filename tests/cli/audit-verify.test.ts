/**
 * `npm run audit -- verify` against the owner of the database: someone who can disable the
 * append-only trigger and rewrite `audit_events` at will, but holds neither the chain key
 * nor the data directory. Each scenario is an old unkeyed prefix (rows written before the
 * keyed chain) followed by keyed rows with signed checkpoints in DATA_DIR.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createAuditLog } from '../../gateway/src/audit/audit-log.js';
import { fromRow, AUDIT_COLUMNS, type AuditRow } from '../../gateway/src/audit/audit-rows.js';
import { GENESIS_HASH, hashEvent } from '../../gateway/src/audit/chain-hash.js';
import { checkpointDir, CHECKPOINT_FILE, signCheckpoint } from '../../gateway/src/audit/checkpoints.js';
import { openDatabase, runMigrations, type Database } from '../../gateway/src/db/database.js';
import { createTestDatabase } from '../helpers/gateway.js';

interface Scenario {
  dir: string;
  env: Record<string, string>;
  key: Buffer;
  checkpointFile: string;
  /** Runs SQL as the database owner, with the append-only trigger disabled meanwhile. */
  asOwner(work: (db: Database) => Promise<void>): Promise<void>;
}

const cleanups: (() => Promise<void>)[] = [];
after(async () => {
  for (const cleanup of cleanups) await cleanup();
});

/** 3 unkeyed rows (the old gateway), then 7 keyed rows with a checkpoint every 3 and at close. */
async function scenario(): Promise<Scenario> {
  const server = await createTestDatabase();
  const dir = await mkdtemp(join(tmpdir(), 'gw-audit-verify-'));
  const key = randomBytes(32);
  const keyFile = join(dir, 'audit-chain.key');
  await writeFile(keyFile, key.toString('base64'), { mode: 0o600 });
  const dataDir = join(dir, 'data');
  const open = () => openDatabase({ url: server.url, pgliteDir: join(dir, 'pglite') });
  const db = await open();
  await runMigrations(db);
  const legacy = createAuditLog({ db, clock: () => new Date() });
  for (const type of ['login.password', 'step_up.totp', 'session.logout'] as const)
    await legacy.record({ type, outcome: 'success', identityId: 'id-1', details: { n: type.length } });
  const keyed = createAuditLog({
    db,
    clock: () => new Date(),
    chain: { key, checkpointDir: checkpointDir(dataDir), everyEvents: 3, intervalSeconds: 0 },
  });
  for (let i = 0; i < 7; i++)
    await keyed.record({ type: 'login.password', outcome: 'failure', identityId: `id-${i}`, details: { i } });
  await keyed.close?.();
  await db.close();
  cleanups.push(async () => {
    await server.drop();
    await rm(dir, { recursive: true, force: true });
  });
  return {
    dir,
    key,
    checkpointFile: join(checkpointDir(dataDir), CHECKPOINT_FILE),
    env: {
      DATA_DIR: dataDir,
      AUDIT_CHAIN_KEY_FILE: keyFile,
      ...(server.url ? { DATABASE_URL: server.url } : { PGLITE_DIR: join(dir, 'pglite') }),
    },
    async asOwner(work) {
      const target = await open();
      try {
        await target.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
        await work(target);
        await target.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only');
      } finally {
        await target.close();
      }
    },
  };
}

function verify(env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'gateway/src/cli/audit.ts', 'verify'],
      {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, NODE_ENV: 'test', LOG_LEVEL: 'error', ...env },
      },
      (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Rewrites every row from `fromSeq` on as the old verifier expects: plain SHA-256 links. */
async function recomputeUnkeyed(db: Database, fromSeq: number, change: (row: AuditRow) => void) {
  const { rows } = await db.query<AuditRow>(`SELECT ${AUDIT_COLUMNS} FROM audit_events ORDER BY seq`);
  let prevHash = GENESIS_HASH;
  for (const row of rows) {
    const seq = Number(row.seq);
    if (seq >= fromSeq) {
      if (seq === fromSeq) change(row);
      const event = fromRow({ ...row, prev_hash: prevHash });
      const hash = hashEvent(prevHash, event);
      await db.query(
        'UPDATE audit_events SET ip = $1, details = $2, prev_hash = $3, hash = $4 WHERE seq = $5',
        [row.ip, JSON.stringify(event.details), prevHash, hash, seq],
      );
      prevHash = hash;
    } else prevHash = row.hash;
  }
}

describe('npm run audit -- verify, against the owner of the database', () => {
  it('passes a clean log: the old unkeyed prefix, then keyed rows and checkpoints, and prints no key', async () => {
    const s = await scenario();
    const res = await verify(s.env);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /audit chain intact: 10 events, last seq 10/);
    assert.match(res.stdout, /keyed chain: from seq 4 \(key from AUDIT_CHAIN_KEY\)/);
    // One at the start, one each time 3 more events were committed (group commit decides
    // how many at once, so the count varies with timing) and one at close.
    assert.match(res.stdout, /checkpoints: [3-9] in .*, newest at seq 10/);
    for (const secret of [s.key.toString('base64'), s.key.toString('hex')])
      assert.ok(!`${res.stdout}${res.stderr}`.includes(secret), 'the key is never printed');
  });

  it('fails when the newest rows were deleted with the trigger disabled', async () => {
    const s = await scenario();
    await s.asOwner((db) => db.query('DELETE FROM audit_events WHERE seq > 8').then(() => undefined));
    const res = await verify(s.env);
    assert.equal(res.code, 1, res.stdout);
    assert.match(
      res.stderr,
      /BROKEN at seq 9: the table ends at seq 8, but the (periodic|shutdown) checkpoint of .* vouches for seq 10: the newest rows were removed/,
    );
  });

  it('fails when a keyed row was rewritten and the chain recomputed without the key', async () => {
    const s = await scenario();
    await s.asOwner((db) => recomputeUnkeyed(db, 6, (row) => (row.ip = '10.9.9.9')));
    const res = await verify(s.env);
    assert.equal(res.code, 1, res.stdout);
    assert.match(
      res.stderr,
      /BROKEN at seq 6: an unkeyed row after the keyed chain began at seq 4: rewritten/,
    );
  });

  it('fails when a row of the old unkeyed prefix was rewritten and the whole chain recomputed', async () => {
    const s = await scenario();
    await s.asOwner((db) => recomputeUnkeyed(db, 2, (row) => (row.details = { n: 0 })));
    const res = await verify(s.env);
    assert.equal(res.code, 1, res.stdout);
    assert.match(res.stderr, /BROKEN at seq 3: the row differs from the start checkpoint .*: rewritten/);
  });

  it('fails when a checkpoint was altered, or one forged without the key', async () => {
    const s = await scenario();
    const lines = (await readFile(s.checkpointFile, 'utf8')).trimEnd().split('\n');
    const newest = JSON.parse(lines.at(-1)!) as { seq: number };
    // Moving the newest checkpoint back would hide a truncation: the MAC no longer matches.
    lines[lines.length - 1] = JSON.stringify({ ...newest, seq: 8 });
    await writeFile(s.checkpointFile, `${lines.join('\n')}\n`);
    const altered = await verify(s.env);
    assert.equal(altered.code, 1, altered.stdout);
    assert.match(
      altered.stderr,
      new RegExp(
        `checkpoint file line ${lines.length} \\(seq 8\\) is not signed by the chain key: altered or forged`,
      ),
    );

    const forged = signCheckpoint(randomBytes(32), {
      kind: 'periodic',
      seq: 8,
      head: 'x',
      at: new Date().toISOString(),
    });
    lines[lines.length - 1] = JSON.stringify(forged);
    await writeFile(s.checkpointFile, `${lines.join('\n')}\n`);
    const res = await verify(s.env);
    assert.equal(res.code, 1, res.stdout);
    assert.match(res.stderr, new RegExp(`line ${lines.length} \\(seq 8\\) is not signed by the chain key`));
  });

  it('fails, without crashing, when the chain key is not the one the rows were written with', async () => {
    const s = await scenario();
    await writeFile(s.env.AUDIT_CHAIN_KEY_FILE!, randomBytes(32).toString('base64'));
    const res = await verify(s.env);
    assert.equal(res.code, 1, res.stdout);
    assert.match(res.stderr, /not signed by the chain key/);
  });
});
