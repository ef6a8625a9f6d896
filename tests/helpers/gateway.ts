import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { randomBytes } from 'node:crypto';
import { createDatabase, createMigratedDatabase, openTestPglite } from './database.js';
import { createApp } from '../../gateway/src/app.js';
import { buildDeps } from '../../gateway/src/build-deps.js';
import { loadConfig } from '../../gateway/src/config.js';
import type { AppDeps } from '../../gateway/src/deps.js';
import { createLogger } from '../../gateway/src/logging/logger.js';
import type { KratosDouble } from '../doubles/kratos/index.js';
import type { KratosOptions } from './kratos-target.js';
import { startVaultDouble, type DownMode } from '../doubles/vault/index.js';
import { startKratos } from './kratos-target.js';
import { startRealVault } from './real-vault.js';
import { startMailSink, type MailSink } from './mail-sink.js';
import { startSmsSink, type SmsSink } from './sms-sink.js';
import { WEBHOOK_KEY } from './http.js';

/**
 * A throwaway database for one test gateway: a fresh database on the real Postgres server
 * when DATABASE_URL is set (CI), else an in-memory PGlite. `migrated`: a copy of the test
 * run's migrated template instead of an empty database.
 */
export async function createTestDatabase(
  options: { migrated?: boolean } = {},
): Promise<{ url?: string; drop(): Promise<void> }> {
  const base = process.env.DATABASE_URL;
  if (!base) return { url: undefined, drop: async () => undefined };
  return options.migrated ? createMigratedDatabase(base) : createDatabase(base, 'gw_test');
}

const RATE_LIMIT_KEYS = [
  'RATE_LIMIT_LOGIN',
  'RATE_LIMIT_REGISTRATION',
  'RATE_LIMIT_IDENTIFY',
  'RATE_LIMIT_RECOVERY',
  'RATE_LIMIT_VERIFICATION',
  'RATE_LIMIT_SECOND_FACTOR',
  'RATE_LIMIT_PASSKEY',
];

export interface TestGateway {
  url: string;
  port: number;
  deps: AppDeps;
  kratos: KratosDouble;
  /** Base URL of the API under /api/auth. */
  auth: string;
  /** The SMTP sink the gateway mails to; undefined when the test gave its own SMTP_URL. */
  mail: MailSink | undefined;
  /** The SMS provider stand-in Kratos' courier and the gateway text to (with `sms: true`). */
  sms: SmsSink | undefined;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  env?: Record<string, string>;
  kratos?: KratosDouble;
  kratosOptions?: KratosOptions;
  overrides?: Partial<AppDeps>;
  /** Reuse another gateway's Redis prefix and database (two replicas). */
  share?: TestGateway;
  /**
   * Starts an SMS sink as the operator's SMS provider: Kratos' courier (its `sms` channel) and
   * the gateway (SMS_PROVIDER_URL) text to it. Without it the deployment has no SMS.
   */
  sms?: boolean;
}

