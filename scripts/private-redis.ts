/**
 * A private redis-server on a free loopback port, without persistence, for one run of the
 * tests or the benchmarks; `stop` ends it and removes its folder.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, waitForPort } from '../tests/helpers/net.js';

export interface PrivateRedis {
  url: string;
  port: number;
  /** The redis-server's process id (a single server only). */
  pid?: number;
  stop(): Promise<void>;
}

export async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gw-redis-'));
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    { stdio: 'ignore' },
  );
  const failed = new Promise<never>((_, reject) =>
    proc.once('error', (err) =>
      reject(new Error(`cannot start redis-server (${err.message}); install it or set REDIS_URL`)),
    ),
  );
  await Promise.race([waitForPort(port, 20_000), failed]);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    pid: proc.pid!,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const exited = once(proc, 'exit');
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
