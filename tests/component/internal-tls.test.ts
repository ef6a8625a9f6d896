/**
 * TLS on the gateway's internal connections, configured as docs/operator-guide.md ("TLS inside
 * the core network") says: Vault at an https VAULT_ADDR with VAULT_CACERT, Redis at a rediss://
 * REDIS_URL with REDIS_TLS_CA_FILE, Postgres with sslmode=verify-full and sslrootcert. Each
 * server sits behind a real TLS endpoint whose certificate a private CA signed: with that CA
 * the connection works, with another CA it is refused.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../gateway/src/db/database.js';
import { createVaultClient } from '../../gateway/src/keys/vault-client.js';
import { createVaultKeyService } from '../../gateway/src/keys/vault-key-service.js';
import { connectRedis } from '../../gateway/src/redis/client.js';
import { startVaultDouble, type VaultDouble } from '../doubles/vault/index.js';
import { createTestDatabase, startTestGateway } from '../helpers/gateway.js';
import {
  createTestPki,
  startPostgresTlsProxy,
  startTlsProxy,
  type Proxy,
  type TestPki,
} from '../helpers/tls.js';

const redisPort = () => Number(new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379').port || 6379);

describe('TLS to Vault, Redis and Postgres with a private CA', () => {
  let pki: TestPki;
  let vault: VaultDouble;
  let vaultTls: Proxy;
  let redisTls: Proxy;

  before(async () => {
    pki = createTestPki();
    vault = await startVaultDouble();
    vault.transit.create('gateway-files', { derived: true });
    vault.transit.create('gateway-audit-chain', {});
    vaultTls = await startTlsProxy(pki, Number(new URL(vault.url).port));
    redisTls = await startTlsProxy(pki, redisPort());
  });

  after(async () => {
    await vaultTls.close();
    await redisTls.close();
    await vault.close();
    pki.close();
  });

  const vaultKeys = (caFile?: string) =>
    createVaultKeyService({
      client: createVaultClient({
        addr: `https://127.0.0.1:${vaultTls.port}`,
        auth: { token: vault.rootToken },
        timeoutMs: 2000,
        caCert: caFile ? readFileSync(caFile) : undefined,
      }),
      mount: 'transit',
      keyName: 'gateway-files',
    });

  it('reaches Vault over https when its CA is given, and calls Vault unavailable (503) under another CA', async () => {
    const trusted = vaultKeys(pki.caFile);
    assert.equal((await trusted.health()).ok, true);
    assert.equal((await trusted.createDataKey('user-a')).plaintext.length, 32);
    const other = vaultKeys(pki.otherCaFile);
    assert.equal((await other.health()).ok, false);
    await assert.rejects(other.createDataKey('user-a'), (error: { code?: string; status?: number }) => {
      assert.equal(error.code, 'keys_unavailable');
      assert.equal(error.status, 503);
      return true;
    });
  });

  it('checks the certificate even with VAULT_SKIP_VERIFY in the environment (node-vault alone would not)', async () => {
    process.env.VAULT_SKIP_VERIFY = '1';
    const unverified = vaultKeys();
    delete process.env.VAULT_SKIP_VERIFY;
    await assert.rejects(unverified.createDataKey('user-a'), (error: { code?: string; cause?: Error }) => {
      assert.equal(error.code, 'keys_unavailable');
      assert.match(String(error.cause?.message), /UNABLE_TO_VERIFY|SELF_SIGNED|certificate/i);
      return true;
    });
  });

  it('reaches Redis at a rediss:// URL when its CA is given', async () => {
    const kv = await connectRedis(`rediss://127.0.0.1:${redisTls.port}`, 'tls-test:', () => undefined, {
      tlsCa: readFileSync(pki.caFile),
    });
    try {
      await kv.set('k', 'over tls', 10);
      assert.equal(await kv.get('k'), 'over tls');
      assert.equal(await kv.getCached('k'), 'over tls', 'the client-side cache connection too');
    } finally {
      await kv.close();
    }
  });

  it('refuses a Redis server whose certificate another CA signed', async () => {
    // connectRedis keeps retrying a failed connection and reports each failure: a child
    // process prints the reports until one names the certificate, then exits.
    const script = `
      import { readFileSync } from 'node:fs';
      import { connectRedis } from './gateway/src/redis/client.ts';
      void connectRedis(process.argv[1], 'x:', (error) => {
        console.log(error.message);
        if (/certificate|verify/i.test(error.message)) process.exit(0);
      }, { tlsCa: readFileSync(process.argv[2]) }).then(() => process.exit(3));
      setTimeout(() => process.exit(4), 20_000);
    `;
    // Asynchronous: the TLS endpoint runs in this process.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--input-type=module',
        '-e',
        script,
        `rediss://127.0.0.1:${redisTls.port}`,
        pki.otherCaFile,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const result = { status: null as number | null, stdout: '', stderr: '' };
    child.stdout.on('data', (chunk: Buffer) => (result.stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (result.stderr += chunk.toString()));
    [result.status] = (await once(child, 'exit')) as [number | null];
    assert.equal(result.status, 0, result.stderr + result.stdout);
    assert.match(result.stdout, /unable to verify the first certificate/);
  });

  it('needs a rediss:// URL for a Redis CA', async () => {
    await assert.rejects(
      connectRedis(`redis://127.0.0.1:${redisPort()}`, 'x:', () => undefined, {
        tlsCa: readFileSync(pki.caFile),
      }),
      /rediss:\/\//,
    );
  });

  if (process.env.DATABASE_URL) {
    it('reaches Postgres with sslmode=verify-full and sslrootcert, and refuses a server another CA signed', async () => {
      const base = new URL(process.env.DATABASE_URL ?? '');
      const proxy = await startPostgresTlsProxy(pki, base.hostname, Number(base.port || 5432));
      const url = (ca: string) => {
        const tls = new URL(base);
        tls.hostname = '127.0.0.1';
        tls.port = String(proxy.port);
        tls.searchParams.set('sslmode', 'verify-full');
        tls.searchParams.set('sslrootcert', ca);
        return tls.toString();
      };
      try {
        const db = await openDatabase({ url: url(pki.caFile), pgliteDir: 'memory' });
        try {
          // The endpoint speaks only TLS (it drops a connection without an SSLRequest).
          const { rows } = await db.query<{ one: number }>('SELECT 1 AS one');
          assert.equal(rows[0]?.one, 1);
        } finally {
          await db.close();
        }
        const refused = await openDatabase({ url: url(pki.otherCaFile), pgliteDir: 'memory' });
        try {
          await assert.rejects(refused.query('SELECT 1'), /certificate|verify/i);
        } finally {
          await refused.close();
        }
      } finally {
        await proxy.close();
      }
    });
  } else if (process.env.CI) {
    throw new Error('CI must provide DATABASE_URL so TLS to Postgres is tested');
  }

  it('runs a gateway whose Vault, Redis (and Postgres, with DATABASE_URL) connections all use TLS: /readyz is ready', async () => {
    const db = await createTestDatabase();
    const base = db.url ? new URL(db.url) : undefined;
    const pgProxy = base
      ? await startPostgresTlsProxy(pki, base.hostname, Number(base.port || 5432))
      : undefined;
    let databaseUrl: string | undefined;
    if (base && pgProxy) {
      const tls = new URL(base);
      tls.hostname = '127.0.0.1';
      tls.port = String(pgProxy.port);
      tls.searchParams.set('sslmode', 'verify-full');
      tls.searchParams.set('sslrootcert', pki.caFile);
      databaseUrl = tls.toString();
    }
    const gw = await startTestGateway({
      env: {
        KEYS_BACKEND: 'vault',
        VAULT_ADDR: `https://127.0.0.1:${vaultTls.port}`,
        VAULT_TOKEN: vault.rootToken,
        VAULT_CACERT: pki.caFile,
        REDIS_URL: `rediss://127.0.0.1:${redisTls.port}`,
        REDIS_TLS_CA_FILE: pki.caFile,
        ...(databaseUrl && { DATABASE_URL: databaseUrl }),
      },
    });
    try {
      const res = await fetch(`${gw.url}/readyz`);
      const body = (await res.json()) as { checks: Record<string, string> };
      assert.equal(res.status, 200, JSON.stringify(body));
      assert.deepEqual(body.checks, { redis: 'ok', database: 'ok', kratos: 'ok', keys: 'ok' });
      assert.equal(gw.deps.config.REDIS_TLS_CA_FILE, pki.caFile);
    } finally {
      await gw.close();
      await pgProxy?.close();
      await db.drop();
    }
  });
});
