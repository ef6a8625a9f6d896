/**
 * Fault-injection tools for the resilience suite: a private redis-server that can be
 * killed and brought back on the same port, a TCP proxy whose link can be cut, and the
 * small load loops the tests run while something breaks.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { registerAccount } from '../helpers/account.js';
import type { TestGateway } from '../helpers/gateway.js';
import { Browser, STRONG_PASSWORD, uniqueEmail } from '../helpers/http.js';
import { freePort, waitForPort } from '../helpers/net.js';

export { freePort, waitForPort };

export interface PrivateRedis {
  url: string;
  port: number;
  /** Kills the server at once (SIGKILL): no goodbye to the clients. */
  kill(): Promise<void>;
  /** Starts it again on the same port and data directory. */
  start(): Promise<void>;
  /** Freezes the server (SIGSTOP): connections stay open and nothing answers. */
  pause(): void;
  /** Lets a frozen server go on (SIGCONT). */
  resume(): void;
  close(): Promise<void>;
}

/**
 * A redis-server of the test's own on a free port. Its append-only file is synced on every
 * write, so a killed and restarted server still holds the sessions it had.
 */
export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gw-resilience-redis-'));
  let proc: ChildProcess | undefined;
  const start = async () => {
    proc = spawn(
      'redis-server',
      [
        ...['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', ''],
        ...['--appendonly', 'yes', '--appendfsync', 'always'],
      ],
      { stdio: 'ignore' },
    );
    await waitForPort(port);
  };
  const kill = async () => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((resolve) => p.once('exit', resolve));
    p.kill('SIGKILL');
    await exited;
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    start,
    pause: () => void proc?.kill('SIGSTOP'),
    resume: () => void proc?.kill('SIGCONT'),
    async close() {
      proc?.kill('SIGCONT');
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface TcpProxy {
  port: number;
  /** Drops every open connection and refuses new ones: the server behind it "went away". */
  cut(): void;
  restore(): void;
  close(): Promise<void>;
}

/** A TCP proxy on a free port in front of `target`, whose link the test can cut. */
export async function startTcpProxy(target: { host: string; port: number }): Promise<TcpProxy> {
  const open = new Set<Socket>();
  let cut = false;
  const server: Server = createServer((client) => {
    if (cut) return client.destroy();
    const upstream = connect(target.port, target.host);
    open.add(client).add(upstream);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream).pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const cutLink = () => {
    cut = true;
    for (const s of open) s.destroy();
    open.clear();
  };
  return {
    port: (server.address() as { port: number }).port,
    cut: cutLink,
    restore() {
      cut = false;
    },
    async close() {
      cutLink();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A browser signed in through password registration on `gw`. */
export async function signedUp(gw: TestGateway, email = uniqueEmail('res')) {
  const browser = new Browser(gw.auth);
  const res = await registerAccount(gw, browser, { email, password: STRONG_PASSWORD });
  assert.equal(res.status, 201, JSON.stringify(res.body));
  return { browser, email, identityId: res.body.identityId as string };
}

/** Polls `probe` until it returns true, failing after `timeoutMs`; returns how long it took. */
export async function eventually(probe: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  for (;;) {
    if (await probe()) return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`not recovered within ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Runs `request` in `workers` loops until `stop` is aborted, collecting every status code. */
export function loadLoop(workers: number, request: () => Promise<number>) {
  const statuses: number[] = [];
  const errors: unknown[] = [];
  let running = true;
  const loops = Array.from({ length: workers }, async () => {
    while (running) {
      try {
        statuses.push(await request());
      } catch (err) {
        errors.push(err);
        await sleep(20);
      }
    }
  });
  return {
    statuses,
    errors,
    async stop() {
      running = false;
      await Promise.all(loops);
    },
  };
}

/** How many of each status code. */
export function tally(statuses: number[]): Record<number, number> {
  const out: Record<number, number> = {};
  for (const s of statuses) out[s] = (out[s] ?? 0) + 1;
  return out;
}
