/**
 * `npm run dev`: the whole gateway on one machine with embedded defaults — the Kratos
 * double on 4433/4434 (free ports if those are taken), a private redis-server when one is
 * installed (else the in-process store), PGlite in .data/, the local keyring, and the React
 * app (web/) at the printed URL, rebuilt by `vite build --watch` whenever its sources change.
 * Environment variables override any of it; DEV_WEB_BUILD=off serves web/dist as it is.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startGateway } from '../gateway/src/main.js';
import { startKratosDouble } from '../tests/doubles/kratos/index.js';
import { helpIfAsked } from './help.js';

helpIfAsked(import.meta.url);

const dataDir = process.env.DATA_DIR ?? '.data';
mkdirSync(dataDir, { recursive: true });

/** A secret kept in .data/ so that sessions and files survive a restart of the dev server. */
function devSecret(name: string, make: () => string): string {
  const path = join(dataDir, `dev-${name}`);
  if (!existsSync(path)) writeFileSync(path, make(), { mode: 0o600 });
  return readFileSync(path, 'utf8').trim();
}

const portFree = (port: number) =>
  new Promise<boolean>((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });

async function startRedis(): Promise<{ url?: string; proc?: ChildProcess }> {
  if (process.env.REDIS_URL) return { url: process.env.REDIS_URL };
  let port = 6390;
  while (!(await portFree(port))) port++;
  const proc = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    {
      stdio: 'ignore',
    },
  );
  const ok = await new Promise<boolean>((resolve) => {
    proc.once('error', () => resolve(false));
    const deadline = Date.now() + 3000;
    const probe = () => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => (c.destroy(), resolve(true)));
      c.once('error', () => (Date.now() > deadline ? resolve(false) : setTimeout(probe, 50)));
    };
    probe();
  });
  return ok ? { url: `redis://127.0.0.1:${port}`, proc } : {};
}

const root = fileURLToPath(new URL('..', import.meta.url));
/** Vite's dev server (`npm run dev:web`), whose /api goes to this gateway. */
const VITE_DEV_ORIGIN = 'http://localhost:5173';
let webBuild: ChildProcess | undefined;

/** Builds the client package, then keeps web/dist current with `vite build --watch`. */
async function buildWebApp(): Promise<ChildProcess> {
  const tscBin = join(root, 'node_modules/typescript/bin/tsc');
  const tsc = spawn(process.execPath, [tscBin, '-p', 'clients/typescript'], { cwd: root, stdio: 'inherit' });
  const [code] = (await once(tsc, 'exit')) as [number | null];
  if (code !== 0) throw new Error('the client package (clients/typescript) does not build');
  const index = join(root, 'web/dist/index.html');
  const started = Date.now();
  const vite = (webBuild = spawn(
    process.execPath,
    [join(root, 'node_modules/vite/bin/vite.js'), 'build', '--watch'],
    {
      cwd: join(root, 'web'),
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  ));
  const deadline = started + 120_000;
  while (!(existsSync(index) && statSync(index).mtimeMs >= started - 1000)) {
    if (vite.exitCode !== null) throw new Error('vite build --watch stopped');
    if (Date.now() > deadline) throw new Error('the React app did not build within two minutes');
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return vite;
}

async function main() {
  const port = Number(process.env.PORT ?? 3000);
  const publicPort = (await portFree(4433)) ? 4433 : 0;
  const adminPort = (await portFree(4434)) ? 4434 : 0;
  const webhookKey = devSecret('webhook-key', () => randomBytes(24).toString('base64url'));
  const kratos = await startKratosDouble({
    publicPort,
    adminPort,
    webhookUrl: (hook) => `http://127.0.0.1:${port}/hooks/kratos/${hook}`,
    webhookApiKey: webhookKey,
    // Accounts live as long as the passkeys, jars and files the gateway keeps in .data/.
    statePath: join(dataDir, 'kratos-double.json'),
  });
  const redis = await startRedis();
  const base = process.env.PUBLIC_BASE_URL ?? `http://localhost:${port}`;
  const web = process.env.DEV_WEB_BUILD === 'off' ? undefined : await buildWebApp();
  const env = {
    NODE_ENV: 'development',
    PORT: String(port),
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    PUBLIC_BASE_URL: base,
    // The app at / and Vite's dev server (npm run dev:web) may both call the API and use passkeys.
    CORS_ORIGINS: `${new URL(base).origin},${VITE_DEV_ORIGIN}`,
    WEBAUTHN_ORIGINS: `${new URL(base).origin},${VITE_DEV_ORIGIN}`,
    SERVE_DEMO: 'true',
    SESSION_SECRET: devSecret('session-secret', () => randomBytes(32).toString('base64url')),
    SESSION_ENCRYPTION_KEY: devSecret('session-key', () => randomBytes(32).toString('base64')),
    LOCAL_KEYRING_MASTER_KEY: devSecret('keyring-master-key', () => randomBytes(32).toString('base64')),
    SESSION_STORE: redis.url ? 'redis' : 'memory',
    KRATOS_PUBLIC_URL: kratos.publicUrl,
    KRATOS_ADMIN_URL: kratos.adminUrl,
    KRATOS_WEBHOOK_API_KEY: webhookKey,
    PGLITE_DIR: join(dataDir, 'pglite'),
    DATA_DIR: dataDir,
    ...process.env,
    ...(redis.url ? { REDIS_URL: redis.url } : {}),
  };
  const gateway = await startGateway(env);
  console.log(`\n  Auth gateway (development) at ${base} (the React app, rebuilt when web/ changes)`);
  console.log(`  Kratos double: public ${kratos.publicUrl}, admin ${kratos.adminUrl}`);
  console.log(
    `  Redis: ${redis.url ?? 'in-process store (install redis-server for the real one)'}; database: PGlite in ${env.PGLITE_DIR}\n`,
  );
  const stop = async () => {
    await gateway.stop();
    await kratos.close();
    redis.proc?.kill('SIGTERM');
    web?.kill('SIGTERM');
    process.exit(0);
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

main().catch((err) => {
  webBuild?.kill('SIGTERM');
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
