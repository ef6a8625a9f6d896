import { randomBytes, randomUUID } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Response } from 'express';
import { queryAuditEvents } from '../../../gateway/src/audit/query-events.js';
import type { StoredAuditEvent } from '../../../gateway/src/audit/audit-log.js';
import { buildDeps } from '../../../gateway/src/build-deps.js';
import { loadConfig } from '../../../gateway/src/config.js';
import type { AppDeps } from '../../../gateway/src/deps.js';
import { createLogger } from '../../../gateway/src/logging/logger.js';
import { computeAal } from '../../../gateway/src/session/aal.js';
import type { Principal } from '../../../gateway/src/session/principal.js';
import type { RequestContext } from '../../../gateway/src/session/request-context.js';
import { Session, SESSION_COOKIE } from '../../../gateway/src/session/session-store.js';
import { startKratosDouble, type KratosDouble } from '../../doubles/kratos/index.js';
import { openTestDatabase } from '../../helpers/database.js';
import { startMailSink, type MailSink } from '../../helpers/mail-sink.js';

export const PASSWORD = 'correct-horse-battery-staple-42';

let counter = 0;
/** An address no other test uses. */
export const uniqueAddress = (tag = 'user') => `${tag}.${process.pid}.${Date.now()}.${counter++}@example.com`;

/** What a use case's caller sees of the browser: the session cookie the use case set or cleared. */
export interface Browser {
  cookie: string | undefined;
  session: Session;
}

/**
 * The gateway's use cases with their real dependencies and no HTTP server of ours: the
 * assembly of main.ts (buildDeps) over an in-memory Kv, a migrated database (PGlite, or
 * Postgres with DATABASE_URL), the local keyring in a temporary data directory, the Kratos
 * double and an SMTP sink standing in for the outside services.
 */
export interface UseCaseWorld {
  deps: AppDeps;
  kratos: KratosDouble;
  mail: MailSink;
  /** A browser with a fresh, anonymous gateway session. */
  browser(): Browser;
  /** The request context a route would build with `contextOf(req)`. */
  context(browser: Browser, principal?: Principal): RequestContext;
  /** An identity created through the gateway's Kratos client (with a password unless `password: null`). */
  identity(options?: {
    password?: string | null;
  }): Promise<{ id: string; email: string; password: string | undefined }>;
  /** Stores a passkey for the identity (the row a completed registration ceremony writes). */
  passkey(identityId: string, nickname?: string): Promise<string>;
  /**
   * Who is calling, as the guards hand it to a route: from the browser's gateway session, or
   * (without one) a session just signed in with a user-verified passkey.
   */
  principal(who: { id: string; email: string }, browser?: Browser): Principal;
  /** Audit events of one identity, newest first. */
  audit(identityId: string, type?: string): Promise<StoredAuditEvent[]>;
  close(): Promise<void>;
}

export async function startWorld(env: Record<string, string> = {}): Promise<UseCaseWorld> {
  const [kratos, mail, database] = await Promise.all([
    startKratosDouble(),
    startMailSink(),
    openTestDatabase({ migrated: true }),
  ]);
  const dataDir = join(tmpdir(), `gw-use-cases-${randomBytes(4).toString('hex')}`);
  const config = loadConfig({
    NODE_ENV: 'test',
    SESSION_SECRET: randomBytes(32).toString('base64url'),
    SESSION_ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    SESSION_STORE: 'memory',
    PGLITE_DIR: 'memory',
    KRATOS_PUBLIC_URL: kratos.publicUrl,
    KRATOS_ADMIN_URL: kratos.adminUrl,
    DATA_DIR: dataDir,
    SMTP_URL: mail.url,
    LOG_LEVEL: 'error',
    ...env,
  });
  const logger = createLogger({ level: 'error', silent: !process.env.TEST_LOGS });
  const { deps } = await buildDeps(config, logger, { db: database.db });
  const sessionContext = { store: deps.sessionStore, config, clock: deps.clock, random: deps.random };

  return {
    deps,
    kratos,
    mail,
    browser() {
      const browser: Browser = { cookie: undefined, session: undefined as unknown as Session };
      // The session layer's one tie to Express: the answer it sets its cookie on.
      const res = {
        cookie: (name: string, value: string) => {
          if (name === SESSION_COOKIE) browser.cookie = value;
        },
        clearCookie: (name: string) => {
          if (name === SESSION_COOKIE) browser.cookie = undefined;
        },
      } as unknown as Response;
      browser.session = new Session(sessionContext, res);
      return browser;
    },
    context(browser, principal) {
      return {
        ip: '192.0.2.10',
        requestId: randomUUID(),
        userAgent: 'use-case-tests',
        session: browser.session,
        principal,
      };
    },
    async identity(options = {}) {
      const email = uniqueAddress();
      const password = options.password === null ? undefined : (options.password ?? PASSWORD);
      const identity = await deps.kratos.createIdentity({
        traits: { email },
        password,
        metadataPublic: { roles: ['user'] },
        verifiedAddress: email,
      });
      return { id: identity.id, email, password };
    },
    async passkey(identityId, nickname = 'Security key') {
      await deps.passkeys.userHandleFor(identityId, () => randomBytes(32).toString('base64url'));
      const id = randomBytes(32).toString('base64url');
      const added = await deps.passkeys.add({
        id,
        identityId,
        publicKey: new Uint8Array(randomBytes(77)),
        counter: 0,
        transports: ['usb'],
        aaguid: '00000000-0000-0000-0000-000000000000',
        deviceType: 'singleDevice',
        backedUp: false,
        nickname,
        registeredUnverified: false,
      });
      if (!added) throw new Error('passkey not stored');
      return id;
    },
    principal(who, browser) {
      const now = deps.clock().getTime();
      const auth = browser?.session.auth ?? {
        identityId: who.id,
        handle: `g_${randomBytes(18).toString('base64url')}`,
        kratosToken: undefined,
        methods: [{ method: 'passkey', completedAt: new Date(now).toISOString(), userVerified: true }],
        createdAt: now,
        authenticatedAt: now,
        expiresAt: now + config.SESSION_ABSOLUTE_LIFETIME_SECONDS * 1000,
      };
      const first = auth.kratosToken
        ? [{ method: 'password', completedAt: new Date(auth.createdAt).toISOString() }]
        : [];
      const methods = [...first, ...auth.methods];
      return {
        identityId: auth.identityId,
        email: who.email,
        emailVerified: true,
        traits: { email: who.email },
        roles: ['user'],
        aal: computeAal(methods),
        methods,
        source: 'gateway',
        sessionId: auth.handle,
        authenticatedAt: new Date(auth.authenticatedAt).toISOString(),
        expiresAt: new Date(auth.expiresAt).toISOString(),
      };
    },
    async audit(identityId, type) {
      return (await queryAuditEvents(deps.db, { identity: identityId, type, limit: 100 })).events;
    },
    async close() {
      // What buildDeps' close does, except that the database goes with its own close (and drop).
      deps.mailer?.close();
      await deps.audit.close?.();
      await deps.kv.close();
      await database.close();
      await Promise.all([kratos.close(), mail.close(), rm(dataDir, { recursive: true, force: true })]);
    },
  };
}
