import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** A throwaway database on the Postgres server at `baseUrl`. */
export interface ThrowawayDatabase {
  url: string;
  drop(): Promise<void>;
}

/** Creates a fresh, uniquely named database beside the one `baseUrl` names; `drop` removes it. */
export async function createDatabase(baseUrl: string, prefix: string): Promise<ThrowawayDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const run = async (sql: string) => {
    const client = new pg.Client({ connectionString: baseUrl });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await run(`CREATE DATABASE ${name}`);
  const url = new URL(baseUrl);
  url.pathname = `/${name}`;
  return { url: url.toString(), drop: () => run(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`) };
}
