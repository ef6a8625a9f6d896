import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, runMigrations, type Database } from '../../gateway/src/db/database.js';

/** A throwaway database on the Postgres server at `baseUrl`. */
export interface ThrowawayDatabase {
  url: string;
  drop(): Promise<void>;
}

async function runOn(baseUrl: string, sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: baseUrl });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const databaseUrl = (baseUrl: string, name: string): string => {
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return url.toString();
};

/**
 * Creates a fresh, uniquely named database beside the one `baseUrl` names; `drop` removes it.
 * With `template`, it starts as a copy of that database (Postgres copies the files, which is
 * much faster than running the migrations again).
 */
export async function createDatabase(
  baseUrl: string,
  prefix: string,
  template?: string,
): Promise<ThrowawayDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  await runOn(baseUrl, `CREATE DATABASE ${name}${template ? ` TEMPLATE ${template}` : ''}`);
  return {
    url: databaseUrl(baseUrl, name),
    drop: () => runOn(baseUrl, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`),
  };
}

/**
 * Where the test runner leaves what every suite's databases start from: a migrated Postgres
 * database to copy (with DATABASE_URL), or a migrated PGlite data directory to load (without).
 */
const TEMPLATE_ENV = 'TEST_DATABASE_TEMPLATE';
const SNAPSHOT_ENV = 'TEST_PGLITE_SNAPSHOT';

/**
 * Prepares, once per test run, the migrated database every test gateway starts from, and
 * names it in the environment the test processes inherit. Returns what removes it.
 */
export async function prepareMigratedDatabase(): Promise<() => Promise<void>> {
  const base = process.env.DATABASE_URL;
  if (base) {
    const template = await createDatabase(base, 'gw_template');
    const db = await openDatabase({ url: template.url, pgliteDir: 'memory' });
    try {
      await runMigrations(db);
    } finally {
      await db.close();
    }
    process.env[TEMPLATE_ENV] = new URL(template.url).pathname.slice(1);
    return template.drop;
  }
  process.env[SNAPSHOT_ENV] = await migratedPgliteSnapshot();
  return async () => undefined;
}

const MIGRATIONS = new URL('../../gateway/src/db/migrations/', import.meta.url);
const SNAPSHOT_PREFIX = 'auth-gateway-pglite-';

/**
 * A migrated PGlite data directory as PGlite dumps it, cached in the temporary folder under
 * a name that hashes the PGlite version and the migrations, so that runs reuse it until one
 * of them changes. Made on the first run (about ten seconds), read in well under one.
 */
async function migratedPgliteSnapshot(): Promise<string> {
  const hash = createHash('sha256');
  const pglite = JSON.parse(
    await readFile(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  hash.update(pglite.version);
  for (const name of (await readdir(MIGRATIONS)).sort()) {
    hash.update(name).update(await readFile(new URL(name, MIGRATIONS)));
  }
  const file = join(tmpdir(), `${SNAPSHOT_PREFIX}${hash.digest('hex').slice(0, 16)}.tar`);
  if (existsSync(file)) return file;

  const dir = await mkdtemp(join(tmpdir(), 'gw-pglite-'));
  try {
    const db = await openDatabase({ pgliteDir: join(dir, 'data') });
    try {
      await runMigrations(db);
    } finally {
      await db.close();
    }
    const { PGlite } = await import('@electric-sql/pglite');
    const migrated = new PGlite(join(dir, 'data'));
    await migrated.waitReady;
    const dump = await migrated.dumpDataDir('none');
    await migrated.close();
    await writeFile(join(dir, 'migrated.tar'), Buffer.from(await dump.arrayBuffer()));
    // Older snapshots (other migrations) go; a run still reading one falls back to an empty PGlite.
    for (const name of await readdir(tmpdir())) {
      if (name.startsWith(SNAPSHOT_PREFIX)) await rm(join(tmpdir(), name), { force: true });
    }
    await rename(join(dir, 'migrated.tar'), file);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return file;
}

/** A fresh database on the Postgres server of DATABASE_URL, migrated when the runner prepared a template. */
export function createMigratedDatabase(baseUrl: string): Promise<ThrowawayDatabase> {
  return createDatabase(baseUrl, 'gw_test', process.env[TEMPLATE_ENV]);
}

let snapshot: Promise<Blob | undefined> | undefined;

/**
 * An in-memory PGlite for a test gateway: loaded from the runner's migrated snapshot (about
 * a second), or, without one, created empty (several seconds).
 */
export async function openTestPglite(): Promise<Database> {
  const file = process.env[SNAPSHOT_ENV];
  snapshot ??= file
    ? readFile(file).then(
        (bytes) => new Blob([bytes]),
        () => undefined,
      )
    : Promise.resolve(undefined);
  return openDatabase({ pgliteDir: 'memory', pgliteSnapshot: await snapshot });
}
