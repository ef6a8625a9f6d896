import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { computeAal, type CompletedMethod } from './aal.js';
import type { Config } from '../config.js';
import type { KratosIdentity, KratosSession } from '../kratos/types.js';
import { rolesOf, type Principal } from './principal.js';
import { cachedIdentity, cachedWhoami, readThrough, sha256 } from './whoami-cache.js';
import type { GatewayAuth } from './session-data.js';
import { endGatewaySession, type SessionDeps } from './sessions.js';
import { readCookie } from './session-store.js';

export const KRATOS_COOKIE = 'ory_kratos_session';

/** What resolving a principal reads: the session use cases' deps, and REQUIRE_VERIFIED_EMAIL. */
export type PrincipalDeps = SessionDeps & { config: Pick<Config, 'REQUIRE_VERIFIED_EMAIL'> };

declare module 'express-serve-static-core' {
  interface Request {
    principal?: Principal;
    /** Why there is no principal although a credential was presented. */
    authProblem?: 'aal2_required';
  }
}

export { forgetIdentity, forgetWhoami, forgetWhoamiOf } from './whoami-cache.js';

/**
 * A Kratos session cookie is an encoded securecookie: base64 characters, well under the
 * 4 KiB a browser keeps per cookie. Anything else names no session and is not sent to
 * Kratos, so a junk cookie is "signed out" (401), never a Kratos error.
 */
const KRATOS_COOKIE_SHAPE = /^[A-Za-z0-9_\-=+/.]{1,4096}$/;

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
    accountCreatedAt: identity.createdAt,
    ...base,
    ...(identity.metadataAdmin.password_change_required === true ? { passwordChangeRequired: true } : {}),
  };
}

const KRATOS_SECOND_FACTORS = new Set(['totp', 'lookup_secret']);

/**
 * The first factor of a gateway session that holds a Kratos session (password, recovery
 * code): taken from whoami when Kratos answers it, else the kind the session began as.
 * Second factors completed at Kratos are not taken from whoami: the gateway records the
 * ones its step-up routes completed, so that enrolling a factor at Kratos (which Kratos
 * may count for the session that enrolled it) never raises a gateway session.
 */
function kratosFirstFactors(auth: GatewayAuth, session: KratosSession | undefined): CompletedMethod[] {
  const fromKratos = session
    ? kratosMethods(session).filter((m) => !KRATOS_SECOND_FACTORS.has(m.method))
    : [];
  if (fromKratos.length > 0) return fromKratos;
  const completedAt = new Date(auth.createdAt).toISOString();
  const method =
    { recovery: 'code_recovery', code: 'code', sms_code: 'code', social: 'oidc' }[auth.kind as string] ??
    'password';
  return [{ method, completedAt, aal: 'aal1' }];
}

/** Resolves a gateway session; undefined (and the session ended) when it is no longer valid. */
async function fromGatewaySession(
  deps: PrincipalDeps,
  req: Request,
  auth: GatewayAuth,
  fresh?: KratosIdentity,
): Promise<Principal | undefined> {
  const now = deps.clock().getTime();
  const idleLimit = deps.config.SESSION_IDLE_TIMEOUT_SECONDS * 1000;
  // A session from before second factors were recorded at sign-in cannot say what it owes: it signs in again.
  const predatesRule = auth.secondFactorsAtSignIn === undefined;
  if (auth.expiresAt <= now || now - auth.lastSeenAt > idleLimit || predatesRule) {
    await endGatewaySession(deps, req.session, { revokeKratos: true });
    return undefined;
  }
  const base = {
    ...(auth.passkeyEnrollmentRequired ? { passkeyEnrollmentRequired: true } : {}),
    source: 'gateway' as const,
    sessionId: auth.handle,
    authenticatedAt: new Date(auth.authenticatedAt).toISOString(),
    expiresAt: new Date(auth.expiresAt).toISOString(),
  };
  let identity: KratosIdentity | undefined;
  let methods = auth.methods;
  if (auth.kratosToken) {
    const token = deps.tokenCipher.open(auth.kratosToken, auth.handle);
    if (!token) {
      await endGatewaySession(deps, req.session, { revokeKratos: false });
      return undefined;
    }
    // Both views are needed: ask for them together rather than one after the other.
    const [who, adminView] = await Promise.all([
      cachedWhoami(deps, { token }),
      cachedIdentity(deps, auth.identityId),
    ]);
    if (who.status === 'invalid') {
      // Kratos ended this session (logout, admin revocation, deactivation): so do we.
      await endGatewaySession(deps, req.session, { revokeKratos: false });
      return undefined;
    }
    const session = who.status === 'active' ? who.session : undefined;
    identity = session ? withAdminMetadata(session.identity, adminView) : adminView;
    methods = [...kratosFirstFactors(auth, session), ...auth.methods];
  } else {
    identity = fresh?.id === auth.identityId ? fresh : await cachedIdentity(deps, auth.identityId);
  }
  if (!identity || identity.state !== 'active') {
    await endGatewaySession(deps, req.session, { revokeKratos: true });
    return undefined;
  }
  const principal = buildPrincipal(identity, base, methods);
  // Highest available AAL: a session whose first factor was a password or an e-mail code owes
  // the second factor the account had when it signed in. A passkey sign-in's level is the
  // passkey's own (user verification), and the guards ask it for aal2 where a factor exists.
  const owes =
    principal.aal !== 'aal2' && Boolean(auth.kratosToken) && (auth.secondFactorsAtSignIn ?? []).length > 0;
  return owes ? { ...principal, secondFactorRequired: true } : principal;
}

