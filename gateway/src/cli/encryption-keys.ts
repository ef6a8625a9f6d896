/**
 * `npm run keys -- <command>`: operator tools for the file encryption keys.
 *
 *   status                 key service health, key versions, minimum versions, last backup,
 *                          data keys per key version, an unfinished rotation
 *   backup --out FILE      writes a backup bundle (never overwrites a file)
 *   restore --in FILE      restores it; with --dry-run to a new key name, proving the canary decrypts
 *   rotate                 rotates the key and rewraps every stored data key, resumably
 *   verify                 decrypts a sample of stored files and reports any failure
 *
 * Reads the gateway's configuration (KEYS_BACKEND, VAULT_*, DATABASE_URL, DATA_DIR, ...).
 * Exit codes: 0 success, 1 the operation failed or found a problem, 2 bad usage or
 * configuration, 3 the key service or the database is unavailable.
 */
import { Command, InvalidArgumentError } from 'commander';
import { createHash } from 'node:crypto';
import { open, readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createAuditLog, type AuditEvent, type AuditLog } from '../audit/audit-log.js';
import { checkpointDir } from '../audit/checkpoints.js';
import { ConfigError, loadConfig, type Config } from '../config.js';
import { withDevData } from './dev-data.js';
import { openDatabase, runMigrations, type Database } from '../db/database.js';
import { createBodyStore, type BodyStore } from '../files/body-store.js';
import { AppError } from '../errors/app-error.js';
import { resolveAuditChainKey } from '../keys/audit-chain-key.js';
import { createKeyService } from '../keys/create-key-service.js';
import type { KeyService } from '../keys/key-service.js';
import {
  canaryDecrypts,
  createBackupBundle,
  recordBackup,
  parseBackupBundle,
  restoreBackupBundle,
} from '../keys/operations/backup-bundle.js';
import { keyReport } from '../keys/operations/key-status.js';
import { keysBelowVersion, rotateKeys, type RotationProgress } from '../keys/operations/rotate-keys.js';
import { jarDataKeys } from '../jars/jar-store.js';
import { verifyFiles } from '../jars/verify-files.js';

const EXIT = { ok: 0, failed: 1, usage: 2, unavailable: 3 } as const;

interface Context {
  config: Config;
  db: Database;
  keys: KeyService;
  bodies: BodyStore;
  audit: (event: Omit<AuditEvent, 'outcome'> & { outcome?: AuditEvent['outcome'] }) => Promise<void>;
}

async function withContext(run: (ctx: Context) => Promise<number>): Promise<number> {
  const config = loadConfig(withDevData(process.env));
  const db = await openDatabase({ url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR });
  try {
    await runMigrations(db);
    const keys = await createKeyService(config);
    // Keyed like the gateway's rows; the key is fetched on the first event, so `status` works without it.
    let log: AuditLog | undefined;
    const actorId = `cli:${process.env.USER ?? 'operator'}`;
    try {
      return await run({
        config,
        db,
        keys,
        bodies: createBodyStore(join(config.DATA_DIR, 'files')),
        audit: async (event) => {
          log ??= createAuditLog({
            db,
            clock: () => new Date(),
            chain: {
              key: (await resolveAuditChainKey(config)).key,
              checkpointDir: checkpointDir(config.DATA_DIR),
              everyEvents: 0,
              intervalSeconds: 0,
            },
          });
          await log.record({ outcome: 'success', actorId, ...event });
        },
      });
    } finally {
      await log?.close?.();
    }
  } finally {
    await db.close();
  }
}

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
};

async function status(options: { json?: boolean }): Promise<number> {
  return withContext(async ({ db, keys }) => {
    const report = await keyReport({ db, keys, dataKeys: jarDataKeys });
    if (options.json) {
      console.log(JSON.stringify(report, null, 2));
      return report.key.healthy ? EXIT.ok : EXIT.unavailable;
    }
    const { key } = report;
    console.log(`backend:                ${key.backend} (${key.detail})`);
    console.log(`key:                    ${key.keyName}`);
    console.log(`healthy:                ${key.healthy ? 'yes' : 'NO'}`);
    if (key.latestVersion !== undefined) {
      console.log(`versions:               ${key.versions?.join(', ')} (latest ${key.latestVersion})`);
      console.log(`min decryption version: ${key.minDecryptionVersion}`);
      console.log(`min encryption version: ${key.minEncryptionVersion}`);
      console.log(`backup allowed:         ${key.backupAllowed ? 'yes' : 'no (the key is not exportable)'}`);
    }
    const last = report.lastBackup;
    console.log(`last backup:            ${last ? `${last.createdAt} ${last.fileName}` : 'never'}`);
    const counts = Object.entries(report.dataKeysByVersion);
    console.log(
      `data keys per version:  ${counts.length ? counts.map(([v, n]) => `v${v}: ${n}`).join(', ') : 'none'}`,
    );
    const pending = report.pendingRotation;
    if (pending)
      console.log(`unfinished rotation:    to v${pending.targetVersion}, ${pending.rewrapped} rewrapped`);
    return key.healthy ? EXIT.ok : EXIT.unavailable;
  });
}

