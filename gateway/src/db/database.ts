import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { AppError } from '../errors/app-error.js';

/** Rows and count of one statement, the same for pg and PGlite. */
interface QueryResult<T> {
  rows: T[];
  rowCount: number;
}

/**
 * Anything that can run a parameterised statement: the database or a transaction. Without
 * parameters the text may hold several statements, run in one round trip; the answer is
 * the last one's.
 */
export interface Queryable {
  query<T = Record<string, unknown>>(sql: string, params?: unknown[]): Promise<QueryResult<T>>;
}

/** The gateway's one view of Postgres, whichever engine is behind it. */
export interface Database extends Queryable {
  readonly engine: 'postgres' | 'pglite';
  /** Runs `fn` in a transaction; rolls back if it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>;
  /**
   * A statement Postgres parses and plans once per connection (a named prepared statement),
   * for the hot paths; `name` must be unique to `sql`. PGlite runs it as a plain query.
   */
  prepared<T = Record<string, unknown>>(
    name: string,
    sql: string,
  ): (params: unknown[]) => Promise<QueryResult<T>>;
  /**
   * A transaction in two round trips: `opening` (SQL text, without parameters) runs with
   * the BEGIN, and the SQL text `closing` builds from its answer runs with the COMMIT (values
   * written in with `sqlLiteral`). Rolls back if either fails or `closing` throws.
   */
  transactionInTwo<R, T>(
    opening: string,
    closing: (opened: QueryResult<R>) => Promise<{ sql: string; result: T }>,
  ): Promise<T>;
  close(): Promise<void>;
}

const MIGRATIONS_DIR = fileURLToPath(new URL('./migrations/', import.meta.url));

/** Postgres errors that mean "the database is not there right now". */
function isConnectionError(err: unknown): boolean {
  const code = (err as { code?: string })?.code ?? '';
  return (
    [
      'ECONNREFUSED',
      'ECONNRESET',
      'ETIMEDOUT',
      'EPIPE',
      '57P01',
      '57P03',
      '08006',
      '08001',
      '08003',
    ].includes(code) ||
    /Connection terminated|connect ECONNREFUSED|timeout/i.test(String((err as Error)?.message))
  );
}

/** Wraps driver errors: an outage becomes a 503, anything else keeps its original error. */
function wrapError(err: unknown): unknown {
  if (isConnectionError(err))
    return new AppError('database_unavailable', 503, 'The database is unavailable.', { cause: err });
  return err;
}

/**
 * A value written into SQL text: a safe integer as digits, null as NULL, a string quoted by
 * node-postgres' own escaping. A NUL character is refused, as Postgres' text refuses it.
 */
export function sqlLiteral(value: string | number | null): string {
  if (value === null) return 'NULL';
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new Error('only integers are written into SQL text');
    return String(value);
  }
  if (value.includes('\0')) throw new Error('a NUL character cannot be stored');
  return pg.escapeLiteral(value);
}

/** node-postgres answers a text of several statements with one result each: the last counts. */
function lastResult<T>(res: pg.QueryResult | pg.QueryResult[]): QueryResult<T> {
  const last = Array.isArray(res) ? res[res.length - 1] : res;
  return { rows: (last?.rows ?? []) as T[], rowCount: last?.rowCount ?? 0 };
}

