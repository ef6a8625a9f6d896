import { createHash } from 'node:crypto';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { computeAal, type CompletedMethod } from '../access/aal.js';
import type { AppDeps } from '../deps.js';
import type { KratosIdentity, KratosSession, WhoamiResult } from '../kratos/types.js';
import { rolesOf, type Principal } from './principal.js';
import type { GatewayAuth } from './session-data.js';
import { endGatewaySession } from './sessions.js';

export const KRATOS_COOKIE = 'ory_kratos_session';

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
    /** Why there is no principal although a credential was presented. */
    authProblem?: 'aal2_required';
  }
}

const sha256 = (value: string) => createHash('sha256').update(value).digest('base64url');

/** Reads one cookie from the Cookie header without parsing the others. */
export function readCookie(req: Request, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/**
 * Reads through the short Redis cache shared by every replica. The entry carries its own
 * expiry, so a copy held anywhere (the client-side cache included) is never trusted past it.
 */
async function readThrough<T>(
  deps: AppDeps,
  key: string,
  load: () => Promise<T>,
  cacheable: (value: T) => boolean,
): Promise<T> {
  const ttl = deps.config.WHOAMI_CACHE_SECONDS;
  if (ttl === 0) return load();
  const now = deps.clock().getTime();
  const hit = await deps.kv.getCached(key);
  if (hit) {
    const entry = JSON.parse(hit) as { value: T; expiresAt: number };
    if (entry.expiresAt > now) return entry.value;
  }
  const value = await load();
  if (cacheable(value)) await deps.kv.set(key, JSON.stringify({ value, expiresAt: now + ttl * 1000 }), ttl);
  return value;
}

/** Kratos whoami behind the short cache: a Kratos-side logout takes effect within its TTL. */
function cachedWhoami(deps: AppDeps, credential: { token: string } | { cookie: string }) {
  const key = `whoami:${sha256('token' in credential ? `t:${credential.token}` : `c:${credential.cookie}`)}`;
  return readThrough<WhoamiResult>(
    deps,
    key,
    () => deps.kratos.whoami(credential),
    (r) => r.status !== 'invalid',
  );
}

/** The admin view of an identity behind the same short cache. */
function cachedIdentity(deps: AppDeps, identityId: string): Promise<KratosIdentity | undefined> {
  return readThrough(deps, `identity:${identityId}`, () => deps.kratos.getIdentity(identityId), Boolean);
}

/** Drops cached views of an identity, so a change (roles, state) is seen at once. */
export async function forgetIdentity(deps: AppDeps, identityId: string) {
  await deps.kv.del(`identity:${identityId}`);
}

/** Drops the cached whoami of a Kratos session token, so a change at Kratos (AAL, traits) is seen at once. */
export async function forgetWhoami(deps: AppDeps, token: string) {
  await deps.kv.del(`whoami:${sha256(`t:${token}`)}`);
}

/**
 * Whoami's identity lacks the admin metadata (Kratos shows it only on the admin API), where
 * flags such as `password_change_required` live: take it from the cached admin view.
 */
function withAdminMetadata(identity: KratosIdentity, admin: KratosIdentity | undefined): KratosIdentity {
  return { ...identity, metadataAdmin: admin?.metadataAdmin ?? identity.metadataAdmin };
}

function kratosMethods(session: KratosSession): CompletedMethod[] {
  return session.methods.map((m) => ({ method: m.method, completedAt: m.completedAt, aal: m.aal }));
}

function buildPrincipal(
  identity: KratosIdentity,
  base: Pick<
    Principal,
    'source' | 'sessionId' | 'authenticatedAt' | 'expiresAt' | 'passkeyEnrollmentRequired'
  >,
  methods: CompletedMethod[],
  kratosAal?: 'aal1' | 'aal2',
): Principal {
  return {
    identityId: identity.id,
    email: identity.email,
    emailVerified: identity.emailVerified,
    traits: identity.traits,
    roles: rolesOf(identity.metadataPublic),
    aal: computeAal(methods, kratosAal),
    methods,
    ...base,
    ...(identity.metadataAdmin.password_change_required === true ? { passwordChangeRequired: true } : {}),
  };
}

/** Resolves a gateway session; undefined (and the session ended) when it is no longer valid. */
async function fromGatewaySession(
  deps: AppDeps,
  req: Request,
  auth: GatewayAuth,
): Promise<Principal | undefined> {
  const now = deps.clock().getTime();
  const idleLimit = deps.config.SESSION_IDLE_TIMEOUT_SECONDS * 1000;
  if (auth.expiresAt <= now || now - auth.lastSeenAt > idleLimit) {
    await endGatewaySession(deps, req, { revokeKratos: true });
    return undefined;
  }
  const base = {
    ...(auth.passkeyEnrollmentRequired ? { passkeyEnrollmentRequired: true } : {}),
    source: 'gateway' as const,
    sessionId: auth.handle,
    authenticatedAt: new Date(auth.authenticatedAt).toISOString(),
    expiresAt: new Date(auth.expiresAt).toISOString(),
  };
  const token = auth.kratosToken && deps.tokenCipher.open(auth.kratosToken, auth.handle);
  if (auth.kratosToken) {
    if (!token) {
      await endGatewaySession(deps, req, { revokeKratos: false });
      return undefined;
    }
    // Both views are needed: ask for them together rather than one after the other.
    const [who, adminView] = await Promise.all([
      cachedWhoami(deps, { token }),
      cachedIdentity(deps, auth.identityId),
    ]);
    if (who.status === 'invalid') {
      // Kratos ended this session (logout, admin revocation, deactivation): so do we.
      await endGatewaySession(deps, req, { revokeKratos: false });
      return undefined;
    }
    if (who.status === 'active') {
      const methods = [...kratosMethods(who.session), ...auth.methods];
      const identity = withAdminMetadata(who.session.identity, adminView);
      return buildPrincipal(identity, base, methods, who.session.aal);
    }
  }
  const identity = await cachedIdentity(deps, auth.identityId);
  if (!identity || identity.state !== 'active') {
    await endGatewaySession(deps, req, { revokeKratos: true });
    return undefined;
  }
  const principal = buildPrincipal(identity, base, auth.methods);
  if (auth.kratosToken) {
    // Kratos holds this session at aal1 until a second factor: a gateway passkey step-up
    // (password + passkey) satisfies it, a TOTP or backup code at Kratos does too.
    const withPassword: CompletedMethod[] = [
      { method: 'password', completedAt: base.authenticatedAt, aal: 'aal1' },
      ...auth.methods,
    ];
    const aal = computeAal(withPassword);
    return {
      ...principal,
      methods: withPassword,
      aal,
      ...(aal === 'aal1' ? { secondFactorRequired: true } : {}),
    };
  }
  return principal;
}

async function fromKratosCookie(deps: AppDeps, req: Request, cookie: string): Promise<Principal | undefined> {
  const who = await cachedWhoami(deps, { cookie: `${KRATOS_COOKIE}=${cookie}` });
  if (who.status === 'aal2_required') req.authProblem = 'aal2_required';
  if (who.status !== 'active') return undefined;
  const s = who.session;
  return buildPrincipal(
    withAdminMetadata(s.identity, await cachedIdentity(deps, s.identity.id)),
    { source: 'kratos', sessionId: s.id, authenticatedAt: s.authenticatedAt, expiresAt: s.expiresAt },
    kratosMethods(s),
    s.aal,
  );
}

/**
 * Turns whichever session the request carries (the gateway's cookie, or a raw Kratos
 * session cookie) into one `req.principal`. Never rejects a request itself: the guards
 * decide. A dependency outage propagates as a 503.
 */
export function resolvePrincipal(deps: AppDeps): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      await loadPrincipal(deps, req);
      next();
    } catch (err) {
      next(err);
    }
  };
}

/** Sets `req.principal` from the request's session (again, after a login changed it). */
export async function loadPrincipal(deps: AppDeps, req: Request): Promise<void> {
  req.principal = undefined;
  req.authProblem = undefined;
  const auth = req.session?.auth;
  if (auth) {
    req.principal = await fromGatewaySession(deps, req, auth);
    touch(deps, req);
  } else {
    const cookie = readCookie(req, KRATOS_COOKIE);
    if (cookie) req.principal = await fromKratosCookie(deps, req, cookie);
  }
  if (req.principal && deps.config.REQUIRE_VERIFIED_EMAIL && !req.principal.emailVerified)
    req.principal.emailVerificationRequired = true;
}

// Idle tracking writes the session at most once a minute, not on every request.
const TOUCH_EVERY_MS = 60_000;

function touch(deps: AppDeps, req: Request) {
  const auth = req.session?.auth;
  const now = deps.clock().getTime();
  if (auth && req.principal && now - auth.lastSeenAt > TOUCH_EVERY_MS) auth.lastSeenAt = now;
}