/**
 * Starts the real gateway in-process on a free port, against real Redis (REDIS_URL, with
 * a private key prefix), a private database and the Kratos the run targets (the double, or
 * real Kratos in the real-stack tier), whose web hooks reach this gateway.
 */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const ownKratos = !options.kratos && !options.share;
  const sms = options.sms ? (options.share?.sms ?? (await startSmsSink())) : undefined;
  const ownSms = Boolean(sms) && !options.share?.sms;
  // Kratos calls its web hooks (kratos.yml has them) on this gateway, as it does in compose.
  const hookTarget: { url?: string } = {};
  const kratos =
    options.kratos ??
    options.share?.kratos ??
    (await startKratos({
      webhookUrl: (hook: string) => hookTarget.url && `${hookTarget.url}/hooks/kratos/${hook}`,
      webhookApiKey: WEBHOOK_KEY,
      ...(sms && { sms: { url: sms.url, apiKey: sms.apiKey } }),
      ...options.kratosOptions,
    }));
  const db = options.share ? undefined : await createTestDatabase({ migrated: true });
  // Sign-up codes and notices arrive as real mail, read by the tests from this sink (one
  // for replicas that share a gateway's state, so a mail from either lands in one place).
  const ownMail = options.env?.SMTP_URL === undefined && !options.share?.mail;
  const mail = ownMail ? await startMailSink() : options.env?.SMTP_URL ? undefined : options.share?.mail;
  const shared = options.share?.deps.config;
  const env: Record<string, string | undefined> = {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    METRICS_PORT: '0',
    PUBLIC_BASE_URL: 'http://localhost:3000',
    SESSION_SECRET: shared?.SESSION_SECRET ?? randomBytes(32).toString('base64url'),
    SESSION_ENCRYPTION_KEY: (shared?.SESSION_ENCRYPTION_KEY ?? randomBytes(32)).toString('base64'),
    REDIS_URL: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379',
    REDIS_KEY_PREFIX: shared?.REDIS_KEY_PREFIX ?? `t${randomBytes(4).toString('hex')}:`,
    DATABASE_URL: shared?.DATABASE_URL ?? db?.url,
    PGLITE_DIR: 'memory',
    KRATOS_PUBLIC_URL: kratos.publicUrl,
    KRATOS_ADMIN_URL: kratos.adminUrl,
    KRATOS_WEBHOOK_API_KEY: WEBHOOK_KEY,
    LOG_LEVEL: 'error',
    // Every suite signs many users in from 127.0.0.1: the rate-limit suites set real limits themselves.
    ...Object.fromEntries(RATE_LIMIT_KEYS.map((key) => [key, '10000/60'])),
    DATA_DIR: shared?.DATA_DIR ?? `${process.env.TMPDIR ?? '/tmp'}/gw-test-${randomBytes(4).toString('hex')}`,
    ...(mail && { SMTP_URL: mail.url }),
    ...(sms && { SMS_PROVIDER_URL: sms.url, SMS_PROVIDER_API_KEY: sms.apiKey }),
    ...options.env,
  };
  const config = loadConfig(env);
  const logger = createLogger({ level: 'error', silent: !process.env.TEST_LOGS });
  const sharedDb = options.share && !shared?.DATABASE_URL ? { db: options.share.deps.db } : {};
  // Without Postgres, an in-memory PGlite already migrated (creating one costs seconds).
  const ownPglite =
    !options.share && !config.DATABASE_URL && config.PGLITE_DIR === 'memory' && !options.overrides?.db
      ? { db: await openTestPglite({ migrated: true }) }
      : {};
  const built = await buildDeps(config, logger, { ...sharedDb, ...ownPglite, ...options.overrides });
  const server = createApp(built.deps).listen(config.PORT, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  hookTarget.url = url;
  return {
    url,
    port,
    deps: built.deps,
    kratos,
    auth: `${url}/api/auth`,
    mail,
    sms,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      if (!sharedDb.db) await built.close();
      else await built.deps.kv.close();
      if (db) await db.drop();
      if (ownKratos) await kratos.close();
      if (ownMail) await mail?.close();
      if (ownSms) await sms?.close();
    },
  };
}

/** What the Vault suites do to the Vault under test: the double's knobs, or the real server's API. */
export interface VaultUnderTest {
  url: string;
  seal(): void | Promise<void>;
  unseal(): void | Promise<void>;
  /** `mode` picks how the double fails; a stopped real server refuses connections. */
  setDown(down: boolean, mode?: DownMode): void | Promise<void>;
}

/**
 * A test gateway whose keys live in Vault transit, with the transit key created as
 * `vault/init.sh` creates it: the Vault double, or with VAULT_TARGET=real the real server set
 * up by init.sh itself, which the gateway reaches by AppRole under vault/policies/gateway.hcl.
 * Closing it closes both.
 */
export async function startGatewayWithVault(
  env: Record<string, string> = {},
  /** 'double' for a suite that counts the double's requests (white-box), whatever the tier. */
  target: 'double' | 'tier' = 'tier',
) {
  let vault: VaultUnderTest & { close(): Promise<void> };
  let vaultEnv: Record<string, string>;
  if (target === 'tier' && process.env.VAULT_TARGET === 'real') {
    const real = await startRealVault();
    vault = { ...real, url: real.addr };
    vaultEnv = {
      VAULT_ADDR: real.addr,
      VAULT_ROLE_ID_FILE: real.roleIdFile,
      VAULT_SECRET_ID_FILE: real.secretIdFile,
    };
  } else {
    const double = await startVaultDouble();
    double.transit.create('gateway-files', { derived: true });
    double.transit.create('gateway-audit-chain', {});
    vault = double;
    vaultEnv = { VAULT_ADDR: double.url, VAULT_TOKEN: double.rootToken };
  }
  const gw = await startTestGateway({ env: { KEYS_BACKEND: 'vault', ...vaultEnv, ...env } });
  return {
    gw,
    vault: vault as VaultUnderTest,
    async close() {
      await gw.close();
      await vault.close();
    },
  };
}
