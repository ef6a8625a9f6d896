import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openDatabase, runMigrations, type Database } from '../../gateway/src/db/database.js';
import { createBodyStore } from '../../gateway/src/files/body-store.js';
import { jarStore } from '../../gateway/src/jars/jar-store.js';
import { uploadFile } from '../../gateway/src/jars/upload-file.js';
import { createVaultClient } from '../../gateway/src/keys/vault-client.js';
import { createVaultKeyService } from '../../gateway/src/keys/vault-key-service.js';
import { startVaultDouble, type VaultDouble } from '../doubles/vault/index.js';
import { createTestDatabase } from '../helpers/gateway.js';

const FILES = 5;
let vault: VaultDouble;
let dir: string;
let database: { url?: string; drop(): Promise<void> };

/** Opens the test database; PGlite allows one process at a time, so it is closed before the CLI runs. */
async function withDb<T>(work: (db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase({ url: database.url, pgliteDir: join(dir, 'pglite') });
  try {
    return await work(db);
  } finally {
    await db.close();
  }
}

function cli(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = {
    ...process.env,
    NODE_ENV: 'test',
    KEYS_BACKEND: 'vault',
    VAULT_ADDR: vault.url,
    VAULT_TOKEN: vault.rootToken,
    DATA_DIR: dir,
    PGLITE_DIR: join(dir, 'pglite'),
    DATABASE_URL: database.url ?? '',
    USER: 'test-operator',
  };
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', 'gateway/src/cli/encryption-keys.ts', ...args],
      { env },
      (error, stdout, stderr) => {
        resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr });
      },
    );
  });
}

async function seedFiles(): Promise<void> {
  const client = createVaultClient({ addr: vault.url, auth: { token: vault.rootToken }, timeoutMs: 2000 });
  const keys = createVaultKeyService({ client, mount: 'transit', keyName: 'gateway-files' });
  const bodies = createBodyStore(join(dir, 'files'));
  await withDb(async (db) => {
    await runMigrations(db);
    const jar = await jarStore.insertJar(db, {
      id: randomUUID(),
      ownerId: 'owner-1',
      name: 'Jar',
      restricted: false,
    });
    for (let i = 0; i < FILES; i++) {
      const body = Readable.from([randomBytes(5_000 + i * 70_000)]);
      await uploadFile(
        { db, keys, bodies },
        {
          jar,
          uploadedBy: 'owner-1',
          name: `f${i}`,
          contentType: 'application/octet-stream',
          body,
          maxBytes: 1e7,
        },
      );
    }
  });
}

const versions = () =>
  withDb(async (db) =>
    (await db.query<{ key_version: number }>('SELECT key_version FROM jar_files')).rows.map(
      (r) => r.key_version,
    ),
  );

describe('encryption-keys CLI against the Vault double', () => {
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keys-cli-'));
    database = await createTestDatabase();
    vault = await startVaultDouble();
    vault.transit.create('gateway-files', { derived: true, exportable: true, allow_plaintext_backup: true });
    vault.transit.create('gateway-audit-chain', {});
    await seedFiles();
  });
  after(async () => {
    await vault.close();
    await database.drop();
    await rm(dir, { recursive: true, force: true });
  });

  it('status shows health, versions and data keys per version', async () => {
    const { code, stdout } = await cli('status');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /healthy:\s+yes/);
    assert.match(stdout, /min decryption version: 1/);
    assert.match(stdout, new RegExp(`data keys per version:\\s+v1: ${FILES}`));
    assert.match(stdout, /last backup:\s+never/);
  });

  it('rotate pauses after --max-batches and a second run resumes, rewraps all and raises the minimum', async () => {
    const first = await cli('rotate', '--batch-size', '2', '--max-batches', '1');
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /rotated to v2: 2 rewrapped, 0 failed/);
    assert.match(first.stdout, /paused with 3 data keys left/);
    assert.match(first.stderr, /rewrapping \[#+\.+\] 2\/5/);
    const second = await cli('rotate', '--batch-size', '2', '--raise-min-decryption-version');
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /resumed rotation to v2: 5 rewrapped/);
    assert.match(second.stdout, /min decryption version raised to 2/);
    assert.deepEqual(await versions(), Array(FILES).fill(2));
    assert.equal(vault.transit.get('gateway-files').minDecryptionVersion, 2);
    assert.equal(vault.transit.get('gateway-files').latestVersion, 2);
  });

  it('verify decrypts every file after the rotation', async () => {
    const { code, stdout } = await cli('verify', '--all');
    assert.equal(code, 0, stdout);
    assert.match(stdout, new RegExp(`verified ${FILES} files: 0 failed`));
  });

  it('backup writes a bundle once and refuses to overwrite it', async () => {
    const out = join(dir, 'keys-backup.json');
    const first = await cli('backup', '--out', out);
    assert.equal(first.code, 0, first.stderr);
    const bundle = JSON.parse(await readFile(out, 'utf8'));
    assert.equal(bundle.manifest.length, FILES);
    assert.equal(typeof bundle.keyBackup, 'string');
    const again = await cli('backup', '--out', out);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /already exists/);
    assert.match((await cli('status')).stdout, /last backup:\s+\S+ keys-backup\.json/);
  });

  it('restore --dry-run restores next to the live key and proves the canary decrypts', async () => {
    const { code, stdout } = await cli('restore', '--in', join(dir, 'keys-backup.json'), '--dry-run');
    assert.equal(code, 0, stdout);
    assert.match(stdout, /dry run: restored to gateway-files-restore-check-\d+; the canary decrypts/);
    assert.ok(vault.transit.list().some((name) => name.startsWith('gateway-files-restore-check-')));
  });

  it('after the key is destroyed, verify fails, and restore brings every file back', async () => {
    vault.transit.configure('gateway-files', { deletion_allowed: true });
    vault.transit.delete('gateway-files');
    const broken = await cli('verify', '--all');
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /FAILED/);
    const restored = await cli('restore', '--in', join(dir, 'keys-backup.json'));
    assert.equal(restored.code, 0, restored.stderr);
    assert.match(restored.stdout, /restored gateway-files; the canary decrypts/);
    assert.equal((await cli('verify', '--all')).code, 0);
  });

  it('verify names a file whose body was tampered with', async () => {
    const [file] = await withDb(
      async (db) => (await db.query<{ id: string }>('SELECT id FROM jar_files LIMIT 1')).rows,
    );
    const path = join(dir, 'files', `${file?.id}.bin`);
    const body = await readFile(path);
    body[100] = (body[100] ?? 0) ^ 1;
    await writeFile(path, body);
    const { code, stderr, stdout } = await cli('verify', '--all');
    assert.equal(code, 1);
    assert.match(stderr, new RegExp(`FAILED ${file?.id}: file_corrupt`));
    assert.match(stdout, /1 failed/);
  });

  it('exits 3 while Vault is sealed and 2 on bad usage', async () => {
    vault.seal();
    const sealed = await cli('status');
    assert.equal(sealed.code, 3);
    assert.match(sealed.stdout, /healthy:\s+NO/);
    vault.unseal();
    assert.equal((await cli('rotate', '--batch-size', 'zero')).code, 2);
  });
});