/** Creates the file exclusively (0600): an existing backup is never overwritten. */
async function writeNewFile(path: string, content: string): Promise<void> {
  const handle = await open(path, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'EEXIST')
      throw new AppError('file_exists', 409, `${path} already exists; choose another file.`);
    throw error;
  });
  try {
    await handle.writeFile(content);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function backup(options: { out: string }): Promise<number> {
  return withContext(async ({ db, keys, audit }) => {
    const bundle = await createBackupBundle({ db, keys, dataKeys: jarDataKeys }, new Date());
    const text = JSON.stringify(bundle, null, 2);
    await writeNewFile(options.out, text);
    const sha256 = createHash('sha256').update(text).digest('hex');
    await recordBackup(db, keys, { fileName: basename(options.out), sha256 });
    await audit({
      type: 'keys.backup',
      details: { keyName: keys.keyName, withKey: bundle.keyBackup !== null },
    });
    console.log(
      `backup written to ${options.out}: ${bundle.manifest.length} wrapped data keys, sha256 ${sha256}`,
    );
    if (!bundle.keyBackup) {
      console.warn(
        'warning: the key does not allow a plaintext backup; the bundle holds the manifest and canary only',
      );
    }
    return EXIT.ok;
  });
}

async function restore(options: {
  in: string;
  dryRun?: boolean;
  name?: string;
  force?: boolean;
}): Promise<number> {
  const bundle = parseBackupBundle(await readFile(options.in, 'utf8'));
  return withContext(async ({ keys, audit }) => {
    const result = await restoreBackupBundle(keys, bundle, {
      dryRun: options.dryRun ?? false,
      name: options.name,
      force: options.force,
      now: new Date(),
    });
    await audit({
      type: options.dryRun ? 'keys.restore_checked' : 'keys.restored',
      outcome: result.canaryOk ? 'success' : 'failure',
      details: { keyName: result.restoredAs },
    });
    if (!result.canaryOk) {
      console.error(`restored as ${result.restoredAs}, but the canary does NOT decrypt: do not use this key`);
      return EXIT.failed;
    }
    const what = options.dryRun ? 'dry run: restored to' : 'restored';
    console.log(`${what} ${result.restoredAs}; the canary decrypts`);
    return EXIT.ok;
  });
}

function progressBar(progress: RotationProgress): string {
  const total = progress.rewrapped + progress.failed + progress.remaining;
  const done = total === 0 ? 1 : (progress.rewrapped + progress.failed) / total;
  const width = 30;
  const filled = Math.round(done * width);
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${progress.rewrapped + progress.failed}/${total}`;
}

async function rotate(options: {
  batchSize: number;
  maxBatches?: number;
  raiseMinDecryptionVersion?: boolean;
}): Promise<number> {
  return withContext(async ({ db, keys, audit }) => {
    const result = await rotateKeys(
      { db, keys, dataKeys: jarDataKeys },
      {
        batchSize: options.batchSize,
        maxBatches: options.maxBatches,
        onProgress: (progress) => process.stderr.write(`\rrewrapping ${progressBar(progress)}`),
      },
    );
    process.stderr.write('\n');
    const verb = result.resumed ? 'resumed rotation to' : 'rotated to';
    console.log(`${verb} v${result.targetVersion}: ${result.rewrapped} rewrapped, ${result.failed} failed`);
    await audit({
      type: 'keys.rotated',
      outcome: result.failed ? 'failure' : 'success',
      details: { keyName: keys.keyName, ...result },
    });
    if (!result.completed) {
      console.log(`paused with ${result.remaining} data keys left; run rotate again to continue`);
      return EXIT.ok;
    }
    if (result.failed) {
      console.error(`${result.failed} data keys could not be rewrapped; the minimum version stays as it is`);
      return EXIT.failed;
    }
    if (options.raiseMinDecryptionVersion) return raiseMinimum({ db, keys, audit }, result.targetVersion);
    return EXIT.ok;
  });
}

async function raiseMinimum(ctx: Pick<Context, 'db' | 'keys' | 'audit'>, version: number): Promise<number> {
  const below = await keysBelowVersion({ db: ctx.db, dataKeys: jarDataKeys }, version);
  if (below > 0) {
    console.error(
      `${below} data keys are still below v${version}; not raising the minimum decryption version`,
    );
    return EXIT.failed;
  }
  await ctx.keys.setMinDecryptionVersion(version);
  await ctx.audit({ type: 'keys.min_decryption_raised', details: { keyName: ctx.keys.keyName, version } });
  console.log(`min decryption version raised to ${version}`);
  return EXIT.ok;
}

async function verify(options: { sample: number; all?: boolean; backup?: string }): Promise<number> {
  const bundle = options.backup ? parseBackupBundle(await readFile(options.backup, 'utf8')) : undefined;
  return withContext(async ({ db, keys, bodies }) => {
    if (bundle) {
      const ok = await canaryDecrypts(keys, bundle);
      console.log(`backup canary: ${ok ? 'decrypts' : 'does NOT decrypt'}`);
      if (!ok) return EXIT.failed;
    }
    const report = await verifyFiles(
      { db, keys, bodies },
      { sample: options.all ? undefined : options.sample },
    );
    for (const failure of report.failures) console.error(`FAILED ${failure.fileId}: ${failure.reason}`);
    console.log(`verified ${report.checked} files: ${report.failures.length} failed`);
    return report.failures.length ? EXIT.failed : EXIT.ok;
  });
}

function exitCodeOf(error: unknown): number {
  if (error instanceof ConfigError) return EXIT.usage;
  if (error instanceof AppError) return error.status === 503 ? EXIT.unavailable : EXIT.failed;
  return EXIT.failed;
}

/** Prints the error without its cause (which may name Vault internals) and picks the exit code. */
function report(error: unknown): number {
  console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
  return exitCodeOf(error);
}

function run(action: Promise<number>): Promise<void> {
  return action.then(
    (code) => void (process.exitCode = code),
    (error: unknown) => void (process.exitCode = report(error)),
  );
}

const program = new Command('encryption-keys')
  .description('Check, back up, restore, rotate and verify the file encryption keys')
  .exitOverride((error) => {
    process.exit(error.exitCode === 0 ? 0 : EXIT.usage);
  });

program
  .command('status')
  .description('key service health, key versions, last backup and data keys per version')
  .option('--json', 'machine-readable output')
  .action((options: Parameters<typeof status>[0]) => run(status(options)));

program
  .command('backup')
  .description('write a backup bundle: the key backup (where allowed), the wrapped-key manifest and a canary')
  .requiredOption('--out <file>', 'file to create; an existing file is never overwritten')
  .action((options: Parameters<typeof backup>[0]) => run(backup(options)));

program
  .command('restore')
  .description('restore a backup bundle and prove its canary decrypts')
  .requiredOption('--in <file>', 'backup bundle to restore')
  .option('--dry-run', 'restore to a new key name next to the live key, which stays untouched')
  .option('--name <key>', 'key name to restore to')
  .option('--force', 'overwrite an existing key of that name')
  .action((options: Parameters<typeof restore>[0]) => run(restore(options)));

program
  .command('rotate')
  .description('rotate the key and rewrap every stored data key (resumes an unfinished rotation)')
  .option('--batch-size <n>', 'data keys per rewrap request', positiveInt, 100)
  .option('--max-batches <n>', 'stop after this many batches; run again to continue', positiveInt)
  .option('--raise-min-decryption-version', 'once everything is rewrapped, refuse older key versions')
  .action((options: Parameters<typeof rotate>[0]) => run(rotate(options)));

program
  .command('verify')
  .description('decrypt a sample of stored files and report any failure')
  .option('--sample <n>', 'number of files to check', positiveInt, 20)
  .option('--all', 'check every file')
  .option('--backup <file>', 'also check that the canary of this backup bundle decrypts')
  .action((options: Parameters<typeof verify>[0]) => run(verify(options)));

await program.parseAsync(process.argv);
// Keep-alive sockets to Vault would hold the process open for seconds after the work is done.
process.exit(process.exitCode ?? EXIT.ok);
