/** What the numbers were measured on: machine, runtime and dependency versions, date. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { findNginx } from './nginx.js';

const PACKAGES = [
  'express',
  'redis',
  'pg',
  '@ory/kratos-client-fetch',
  '@simplewebauthn/server',
  'helmet',
  'winston',
  'prom-client',
  'autocannon',
];

function packageVersion(root: string, name: string): string {
  try {
    const file = join(root, 'node_modules', name, 'package.json');
    return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

function redisVersion(): string {
  try {
    return /v=(\S+)/.exec(execFileSync('redis-server', ['--version'], { encoding: 'utf8' }))?.[1] ?? '?';
  } catch {
    return 'unknown';
  }
}

function nginxVersion(): string {
  const binary = findNginx();
  if (!binary) return 'not installed';
  // nginx -v prints to stderr.
  const run = spawnSync(binary, ['-v'], { encoding: 'utf8' });
  return /nginx\/(\S+)/.exec(`${run.stderr}${run.stdout}`)?.[1] ?? 'unknown';
}

async function postgresVersion(url: string | undefined): Promise<string> {
  if (!url) return 'PGlite (embedded)';
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const { rows } = await c.query<{ v: string }>("SELECT current_setting('server_version') AS v");
  await c.end();
  return rows[0]!.v;
}

export interface Machine {
  date: string;
  cpuModel: string;
  cores: number;
  memoryGiB: number;
  kernel: string;
  node: string;
  redis: string;
  postgres: string;
  nginx: string;
  packages: Record<string, string>;
}

export async function describeMachine(root: string, postgresUrl: string | undefined): Promise<Machine> {
  const cpu = cpus();
  return {
    date: new Date().toISOString(),
    cpuModel: cpu[0]?.model.trim() ?? 'unknown',
    cores: cpu.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    kernel: `${process.platform} ${release()}`,
    node: process.version,
    redis: redisVersion(),
    postgres: await postgresVersion(postgresUrl),
    nginx: nginxVersion(),
    packages: Object.fromEntries(PACKAGES.map((p) => [p, packageVersion(root, p)])),
  };
}
