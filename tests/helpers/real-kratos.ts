import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildCommand, findRealServer } from '../../scripts/real-servers/binaries.js';
import { repoPath } from '../config/paths.js';
import { createDatabase } from './database.js';
import { WEBHOOK_KEY } from './http.js';
import { startMailSink, type MailSink } from './mail-sink.js';
import { freePort } from './net.js';

/** What the suites need of a Kratos, real or double: its two URLs, mail, and its lifecycle. */
export interface RealKratos {
  target: 'real';
  publicUrl: string;
  adminUrl: string;
  /** The SMTP sink the courier delivers to. */
  mail: MailSink;
  /** Stops the process (an outage); `start` runs it again on the same ports and database. */
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export interface RealKratosOptions {
  /** Where to deliver web hooks ('after-registration', …); undefined answers 503 to Kratos. */
  webhookUrl?: (hookName: string) => string | undefined;
  webhookApiKey?: string;
  /** Kratos configuration overrides as Kratos environment variables (e.g. SESSION_LIFESPAN). */
  env?: Record<string, string>;
}

/** The real Kratos binary, or an error that names the command building it. */
export function realKratosBinary(): string {
  const bin = findRealServer('kratos');
  if (!bin) throw new Error(`real Kratos is not built: run \`${buildCommand}\``);
  return bin;
}

async function run(bin: string, args: string[], env: NodeJS.ProcessEnv): Promise<void> {
  const child = spawn(bin, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0)
    throw new Error(
      `${path.basename(bin)} ${args.join(' ')} failed (${String(code)}): ${stderr.slice(-2000)}`,
    );
}

/**
 * A migrated Kratos database on the Postgres server DATABASE_URL names: the one the real tier's
 * runner prepared (KRATOS_REAL_DSN), or a new one. Every Kratos of a run shares it; the suites
 * use unique addresses, so they never meet.
 */
export async function kratosDatabase(): Promise<{ dsn: string; drop(): Promise<void> }> {
  if (process.env.KRATOS_REAL_DSN) return { dsn: process.env.KRATOS_REAL_DSN, drop: async () => undefined };
  const base = process.env.DATABASE_URL;
  if (!base) throw new Error('real Kratos needs a Postgres server: set DATABASE_URL');
  const db = await createDatabase(base, 'kratos_real');
  const url = new URL(db.url);
  url.searchParams.set('sslmode', 'disable');
  url.searchParams.set('max_conns', '10');
  const dsn = url.toString();
  await run(realKratosBinary(), ['migrate', 'sql', '-e', '--yes'], { ...process.env, DSN: dsn });
  return { dsn, drop: db.drop };
}

/** Forwards Kratos' web hook calls to whichever gateway the test points it at. */
async function startHookRelay(target: (hook: string) => string | undefined): Promise<Server> {
  const server = createServer((req, res) => {
    const hook = /^\/hooks\/kratos\/([a-z-]+)$/.exec(req.url ?? '')?.[1];
    const url = hook ? target(hook) : undefined;
    if (!url) {
      res.writeHead(503).end();
      req.resume();
      return;
    }
    const upstream = request(url, { method: req.method, headers: req.headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.on('error', () => res.destroy());
      answer.pipe(res);
    });
    // Either side may go away (a gateway or Kratos stopped at a suite's end): drop the other.
    upstream.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    req.on('error', () => upstream.destroy());
    req.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return server;
}

/**
 * Starts real Ory Kratos v1.3.1 with the project's own kratos/kratos.yml, rendered by
 * kratos/render-config.sh, on loopback ports, a migrated Postgres database and a local SMTP
 * sink. Web hooks reach the gateway through a relay, so the gateway may start afterwards.
 *
 * Two settings differ from production, for the tests' speed and the machine's closed
 * network: bcrypt cost 4 and no haveibeenpwned look-up. Everything else is kratos.yml.
 */
export async function startRealKratos(options: RealKratosOptions = {}): Promise<RealKratos> {
  const bin = realKratosBinary();
  const [db, mail, relay, publicPort, adminPort] = await Promise.all([
    kratosDatabase(),
    startMailSink(),
    startHookRelay(options.webhookUrl ?? (() => undefined)),
    freePort(),
    freePort(),
  ]);
  const dir = mkdtempSync(path.join(tmpdir(), 'kratos-real-'));
  const publicUrl = `http://127.0.0.1:${publicPort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: dir,
    KRATOS_BIN: bin,
    KRATOS_CONFIG_DIR: repoPath('kratos'),
    KRATOS_CONFIG_RENDERED: path.join(dir, 'kratos.yml'),
    DSN: db.dsn,
    PUBLIC_BASE_URL: 'http://localhost:3000',
    GATEWAY_HOOK_BASE_URL: `http://127.0.0.1:${(relay.address() as AddressInfo).port}`,
    KRATOS_ADMIN_BASE_URL: adminUrl,
    KRATOS_WEBHOOK_API_KEY: options.webhookApiKey ?? WEBHOOK_KEY,
    KRATOS_SECRETS_COOKIE: randomBytes(24).toString('hex'),
    KRATOS_SECRETS_CIPHER: randomBytes(16).toString('hex'),
    KRATOS_SECRETS_DEFAULT: randomBytes(24).toString('hex'),
    KRATOS_COURIER_SMTP_URI: `${mail.url}?disable_starttls=true`,
    MAIL_FROM_ADDRESS: 'no-reply@localhost',
    WEBAUTHN_RP_NAME: 'Auth Gateway',
    SERVE_PUBLIC_HOST: '127.0.0.1',
    SERVE_PUBLIC_PORT: String(publicPort),
    SERVE_PUBLIC_BASE_URL: `${publicUrl}/`,
    SERVE_ADMIN_HOST: '127.0.0.1',
    SERVE_ADMIN_PORT: String(adminPort),
    HASHERS_BCRYPT_COST: '4',
    SELFSERVICE_METHODS_PASSWORD_CONFIG_HAVEIBEENPWNED_ENABLED: 'false',
    COURIER_WORKER_PULL_WAIT: '100ms',
    LOG_LEVEL: process.env.TEST_LOGS ? 'debug' : 'error',
    ...options.env,
  };
  let child: ChildProcess | undefined;
  let output = '';

  const start = async (): Promise<void> => {
    output = '';
    const proc = spawn('sh', [repoPath('kratos', 'render-config.sh'), 'serve', '--dev', '--watch-courier'], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = proc;
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString()).slice(-8000);
      if (process.env.TEST_LOGS) process.stderr.write(chunk);
    };
    proc.stdout.on('data', keep);
    proc.stderr.on('data', keep);
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (proc.exitCode !== null) throw new Error(`real Kratos exited (${proc.exitCode}): ${output}`);
      const ready = await fetch(`${adminUrl}/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) return;
      if (Date.now() > deadline) throw new Error(`real Kratos did not become ready: ${output}`);
      await sleep(50);
    }
  };

  const stop = async (): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null) return;
    const exited = once(proc, 'exit');
    proc.kill('SIGTERM');
    await exited;
  };

  await start();
  return {
    target: 'real',
    publicUrl,
    adminUrl,
    mail,
    stop,
    start,
    async close() {
      await stop();
      await Promise.all([mail.close(), new Promise((resolve) => relay.close(resolve))]);
      await db.drop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
