/**
 * `npm test`: runs every suite with node's test runner. Without REDIS_URL it starts a
 * private redis-server on a free port for the run and stops it afterwards. Extra
 * arguments select test files (`npm test -- tests/component/session.test.ts`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = process.cwd();

function findTests(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const path = join(dir, name);
    if (statSync(path).isDirectory()) findTests(path, out);
    else if (name.endsWith('.test.ts')) out.push(relative(root, path));
  }
  return out;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

async function startPrivateRedis(): Promise<{ url: string; proc: ChildProcess; dir: string }> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'gw-redis-'));
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir],
    {
      stdio: 'ignore',
    },
  );
  await new Promise<void>((resolve, reject) => {
    proc.once('error', (err) =>
      reject(new Error(`cannot start redis-server (${err.message}); install it or set REDIS_URL`)),
    );
    const started = Date.now();
    const probe = () => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        resolve();
      });
      c.once('error', () => {
        if (Date.now() - started > 5000) reject(new Error('redis-server did not start'));
        else setTimeout(probe, 50);
      });
    };
    probe();
  });
  return { url: `redis://127.0.0.1:${port}`, proc, dir };
}

async function main() {
  const selected = process.argv.slice(2);
  const files =
    selected.length > 0
      ? selected
      : [...findTests(join(root, 'tests')), ...findTests(join(root, 'gateway'))].sort();
  let redis: Awaited<ReturnType<typeof startPrivateRedis>> | undefined;
  if (!process.env.REDIS_URL) {
    redis = await startPrivateRedis();
    process.env.REDIS_URL = redis.url;
    console.log(`test: private redis-server at ${redis.url}`);
  }
  const concurrency = process.env.TEST_CONCURRENCY ?? '2';
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, ...files],
    {
      stdio: 'inherit',
      env: process.env,
    },
  );
  const code: number = await new Promise((resolve) =>
    child.once('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0))),
  );
  if (redis) {
    redis.proc.kill('SIGTERM');
    rmSync(redis.dir, { recursive: true, force: true });
  }
  process.exit(code);
}

void main();
