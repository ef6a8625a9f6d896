/**
 * `npm run audit -- verify`: checks the whole audit chain and names the first broken
 * link: the unkeyed prefix by SHA-256, the keyed rows by their HMAC under the chain key
 * (AUDIT_CHAIN_KEY, or derived from the key service like the gateway does), and every
 * signed checkpoint in DATA_DIR/audit-checkpoints against the table (a rewritten head,
 * removed newest rows, an altered checkpoint). `npm run audit -- list [--type login.*]
 * [--limit 20]` prints recent events. Reads the gateway's configuration (DATABASE_URL or
 * PGLITE_DIR, DATA_DIR, KEYS_BACKEND, ...). Never prints a key.
 * Exit codes: 0 chain intact, 1 chain broken, 2 the check could not run.
 */
import { Command } from 'commander';
import { checkpointDir, readCheckpoints } from '../audit/checkpoints.js';
import { queryAuditEvents, auditQuerySchema } from '../audit/query-events.js';
import { verifyAuditChain } from '../audit/verify-chain.js';
import { loadConfig, type Config } from '../config.js';
import { withDevData } from './dev-data.js';
import { openDatabase, type Database } from '../db/database.js';
import { findAuditChainKey } from '../keys/audit-chain-key.js';

async function withDatabase<T>(run: (db: Database, config: Config) => Promise<T>): Promise<T> {
  const config = loadConfig(withDevData(process.env));
  const db = await openDatabase({ url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR });
  try {
    return await run(db, config);
  } finally {
    await db.close();
  }
}

async function verify(): Promise<number> {
  const { report, source, dir } = await withDatabase(async (db, config) => {
    const chainKey = await findAuditChainKey(config, { create: false });
    const dir = checkpointDir(config.DATA_DIR);
    const checkpoints = await readCheckpoints(dir);
    const report = await verifyAuditChain(db, { key: chainKey?.key, checkpoints });
    return { report, source: chainKey?.source, dir };
  });
  if (report.ok) {
    console.log(`audit chain intact: ${report.checked} events, last seq ${report.lastSeq}`);
    console.log(
      report.keyedFrom === undefined
        ? 'keyed chain: not begun yet'
        : `keyed chain: from seq ${report.keyedFrom} (key from ${source ?? 'nowhere'})`,
    );
    console.log(
      `checkpoints: ${report.checkpoints} in ${dir}` +
        (report.newestCheckpoint === undefined ? '' : `, newest at seq ${report.newestCheckpoint}`),
    );
    for (const warning of report.warnings) console.error(`warning: ${warning}`);
    return 0;
  }
  console.error(`audit chain BROKEN at seq ${report.brokenAt}: ${report.reason}`);
  console.error(`(${report.checked} events before it verified; checkpoints in ${dir})`);
  if (!source)
    console.error('(no audit chain key was found: keyed rows and checkpoints could not be checked)');
  return 1;
}

async function list(options: { type?: string; identity?: string; limit: string }): Promise<number> {
  const query = auditQuerySchema.parse({
    type: options.type,
    identity: options.identity,
    limit: options.limit,
  });
  const page = await withDatabase((db) => queryAuditEvents(db, query));
  for (const e of page.events) {
    console.log(
      [
        e.seq,
        e.occurredAt,
        e.type,
        e.outcome,
        e.identityId ?? '-',
        e.actorId ?? '-',
        JSON.stringify(e.details),
      ].join('\t'),
    );
  }
  return 0;
}

const program = new Command('audit').description('Audit log tools');
program
  .command('verify')
  .description(
    'check every link of the audit chain (unkeyed prefix, keyed rows, signed checkpoints); names the first broken link',
  )
  .action(async () => {
    process.exitCode = await verify();
  });
program
  .command('list')
  .description('print the newest audit events')
  .option('--type <type>', 'event type, or area.* for a whole area')
  .option('--identity <id>', 'identity id')
  .option('--limit <n>', 'how many', '20')
  .action(async (options: Parameters<typeof list>[0]) => {
    process.exitCode = await list(options);
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`audit: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
