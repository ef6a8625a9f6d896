/**
 * The processes a benchmark run starts and stops: a private redis-server, the Kratos
 * double, gateways and the bare baseline, each in its own process, and a throwaway
 * Postgres database.
 */
import { fork, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { freePort, waitForPort } from '../../tests/helpers/net.js';
import { createDatabase, type ThrowawayDatabase } from '../../tests/helpers/database.js';

export { freePort, type ThrowawayDatabase };
export { startPrivateRedis, type PrivateRedis } from '../private-redis.js';

export const root = process.cwd();

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
  /** The bytes the child allocated (V8's sampling heap profiler) while `during` ran. */
  allocatedDuring(during: () => Promise<void>): Promise<number>;
  stop(): Promise<void>;
}

/**
 * Forks a TypeScript entry point (through tsx) that sends `{ port }` once it listens.
 * `cpuProfileDir` turns on V8's sampling profiler for the child. `logFile` receives the
 * child's stdout (a gateway's log lines): written to a file, as a log collector would take
 * them, they cost the server the same whoever runs the benchmark, and they stay out of its
 * output.
 */
export async function forkChild(
  script: string,
  env: Record<string, string>,
  options: { cpuProfileDir?: string; logFile?: string } = {},
): Promise<Running> {
  const execArgv = ['--import', 'tsx'];
  if (options.cpuProfileDir) execArgv.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  const logFd = options.logFile ? openSync(options.logFile, 'a') : undefined;
  const child = fork(join(root, script), [], {
    execArgv,
    env: { ...process.env, ...env },
    stdio: ['ignore', logFd ?? 'inherit', 'inherit', 'ipc'],
  });
  if (logFd !== undefined) closeSync(logFd);
  const logTail = () => {
    if (!options.logFile) return '';
    try {
      return `; its last log lines:\n${readFileSync(options.logFile, 'utf8').split('\n').slice(-20).join('\n')}`;
    } catch {
      return '';
    }
  };
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) =>
      reject(new Error(`${script} exited with ${code} before listening${logTail()}`)),
    );
  });
  /** Sends `type` and answers the field `field` of the child's reply. */
  const ask = <T>(type: string, field: string) =>
    new Promise<T>((resolve) => {
      const onMessage = (m: Record<string, unknown>) => {
        if (!(field in m)) return;
        child.off('message', onMessage);
        resolve(m[field] as T);
      };
      child.on('message', onMessage);
      child.send({ type });
    });
  const clock = () => ask<number>('clock', 'clockMicros');
  const allocatedDuring = async (during: () => Promise<void>) => {
    await ask('alloc-start', 'allocStarted');
    await during();
    return ask<number>('alloc-stop', 'allocatedBytes');
  };
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    pid: child.pid!,
    clock,
    allocatedDuring,
    stop: () => stopProcess(child),
  };
}

export interface KratosProcess {
  publicUrl: string;
  adminUrl: string;
  pid: number;
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
  await waitForPort(publicPort, 20_000);
  await waitForPort(adminPort, 20_000);
  return {
    publicUrl: `http://127.0.0.1:${publicPort}`,
    adminUrl: `http://127.0.0.1:${adminPort}`,
    pid: proc.pid!,
    stop: () => stopProcess(proc),
  };
}

/** The server benchmarks create their databases on: DATABASE_URL, else the local Postgres. */
export const postgresBaseUrl = () =>
  process.env.DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

/** A fresh database on the Postgres server, dropped at the end of the run; undefined without one. */
export async function createThrowawayDatabase(tag: string): Promise<ThrowawayDatabase | undefined> {
  const base = postgresBaseUrl();
  const probe = new pg.Client({ connectionString: base, connectionTimeoutMillis: 3000 });
  try {
    await probe.connect();
  } catch {
    return undefined;
  } finally {
    await probe.end().catch(() => undefined);
  }
  return createDatabase(base, `gw_bench_${tag}`);
}
