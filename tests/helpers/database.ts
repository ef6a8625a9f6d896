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
 * Where the test runner leaves what test databases start from: a migrated Postgres database
 * to copy (with DATABASE_URL), and PGlite data directories to load, empty and migrated.
 */
const TEMPLATE_ENV = 'TEST_DATABASE_TEMPLATE';
const SNAPSHOT_ENV = { empty: 'TEST_PGLITE_EMPTY_SNAPSHOT', migrated: 'TEST_PGLITE_SNAPSHOT' } as const;

/**
 * Prepares, once per test run, what test databases start from, and names it in the
 * environment the test processes inherit: the PGlite snapshots always (suites test PGlite
 * beside Postgres), the Postgres template with DATABASE_URL. Returns what removes the template.
 */
export async function prepareMigratedDatabase(): Promise<() => Promise<void>> {
  const snapshots = await pgliteSnapshots();
  process.env[SNAPSHOT_ENV.empty] = snapshots.empty;
  process.env[SNAPSHOT_ENV.migrated] = snapshots.migrated;
  const base = process.env.DATABASE_URL;
  if (!base) return async () => undefined;
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

const MIGRATIONS = new URL('../../gateway/src/db/migrations/', import.meta.url);
const SNAPSHOT_PREFIX = 'auth-gateway-pglite-';

async function dump(dataDir: string, file: string): Promise<void> {
  const { PGlite } = await import('@electric-sql/pglite');
  const pglite = new PGlite(dataDir);
  await pglite.waitReady;
  const tar = await pglite.dumpDataDir('none');
  await pglite.close();
  await writeFile(file, Buffer.from(await tar.arrayBuffer()));
}

/**
 * PGlite data directories as PGlite dumps them, an empty cluster and a migrated one, cached in
 * the temporary folder under names that hash the PGlite version and the migrations, so that
 * runs reuse them until one of those changes. Made on the first run (about ten seconds); an
 * in-memory PGlite loads one in about a second instead of initialising a cluster for several.
 */
async function pgliteSnapshots(): Promise<{ empty: string; migrated: string }> {
  const hash = createHash('sha256');
  const pglite = JSON.parse(
    await readFile(new URL('../../node_modules/@electric-sql/pglite/package.json', import.meta.url), 'utf8'),
  ) as { version: string };
  hash.update(pglite.version);
  for (const name of (await readdir(MIGRATIONS)).sort()) {
    hash.update(name).update(await readFile(new URL(name, MIGRATIONS)));
  }
  const key = hash.digest('hex').slice(0, 16);
  const files = {
    empty: join(tmpdir(), `${SNAPSHOT_PREFIX}${key}-empty.tar`),
    migrated: join(tmpdir(), `${SNAPSHOT_PREFIX}${key}-migrated.tar`),
  };
  if (existsSync(files.empty) && existsSync(files.migrated)) return files;

  const dir = await mkdtemp(join(tmpdir(), 'gw-pglite-'));
  try {
    const data = join(dir, 'data');
    const db = await openDatabase({ pgliteDir: data });
    await db.close();
    await dump(data, join(dir, 'empty.tar'));
    const migrated = await openDatabase({ pgliteDir: data });
    try {
      await runMigrations(migrated);
    } finally {
      await migrated.close();
    }
    await dump(data, join(dir, 'migrated.tar'));
    // Older snapshots (other migrations) go; a run still reading one falls back to initialising.
    for (const name of await readdir(tmpdir())) {
      if (name.startsWith(SNAPSHOT_PREFIX)) await rm(join(tmpdir(), name), { force: true });
    }
    await rename(join(dir, 'empty.tar'), files.empty);
    await rename(join(dir, 'migrated.tar'), files.migrated);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return files;
}

/** A fresh database on the Postgres server of DATABASE_URL, migrated when the runner prepared a template. */
export function createMigratedDatabase(baseUrl: string): Promise<ThrowawayDatabase> {
  return createDatabase(baseUrl, 'gw_test', process.env[TEMPLATE_ENV]);
}

const snapshots: Partial<Record<'empty' | 'migrated', Promise<Blob | undefined>>> = {};

/**
 * An in-memory PGlite, empty or migrated: loaded from the runner's snapshot (about a second),
 * or, without one, initialised (several seconds) and migrated here.
 */
export async function openTestPglite(options: { migrated: boolean }): Promise<Database> {
  const kind = options.migrated ? 'migrated' : 'empty';
  const file = process.env[SNAPSHOT_ENV[kind]];
  snapshots[kind] ??= file
    ? readFile(file).then(
        (bytes) => new Blob([bytes]),
        () => undefined,
      )
    : Promise.resolve(undefined);
  const snapshot = await snapshots[kind];
  const db = await openDatabase({ pgliteDir: 'memory', pgliteSnapshot: snapshot });
  if (!snapshot && options.migrated) await runMigrations(db);
  return db;
}

/**
 * A database for a suite that works on one directly: a fresh one on the Postgres server of
 * DATABASE_URL, else an in-memory PGlite; `migrated` starts it with every migration applied.
 * `close` closes it and drops what it created.
 */
export async function openTestDatabase(options: {
  migrated: boolean;
}): Promise<{ db: Database; url?: string; close(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const db = await openTestPglite(options);
    return { db, close: () => db.close() };
  }
  const created = options.migrated
    ? await createMigratedDatabase(base)
    : await createDatabase(base, 'gw_test');
  const db = await openDatabase({ url: created.url, pgliteDir: 'memory' });
  return {
    db,
    url: created.url,
    close: async () => {
      await db.close();
      await created.drop();
    },
  };
}
