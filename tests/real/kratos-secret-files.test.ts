/**
 * Kratos' secrets as Docker secrets, with the real Kratos v1.3.1: the compose services
 * `kratos-migrate` and `kratos` start through kratos/render-config.sh with every secret,
 * the DSN included, in a file named by NAME_FILE and none in the environment. The migration
 * (`migrate sql -e`, which reads the DSN from the rendered --config) creates Kratos' tables,
 * the server becomes ready, and no secret value is in the environment of the Kratos process.
 * The DSN is the one docs/operator-guide.md gives for TLS to Postgres (sslmode=verify-full,
 * sslrootcert): Kratos reaches Postgres through a TLS endpoint whose certificate a private CA
 * signed, and only with that CA.
 *
 * Part of the real-stack tier (`npm run test:real`), which builds on `npm run real:build`.
 */
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { parse } from 'yaml';
import { readRepoFile, repoPath } from '../config/paths.js';
import { createDatabase, type ThrowawayDatabase } from '../helpers/database.js';
import { realKratosBinary } from '../helpers/real-kratos.js';
import { freePort } from '../helpers/net.js';
import { createTestPki, startPostgresTlsProxy, type Proxy, type TestPki } from '../helpers/tls.js';

interface KratosService {
  environment: Record<string, string>;
  secrets: string[];
  command: string[];
}

const compose = parse(readRepoFile('docker-compose.yml'), { merge: true }) as {
  services: Record<string, KratosService>;
};

