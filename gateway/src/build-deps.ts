import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadPolicy } from './access/policy.js';
import { createGuard } from './access/require-auth.js';
import { stepUpMethods } from './stepup/methods.js';
import { secondFactorsOf } from './factors/second-factors.js';
import { createAuditLog } from './audit/audit-log.js';
import { checkpointDir } from './audit/checkpoints.js';
import type { Config } from './config.js';
import { openDatabase, runMigrations } from './db/database.js';
import type { AppDeps } from './deps.js';
import { createChallengeStore } from './factors/challenge-store.js';
import { createEmailFactorStore } from './factors/email-factor.js';
import { createPasskeyStore } from './factors/passkey-store.js';
import { relyingParty } from './factors/relying-party.js';
import { createAssertionVerifier } from './factors/assertion-verifier.js';
import { createBodyStore } from './files/body-store.js';
import { resolveAuditChainKey } from './keys/audit-chain-key.js';
import { createKeyService } from './keys/create-key-service.js';
import { createKratosClient } from './kratos/client.js';
import { createMailer } from './mail/mailer.js';
import { createSmsSender } from './mail/sms-sender.js';
import type { Logger } from './logging/logger.js';
import { connectRedis, memoryKv, type Kv } from './redis/client.js';
import { createSessionIndex } from './session/session-index.js';
import { createSessionStore } from './session/session-store.js';
import { createTokenCipher } from './session/token-cipher.js';

/**
 * Opens every client the gateway needs, from the configuration, and runs the database
 * migrations. `overrides` lets tests and the dev script substitute pieces (a clock, a
 * Kv, ...). Returns the deps and a `close` that releases them.
 */
export async function buildDeps(config: Config, logger: Logger, overrides: Partial<AppDeps> = {}) {
  // A bad policy file stops the start like a bad configuration does, before any connection opens.
  const policy = overrides.policy ?? loadPolicy(config.POLICY_FILE);
  const clock = overrides.clock ?? (() => new Date());
  const kv: Kv =
    overrides.kv ??
    (config.SESSION_STORE === 'memory'
      ? memoryKv()
      : await connectRedis(
          config.REDIS_URL,
          config.REDIS_KEY_PREFIX,
          (err) => logger.warn('redis connection error', { error: err.message }),
          {
            clientCache: config.REDIS_CLIENT_CACHE,
            tlsCa: config.REDIS_TLS_CA_FILE ? readFileSync(config.REDIS_TLS_CA_FILE) : undefined,
          },
        ));
  const db = overrides.db ?? (await openDatabase({ url: config.DATABASE_URL, pgliteDir: config.PGLITE_DIR }));
  await runMigrations(db);
  const keys = overrides.keys ?? (await createKeyService(config));
  // The embedded keyring creates its key on first start; a Vault key is the operator's to create.
  if (keys.backend === 'local') await keys.ensureKey();
  // The audit chain key is resolved once, here, so group commit MACs locally; no Vault call per event.
  const audit =
    overrides.audit ??
    createAuditLog({
      db,
      clock,
      chain: {
        key: (await resolveAuditChainKey(config)).key,
        checkpointDir: checkpointDir(config.DATA_DIR),
        everyEvents: config.AUDIT_CHECKPOINT_EVERY_EVENTS,
        intervalSeconds: config.AUDIT_CHECKPOINT_INTERVAL_SECONDS,
        logger,
      },
    });
  const deps: AppDeps = {
    config,
    logger,
    clock,
    random: overrides.random ?? randomBytes,
    kv,
    db,
    sessionStore: overrides.sessionStore ?? createSessionStore(kv),
    sessionIndex: createSessionIndex(kv, config.SESSION_ABSOLUTE_LIFETIME_SECONDS),
    tokenCipher: createTokenCipher(config.SESSION_ENCRYPTION_KEY),
    passkeys: overrides.passkeys ?? createPasskeyStore(db),
    emailFactors: overrides.emailFactors ?? createEmailFactorStore(db, { enabled: config.EMAIL_CODE_MFA }),
    smsFactors:
      overrides.smsFactors ?? createEmailFactorStore(db, { enabled: config.SMS_CODE_MFA, channel: 'sms' }),
    smsSender:
      config.SMS_PROVIDER_URL && config.SMS_PROVIDER_API_KEY
        ? createSmsSender({ url: config.SMS_PROVIDER_URL, apiKey: config.SMS_PROVIDER_API_KEY })
        : undefined,
    challenges: overrides.challenges ?? createChallengeStore(kv, config.WEBAUTHN_CHALLENGE_TTL_SECONDS),
    rp: overrides.rp ?? relyingParty(config),
    assertions: overrides.assertions ?? createAssertionVerifier(),
    kratos:
      overrides.kratos ??
      createKratosClient({
        publicUrl: config.KRATOS_PUBLIC_URL,
        adminUrl: config.KRATOS_ADMIN_URL,
        timeoutMs: config.KRATOS_TIMEOUT_MS,
      }),
    audit,
    keys,
    policy,
    // Step-up methods are looked up only when the guard refuses, from the factors the account has.
    guard: createGuard({
      clock,
      policy,
      stepUpMethods: (principal, auth) => stepUpMethods(deps, principal, auth),
      hasSecondFactor: async (identityId) => (await secondFactorsOf(deps, identityId)).length > 0,
      // E-mailed and texted codes are offered for enrolment only where the operator turned them on.
      enrollableFactors: [
        'passkey',
        'totp',
        ...(config.EMAIL_CODE_MFA ? ['email'] : []),
        ...(config.SMS_CODE_MFA ? ['sms'] : []),
      ],
    }),
    mailer:
      overrides.mailer ??
      createMailer({
        smtpUrl: config.SMTP_URL,
        from: config.MAIL_FROM,
        logger,
        printToConsole: config.NODE_ENV === 'development',
      }),
    bodies: overrides.bodies ?? createBodyStore(join(config.DATA_DIR, 'files')),
    ...overrides,
  };
  return {
    deps,
    async close() {
      deps.mailer?.close();
      // The shutdown checkpoint anchors the last rows this replica wrote.
      await deps.audit
        .close?.()
        .catch((error: unknown) =>
          logger.error('audit shutdown checkpoint failed', { error: (error as Error).message }),
        );
      await kv.close();
      await db.close();
    },
  };
}
