import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createAuditLog } from '../../gateway/src/audit/audit-log.js';
import { verifyAuditChain } from '../../gateway/src/audit/verify-chain.js';
import { openDatabase, runMigrations, type Database } from '../../gateway/src/db/database.js';
import { aal1User, aal2User, type TestUser } from '../helpers/admin-session.js';
import { registerAccount } from '../helpers/account.js';
import { createTestDatabase, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';

const run = promisify(execFile);

/** Changes one stored row behind the trigger's back, as a superuser with direct database access could. */
async function tamper(db: Database, sql: string) {
  await db.query('ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only');
  try {
    await db.query(sql);
  } finally {
    await db.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only');
  }
}

describe('the audit_events table', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
    await new Browser(gw.auth).post('/login/password', {
      identifier: uniqueEmail(),
      password: 'wrong-password-1',
    });
    await registerAccount(gw, new Browser(gw.auth), { email: uniqueEmail(), password: STRONG_PASSWORD });
  });
  after(async () => {
    await gw?.close();
  });

  it('chains every event to the one before it, and verifies', async () => {
    const report = await gw.deps.audit.verify!();
    assert.equal(report.ok, true, JSON.stringify(report));
    assert.ok(report.checked >= 2);
  });

  it('keys its rows: without the chain key they cannot be checked, so nor recomputed', async () => {
    const report = await verifyAuditChain(gw.deps.db);
    assert.deepEqual(report.ok ? undefined : [report.brokenAt, report.reason], [
      1,
      'a keyed row, and no chain key to check it',
    ]);
  });

  it('refuses UPDATE, DELETE and TRUNCATE', async () => {
    await assert.rejects(
      gw.deps.db.query("UPDATE audit_events SET outcome = 'success'"),
      /append-only: UPDATE/,
    );
    await assert.rejects(gw.deps.db.query('DELETE FROM audit_events'), /append-only: DELETE/);
    await assert.rejects(gw.deps.db.query('TRUNCATE audit_events'), /append-only: TRUNCATE/);
  });

  it('fails the action (503) when the event cannot be written', async () => {
    await gw.deps.db.query('ALTER TABLE audit_events RENAME TO audit_events_away');
    try {
      const res = await new Browser(gw.auth).post('/login/password', {
        identifier: uniqueEmail(),
        password: 'wrong-password-1',
      });
      assert.equal(res.status, 503);
      assert.equal(res.body.error.code, 'audit_unavailable');
    } finally {
      await gw.deps.db.query('ALTER TABLE audit_events_away RENAME TO audit_events');
    }
  });

  it('names the first altered row when a row is changed directly in the database', async () => {
    const { rows } = await gw.deps.db.query<{ seq: string }>(
      'SELECT seq FROM audit_events ORDER BY seq LIMIT 1 OFFSET 1',
    );
    const seq = Number(rows[0]!.seq);
    await tamper(gw.deps.db, `UPDATE audit_events SET ip = '10.9.9.9' WHERE seq = ${seq}`);
    const report = await gw.deps.audit.verify!();
    assert.deepEqual(report.ok ? undefined : [report.brokenAt, report.reason], [
      seq,
      'the content does not match its MAC under the chain key',
    ]);
  });
});

describe('npm run audit -- verify', () => {
  let db: Database;
  let env: Record<string, string>;
  let cleanup: () => Promise<void>;

  before(async () => {
    // The CLI is a separate process: a server database (CI) or a PGlite directory both work.
    const server = await createTestDatabase();
    const dir = mkdtempSync(join(tmpdir(), 'gw-audit-cli-'));
    db = await openDatabase({ url: server.url, pgliteDir: dir });
    await runMigrations(db);
    const audit = createAuditLog({ db, clock: () => new Date() });
    for (const type of ['login.password', 'step_up.totp', 'session.logout', 'keys.rotated'] as const)
      await audit.record({ type, outcome: 'success', identityId: 'id-1', details: { n: type.length } });
    if (!server.url) await db.close();
    // An unkeyed chain (no key, no checkpoints in DATA_DIR) verifies as it always did.
    env = {
      DATA_DIR: join(dir, 'data'),
      ...(server.url ? { DATABASE_URL: server.url } : { PGLITE_DIR: dir }),
    };
    cleanup = async () => {
      if (server.url) await db.close();
      await server.drop();
      rmSync(dir, { recursive: true, force: true });
    };
  });
  after(async () => {
    await cleanup?.();
  });

  const cli = (...args: string[]) =>
    run(process.execPath, ['--import', 'tsx', 'gateway/src/cli/audit.ts', ...args], {
      env: { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'error', ...env },
    }).then(
      ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
      (err: { code: number; stdout: string; stderr: string }) => err,
    );

  it('says the chain is intact and exits 0', async () => {
    const res = await cli('verify');
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /audit chain intact: 4 events, last seq 4/);
  });

  it('names the broken link and exits non-zero after a row was altered', async () => {
    const target = env.DATABASE_URL ? db : await openDatabase({ pgliteDir: env.PGLITE_DIR! });
    await tamper(target, `UPDATE audit_events SET details = '{"n": 0}'::jsonb WHERE seq = 3`);
    if (!env.DATABASE_URL) await target.close();
    const res = await cli('verify');
    assert.equal(res.code, 1);
    assert.match(res.stderr, /BROKEN at seq 3: the content does not match its hash/);
  });
});

describe('GET /api/admin/audit', () => {
  let gw: TestGateway;
  let admin: TestUser;
  let user: TestUser;
  before(async () => {
    gw = await startTestGateway();
    admin = await aal2User(gw, ['admin']);
    user = await aal1User(gw);
    await new Browser(gw.auth).post('/login/password', {
      identifier: user.email,
      password: 'wrong-password-1',
    });
  });
  after(async () => {
    await gw?.close();
  });
  const query = (qs: string) => admin.browser.get(`/../admin/audit?${qs}`);

  it('filters by type, identity and outcome, newest first', async () => {
    const res = await query(`type=login.password&identity=${user.id}`);
    assert.equal(res.status, 200, JSON.stringify(res.body));
    assert.deepEqual(
      res.body.events.map((e: { type: string; outcome: string }) => `${e.type}:${e.outcome}`),
      ['login.password:success'],
    );
    const failures = await query('type=login.password&outcome=failure');
    assert.ok(failures.body.events.length >= 1);
    assert.ok(failures.body.events.every((e: { outcome: string }) => e.outcome === 'failure'));
  });

  it('filters a whole area with area.* and by time', async () => {
    const all = await query('type=step_up.*');
    assert.deepEqual(
      all.body.events.map((e: { type: string }) => e.type),
      ['step_up.totp'],
    );
    const future = await query(`from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`);
    assert.deepEqual(future.body.events, []);
    const past = await query(`to=${encodeURIComponent(new Date(Date.now() - 3_600_000).toISOString())}`);
    assert.deepEqual(past.body.events, []);
  });

  it('pages with a cursor on seq, without gaps or repeats', async () => {
    const seen: number[] = [];
    let cursor: number | undefined;
    do {
      const res = await query(`limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(res.status, 200);
      assert.ok(res.body.events.length <= 2);
      seen.push(...res.body.events.map((e: { seq: number }) => e.seq));
      cursor = res.body.nextCursor;
    } while (cursor);
    const max = seen[0]!;
    assert.deepEqual(
      seen,
      Array.from({ length: max }, (_, i) => max - i),
    );
  });

  it('rejects an unknown filter with 400', async () => {
    const res = await query('colour=red');
    assert.equal(res.status, 400);
    assert.equal(res.body.error.code, 'invalid_request');
  });
});