describe('Kratos with its secrets in files and TLS to Postgres (the compose kratos-migrate and kratos services)', () => {
  let dir: string;
  let db: ThrowawayDatabase;
  let env: NodeJS.ProcessEnv;
  let secrets: Record<string, string>;
  let kratos: ChildProcess | undefined;
  let pki: TestPki;
  let pgTls: Proxy;

  before(async () => {
    const bin = realKratosBinary();
    if (!process.env.DATABASE_URL) throw new Error('real Kratos needs a Postgres server: set DATABASE_URL');
    dir = mkdtempSync(path.join(tmpdir(), 'kratos-secret-files-'));
    db = await createDatabase(process.env.DATABASE_URL, 'kratos_files');
    pki = createTestPki();
    const plain = new URL(db.url);
    pgTls = await startPostgresTlsProxy(pki, plain.hostname, Number(plain.port || 5432));
    const dsn = new URL(db.url);
    dsn.hostname = '127.0.0.1';
    dsn.port = String(pgTls.port);
    dsn.searchParams.set('sslmode', 'verify-full');
    dsn.searchParams.set('sslrootcert', pki.caFile);
    secrets = {
      kratos_dsn: dsn.toString(),
      kratos_courier_smtp_uri: 'smtp://127.0.0.1:2525/?disable_starttls=true',
      kratos_webhook_api_key: randomBytes(32).toString('hex'),
      kratos_secrets_cookie: randomBytes(32).toString('hex'),
      kratos_secrets_cipher: randomBytes(16).toString('hex'),
      kratos_secrets_default: randomBytes(32).toString('hex'),
      // SMS off: compose mounts an empty file for an empty SMS_PROVIDER_API_KEY.
      sms_provider_api_key: '',
    };
    mkdirSync(path.join(dir, 'secrets'));
    // The compose environment, with /run/secrets moved to the temp folder; each file ends
    // with a newline, as one written by hand or by `docker secret create` from a file would.
    const fromCompose: Record<string, string> = {};
    for (const [key, value] of Object.entries(compose.services.kratos?.environment ?? {})) {
      if (!value.startsWith('/run/secrets/')) continue;
      const name = value.slice('/run/secrets/'.length);
      assert.ok(name in secrets, `the test provides ${name}`);
      const content = secrets[name] ? `${secrets[name]}\n` : '';
      writeFileSync(path.join(dir, 'secrets', name), content, { mode: 0o400 });
      fromCompose[key] = path.join(dir, 'secrets', name);
    }
    assert.deepEqual(Object.keys(fromCompose).sort(), [
      'DSN_FILE',
      'KRATOS_COURIER_SMTP_URI_FILE',
      'KRATOS_SECRETS_CIPHER_FILE',
      'KRATOS_SECRETS_COOKIE_FILE',
      'KRATOS_SECRETS_DEFAULT_FILE',
      'KRATOS_WEBHOOK_API_KEY_FILE',
      'SMS_PROVIDER_API_KEY_FILE',
    ]);
    const [publicPort, adminPort] = [await freePort(), await freePort()];
    env = {
      PATH: process.env.PATH,
      HOME: dir,
      KRATOS_BIN: bin,
      KRATOS_CONFIG_DIR: repoPath('kratos'),
      KRATOS_CONFIG_RENDERED: path.join(dir, 'rendered', 'kratos.yml'),
      PUBLIC_BASE_URL: 'http://localhost:3000',
      WEBAUTHN_RP_NAME: 'Auth Gateway',
      MAIL_FROM_ADDRESS: 'no-reply@localhost',
      GATEWAY_HOOK_BASE_URL: 'http://127.0.0.1:9',
      KRATOS_ADMIN_BASE_URL: `http://127.0.0.1:${adminPort}`,
      SERVE_PUBLIC_HOST: '127.0.0.1',
      SERVE_PUBLIC_PORT: String(publicPort),
      SERVE_ADMIN_HOST: '127.0.0.1',
      SERVE_ADMIN_PORT: String(adminPort),
      LOG_LEVEL: 'error',
      ...fromCompose,
    };
  });

  after(async () => {
    if (kratos && kratos.exitCode === null) {
      kratos.kill('SIGTERM');
      await once(kratos, 'exit');
    }
    await pgTls?.close();
    pki?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function renderAndRun(args: string[]): ChildProcess {
    return spawn('sh', [repoPath('kratos', 'render-config.sh'), ...args], {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  }

  it('migrates the database over TLS with `migrate sql -e` and no DSN in the environment', async () => {
    assert.equal(env.DSN, undefined);
    const migrate = renderAndRun(compose.services['kratos-migrate']?.command ?? []);
    let output = '';
    migrate.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    migrate.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const [code] = (await once(migrate, 'exit')) as [number | null];
    assert.equal(code, 0, output.slice(-2000));
    for (const secret of Object.values(secrets).filter(Boolean))
      assert.ok(!output.includes(secret), 'no secret in its output');
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    try {
      const tables = await client.query(
        "SELECT 1 FROM information_schema.tables WHERE table_name = 'identities'",
      );
      assert.equal(tables.rowCount, 1, 'Kratos created its tables');
    } finally {
      await client.end();
    }
  });

  it('serves with every secret from its file, none of them in the Kratos process environment', async () => {
    kratos = renderAndRun(['serve']);
    let output = '';
    kratos.stdout?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    kratos.stderr?.on('data', (chunk: Buffer) => (output = (output + chunk.toString()).slice(-4000)));
    const deadline = Date.now() + 60_000;
    for (;;) {
      if (kratos.exitCode !== null) throw new Error(`Kratos exited (${kratos.exitCode}): ${output}`);
      const ready = await fetch(`${env.KRATOS_ADMIN_BASE_URL}/health/ready`).then(
        (r) => r.ok,
        () => false,
      );
      if (ready) break;
      if (Date.now() > deadline) throw new Error(`Kratos did not become ready: ${output}`);
      await sleep(100);
    }
    // render-config.sh execs Kratos: the shell's pid is Kratos' pid.
    const environment = readFileSync(`/proc/${kratos.pid}/environ`, 'utf8');
    assert.match(environment, /KRATOS_SECRETS_CIPHER_FILE=/);
    for (const [name, secret] of Object.entries(secrets).filter(([, value]) => value))
      assert.ok(!environment.includes(secret), `${name} is not in the environment of Kratos`);
    const rendered = parse(readFileSync(env.KRATOS_CONFIG_RENDERED ?? '', 'utf8')) as {
      dsn: string;
      secrets: { cipher: string[] };
    };
    assert.equal(rendered.dsn, secrets.kratos_dsn, 'one trailing newline dropped');
    assert.deepEqual(rendered.secrets.cipher, [secrets.kratos_secrets_cipher]);
  });
});