/**
 * Whether a raw Kratos session owes a gateway passkey: Kratos enforces its own factors
 * (whoami `highest_available`), but knows nothing of passkeys. A passkey the account had
 * when the session was issued is owed; one added later counts from the next sign-in.
 */
function owesPasskey(deps: PrincipalDeps, s: KratosSession): Promise<boolean> {
  return readThrough(
    deps,
    `owes:${sha256(s.id)}`,
    () => deps.passkeys.hadUsableAt(s.identity.id, s.issuedAt),
    () => true,
  );
}

async function fromKratosCookie(
  deps: PrincipalDeps,
  req: Request,
  cookie: string,
): Promise<Principal | undefined> {
  const who = await cachedWhoami(deps, { cookie: `${KRATOS_COOKIE}=${cookie}` });
  if (who.status === 'aal2_required') req.authProblem = 'aal2_required';
  if (who.status !== 'active') return undefined;
  const s = who.session;
  const principal = buildPrincipal(
    withAdminMetadata(s.identity, await cachedIdentity(deps, s.identity.id)),
    { source: 'kratos', sessionId: s.id, authenticatedAt: s.authenticatedAt, expiresAt: s.expiresAt },
    kratosMethods(s),
    s.aal,
  );
  if (principal.aal !== 'aal2' && (await owesPasskey(deps, s))) principal.secondFactorRequired = true;
  return principal;
}

/**
 * Turns whichever session the request carries (the gateway's cookie, or a raw Kratos
 * session cookie) into one `req.principal`. Never rejects a request itself: the guards
 * decide. A dependency outage propagates as a 503.
 */
export function resolvePrincipal(deps: PrincipalDeps): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      await loadPrincipal(deps, req);
      next();
    } catch (err) {
      next(err);
    }
  };
}

/**
 * Sets `req.principal` from the request's session (again, after a login changed it).
 * `fresh`: the identity a sign-in just read from Kratos, used instead of the cached view.
 */
export async function loadPrincipal(
  deps: PrincipalDeps,
  req: Request,
  fresh?: KratosIdentity,
): Promise<void> {
  req.principal = undefined;
  req.authProblem = undefined;
  const auth = req.session?.auth;
  if (auth) {
    req.principal = await fromGatewaySession(deps, req, auth, fresh);
    await touch(deps, req);
  } else {
    const cookie = readCookie(req, KRATOS_COOKIE);
    if (cookie && KRATOS_COOKIE_SHAPE.test(cookie)) req.principal = await fromKratosCookie(deps, req, cookie);
  }
  if (req.principal && deps.config.REQUIRE_VERIFIED_EMAIL && !req.principal.emailVerified)
    req.principal.emailVerificationRequired = true;
}

// Idle tracking writes the session at most once a minute, not on every request.
const TOUCH_EVERY_MS = 60_000;

async function touch(deps: PrincipalDeps, req: Request) {
  const auth = req.session?.auth;
  const now = deps.clock().getTime();
  if (!auth || !req.principal || now - auth.lastSeenAt <= TOUCH_EVERY_MS) return;
  auth.lastSeenAt = now;
  await req.session.save();
}