function openPostgres(url: string): Database {
  const pool = new pg.Pool({
    connectionString: url,
    max: 10,
    connectionTimeoutMillis: 3000,
    query_timeout: 10000,
  });
  // An idle client that loses its server emits an error; without a listener it would crash the process.
  pool.on('error', () => undefined);
  const query: Queryable['query'] = async <T>(sql: string, params?: unknown[]) => {
    try {
      return lastResult<T>(await pool.query(sql, params as unknown[]));
    } catch (err) {
      throw wrapError(err);
    }
  };
  /** Runs `body` on one pooled connection; a failure rolls back the transaction it left open. */
  async function onOneConnection<T>(body: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await pool.connect();
    } catch (err) {
      throw wrapError(err);
    }
    try {
      return await body(client);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw wrapError(err);
    } finally {
      client.release();
    }
  }
  return {
    engine: 'postgres',
    query,
    prepared:
      <T>(name: string, sql: string) =>
      async (params: unknown[]) => {
        try {
          return lastResult<T>(await pool.query({ name, text: sql, values: params }));
        } catch (err) {
          throw wrapError(err);
        }
      },
    transaction: (fn) =>
      onOneConnection(async (client) => {
        await client.query('BEGIN');
        const result = await fn({
          query: async <T>(sql: string, params?: unknown[]) =>
            lastResult<T>(await client.query(sql, params as unknown[])),
        });
        await client.query('COMMIT');
        return result;
      }),
    transactionInTwo: (opening, closing) =>
      onOneConnection(async (client) => {
        const { sql, result } = await closing(lastResult(await client.query(`BEGIN; ${opening}`)));
        await client.query(`${sql}; COMMIT`);
        return result;
      }),
    close: () => pool.end(),
  };
}

type PgliteLike = Pick<import('@electric-sql/pglite').PGlite, 'query' | 'exec'>;

/** PGlite runs parameterless SQL (a migration file) through `exec`, which takes several statements. */
function pgliteQuery(db: PgliteLike): Queryable['query'] {
  return async (sql, params) => {
    if (!params || params.length === 0) {
      const results = await db.exec(sql);
      const last = results[results.length - 1];
      return { rows: (last?.rows ?? []) as never[], rowCount: last?.affectedRows ?? last?.rows.length ?? 0 };
    }
    const res = await db.query(sql, params);
    return { rows: res.rows as never[], rowCount: res.affectedRows ?? res.rows.length };
  };
}

async function openPglite(dir: string, snapshot?: Blob): Promise<Database> {
  const { PGlite } = await import('@electric-sql/pglite');
  const db = dir === 'memory' ? new PGlite(snapshot && { loadDataDir: snapshot }) : new PGlite(dir);
  await db.waitReady;
  const query = pgliteQuery(db);
  return {
    engine: 'pglite',
    query,
    prepared: (_name, sql) => (params) => query(sql, params),
    transaction: (fn) => db.transaction((tx) => fn({ query: pgliteQuery(tx) })),
    transactionInTwo: (opening, closing) =>
      db.transaction(async (tx) => {
        const query = pgliteQuery(tx);
        const { sql, result } = await closing(await query(opening));
        await query(sql);
        return result;
      }),
    close: () => db.close(),
  };
}

/**
 * Opens Postgres when a URL is given, else the embedded PGlite in `pgliteDir`. An in-memory
 * PGlite (`memory`) may start from `pgliteSnapshot`, a data directory PGlite dumped
 * (`dumpDataDir`), instead of creating an empty cluster.
 */
export async function openDatabase(options: {
  url?: string;
  pgliteDir: string;
  pgliteSnapshot?: Blob;
}): Promise<Database> {
  return options.url ? openPostgres(options.url) : openPglite(options.pgliteDir, options.pgliteSnapshot);
}

/**
 * Applies the numbered SQL files of `migrations/` that have not run yet, each in its
 * own transaction, under an advisory lock so that replicas starting together do not race.
 */
export async function runMigrations(db: Database): Promise<string[]> {
  const files = (await readdir(MIGRATIONS_DIR)).filter((f) => /^\d{3}_.+\.sql$/.test(f)).sort();
  const applied: string[] = [];
  await db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock(727274)');
    await tx.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (name text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const done = new Set(
      (await tx.query<{ name: string }>('SELECT name FROM schema_migrations')).rows.map((r) => r.name),
    );
    for (const file of files) {
      if (done.has(file)) continue;
      const sql = await readFile(new URL(`./migrations/${file}`, import.meta.url), 'utf8');
      await tx.query(sql);
      await tx.query('INSERT INTO schema_migrations (name) VALUES ($1)', [file]);
      applied.push(file);
    }
  });
  return applied;
}
