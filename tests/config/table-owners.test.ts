/**
 * One owner per table: the SQL that names a table lives in its owner's folder (passkeys
 * through the credential store, jars through the jar store, the audit log through audit/),
 * and every table the migrations create has an owner here.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const SRC = 'gateway/src';

/** Each table, and the one module (or folder, ending in /) allowed to query it. */
const OWNERS: Record<string, string> = {
  account_lockouts: 'lockout/lockout.ts',
  audit_events: 'audit/',
  email_factors: 'factors/email-factor.ts',
  sms_factors: 'factors/email-factor.ts',
  jar_files: 'jars/jar-store.ts',
  jar_grants: 'jars/jar-store.ts',
  jars: 'jars/jar-store.ts',
  key_backups: 'keys/operations/',
  key_rotations: 'keys/operations/',
  passkey_credentials: 'factors/passkey-store.ts',
  passkey_users: 'factors/passkey-store.ts',
  profiles: 'profiles/profile-store.ts',
  webhook_deliveries: 'hooks/deliveries.ts',
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

const migrations = readdirSync(join(SRC, 'db/migrations'))
  .filter((f) => f.endsWith('.sql'))
  .map((f) => readFileSync(join(SRC, 'db/migrations', f), 'utf8'))
  .join('\n');
const created = [...migrations.matchAll(/CREATE TABLE (?:IF NOT EXISTS )?([a-z_]+)/g)].map((m) => m[1]!);

describe('tables and their owners', () => {
  it('every table the migrations create has an owner', () => {
    assert.deepEqual([...new Set(created)].sort(), Object.keys(OWNERS).sort());
  });

  for (const [table, owner] of Object.entries(OWNERS)) {
    it(`${table} is queried only by ${owner}`, () => {
      const sql = new RegExp(`\\b(FROM|INTO|UPDATE|JOIN|TABLE)\\s+${table}\\b`);
      const users = sourceFiles(SRC)
        .map((file) => relative(SRC, file))
        .filter((file) => sql.test(readFileSync(join(SRC, file), 'utf8')));
      assert.ok(users.length > 0, `nothing queries ${table}`);
      const others = users.filter((file) => (owner.endsWith('/') ? !file.startsWith(owner) : file !== owner));
      assert.deepEqual(others, [], `${table} is queried outside ${owner}`);
    });
  }
});
