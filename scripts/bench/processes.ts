/**
 * The processes a benchmark run starts and stops: a private redis-server, the Kratos
 * double, gateways and the bare baseline, each in its own process, and a throwaway
 * Postgres database.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';

export const root = process.cwd();

export async function freePort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  await new Promise((resolve) => srv.close(resolve));
  return port;
}

async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const started = Date.now();
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve(true);
      });
      c.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() - started > timeoutMs) throw new Error(`nothing listens on port ${port}`);
    await sleep(50);
  }
}

async function stopProcess(proc: ChildProcess, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return;
  const exited = new Promise((resolve) => proc.once('exit', resolve));
  proc.kill(signal);
  const timer = setTimeout(() => proc.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

export interface Running {
  port: number;
  url: string;
  pid: number;
  /** The child's monotonic clock in µs (gateway children only). */
  clock(): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Forks a TypeScript entry point (through tsx) that sends `{ port }` once it listens.
 * `cpuProfileDir` turns on V8's sampling profiler for the child.
 */
export async function forkChild(
  script: string,
  env: Record<string, string>,
  options: { cpuProfileDir?: string } = {},
): Promise<Running> {
  const execArgv = ['--import', 'tsx'];
  if (options.cpuProfileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  const child = fork(join(root, script), [], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`${script} exited with ${code} before listening`)));
  });
  const clock = () =>
    new Promise<number>((resolve) => {
      const onMessage = (m: { clockMicros?: number }) => {
        if (m.clockMicros === undefined) return;
        child.off('message', onMessage);
        resolve(m.clockMicros);
      };
      child.on('message', onMessage);
      child.send({ type: 'clock' });
    });
  return { port, url: `http://127.0.0.1:${port}`, pid: child.pid!, clock, stop: () => stopProcess(child) };
}

export interface BenchRedis {
  url: string;
  port: number;
  stop(): Promise<void>;
}

/** A private redis-server on a free port, without persistence, for this run only. */
export async function startBenchRedis(): Promise<BenchRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gw-bench-redis-'));
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  await waitForPort(port);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await stopProcess(proc);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface KratosProcess {
  publicUrl: string;
  adminUrl: string;
  stop(): Promise<void>;
}

/** The Kratos double in a process of its own, so its work does not count against the gateway's loop. */
export async function startKratosProcess(): Promise<KratosProcess> {
  const [publicPort, adminPort] = [await freePort(), await freePort()];
  const proc = spawn(
    process.execPath,
    ['--import', 'tsx', join(root, 'tests/doubles/kratos/main.ts'), String(publicPort), String(adminPort)],
    { stdio: 'ignore', env: process.env },
  );
  await waitForPort(publicPort);
  await waitForPort(adminPort);
  return {
    publicUrl: `http://127.0.0.1:${publicPort}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    stop: () => stopProcess(proc),
  };
}

export interface ThrowawayDatabase {
  url: string;
  drop(): Promise<void>;
}

/** The server benchmarks create their databases on: DATABASE_URL, else the local Postgres. */
export const postgresBaseUrl = () =>
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh database on the Postgres server, dropped at the end of the run; undefined without one. */
export async function createThrowawayDatabase(tag: string): Promise<ThrowawayDatabase | undefined> {
  const base = postgresBaseUrl();
  const name = `gw_bench_${tag}_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: base, connectionTimeoutMillis: 3000 });
  try {
    await admin.connect();
  } catch {
    return undefined;
  }
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: base });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
