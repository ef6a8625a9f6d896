/**
 * `npm run audit -- verify`: checks the whole audit chain and names the first broken
 * link. `npm run audit -- list [--type login.*] [--limit 20]`: prints recent events.
 * Reads the database settings (DATABASE_URL or PGLITE_DIR) like the gateway does.
 * Exit codes: 0 chain intact, 1 chain broken, 2 the check could not run.
 */
import { Command } from 'commander';
import { queryAuditEvents, auditQuerySchema } from '../audit/query-events.js';
import { verifyAuditChain } from '../audit/verify-chain.js';
import { loadConfig } from '../config.js';
import { openDatabase, type Database } from '../db/database.js';

async function withDatabase<T>(run: (db: Database) => Promise<T>): Promise<T> {
  const config = loadConfig(process.env);
  const db = await openDatabase({ url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR });
  try {
    return await run(db);
  } finally {
    await db.close();
  }
}

async function verify(): Promise<number> {
  const report = await withDatabase((db) => verifyAuditChain(db));
  if (report.ok) {
    console.log(`audit chain intact: ${report.checked} events, last seq ${report.lastSeq}`);
    return 0;
  }
  console.error(`audit chain BROKEN at seq ${report.brokenAt}: ${report.reason}`);
  console.error(`(${report.checked} events before it verified)`);
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
  .description('check every hash of the audit chain; names the first broken link')
  .action(async () => {
    process.exitCode = await verify();
  });
program
  .command('list')
  .description('print the newest audit events')
  .option('--type <type>', 'event type, or area.* for a whole area')
  .option('--identity <id>', 'identity id')
  .option('--limit <n>', 'how many', '20')
  .action(async (options) => {
    process.exitCode = await list(options);
  });

program.parseAsync().catch((err: unknown) => {
  console.error(`audit: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 2;
});
