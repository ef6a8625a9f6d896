import type { Config } from '../config.js';
import { secondFactorsOf, type FactorDeps } from '../factors/second-factors.js';
import type { PasskeyStore } from '../factors/passkey-store.js';
import type { SecondFactor } from '../identity/factors.js';
import type { KratosClient } from '../kratos/client.js';
import type { Kv } from '../redis/client.js';
import type { CompletedMethod } from './aal.js';
import { notFound, unauthenticated } from '../errors/app-error.js';
import type { KratosSession } from '../kratos/types.js';
import type { Principal } from './principal.js';
import type { RequestContext } from './request-context.js';
import type { GatewayAuth } from './session-data.js';
import type { SessionIndex } from './session-index.js';
import type { Session, SessionStore } from './session-store.js';
import type { TokenCipher } from './token-cipher.js';
import { forgetWhoamiOf } from './whoami-cache.js';

/** What the session use cases work with. */
export interface SessionDeps extends FactorDeps {
  config: Pick<
    Config,
    'SESSION_ABSOLUTE_LIFETIME_SECONDS' | 'SESSION_IDLE_TIMEOUT_SECONDS' | 'WHOAMI_CACHE_SECONDS'
  >;
  kv: Kv;
  kratos: KratosClient;
  sessionStore: SessionStore;
  sessionIndex: SessionIndex;
  tokenCipher: TokenCipher;
  passkeys: FactorDeps['passkeys'] & Pick<PasskeyStore, 'hadUsableAt'>;
  clock: () => Date;
  random: (bytes: number) => Buffer;
}

/** The Kratos session token the gateway session holds, opened; undefined for passkey-only sessions. */
export function heldKratosToken(
  deps: Pick<SessionDeps, 'tokenCipher'>,
  session: Session | undefined,
): string | undefined {
  const auth = session?.auth;
  if (!auth?.kratosToken) return undefined;
  return deps.tokenCipher.open(auth.kratosToken, auth.handle);
}

/**
 * Whether a session of this kind signed in with a code delivered to the account (e-mailed, or
 * texted: Kratos records both as its `code` method, so the gateway cannot tell them apart
 * later). Codes delivered the same way are no second factor after it.
 */
export const signedInByInbox = (kind: GatewayAuth['kind']) =>
  kind === 'code' || kind === 'recovery' || kind === 'sms_code';

/** Starts a gateway session: a fresh session id (no fixation), the identity index updated. */
export async function establishGatewaySession(
  deps: SessionDeps,
  ctx: RequestContext,
  input: {
    identityId: string;
    kind: GatewayAuth['kind'];
    kratosToken?: string;
    kratosSessionId?: string;
    methods: CompletedMethod[];
    passkeyEnrollmentRequired?: boolean;
    /** The passkey the session signed in with. */
    passkeyId?: string;
    /** The account's second factors now; looked up when not given. */
    secondFactors?: SecondFactor[];
  },
): Promise<GatewayAuth> {
  // What the account has at this moment decides whether this session owes a second factor.
  const factorsNow = input.secondFactors ?? (await secondFactorsOf(deps, input.identityId));
  // A sign-in by an e-mailed or texted code (or a recovery) proved an inbox already: codes are
  // no second factor after it (the same inbox twice), so it neither owes nor pays one with them.
  const secondFactorsAtSignIn = signedInByInbox(input.kind)
    ? factorsNow.filter((f) => f !== 'email' && f !== 'sms')
    : factorsNow;
  const session = ctx.session;
  const previous = session.auth;
  const now = deps.clock().getTime();
  const handle = `g_${deps.random(18).toString('base64url')}`;
  const auth: GatewayAuth = {
    handle,
    identityId: input.identityId,
    kind: input.kind,
    kratosToken: input.kratosToken ? deps.tokenCipher.seal(input.kratosToken, handle) : undefined,
    kratosSessionId: input.kratosSessionId,
    methods: input.methods,
    createdAt: now,
    authenticatedAt: now,
    lastSeenAt: now,
    expiresAt: now + deps.config.SESSION_ABSOLUTE_LIFETIME_SECONDS * 1000,
    passkeyEnrollmentRequired: input.passkeyEnrollmentRequired,
    secondFactorsAtSignIn,
    enrolledHere: [],
    passkeysUsed: input.passkeyId ? [input.passkeyId] : [],
    userAgent: ctx.userAgent?.slice(0, 200),
    ip: ctx.ip,
  };
  // A sign-in starts from nothing the browser held before: flows and pre-session go.
  session.clear();
  session.auth = auth;
  // The old session goes first, then the index names the new one before it is written: no
  // step that fails leaves a session "log out everywhere" cannot find. A pre-session is in no
  // index, so its deletion and the index write go side by side.
  await session.regenerate(
    async (key) => {
      if (previous) await deps.sessionIndex.remove(previous.identityId, previous.handle);
      await deps.sessionIndex.add(input.identityId, handle, key);
    },
    { oldIndexed: previous !== undefined },
  );
  return auth;
}

/**
 * Raises the current session in place after a step-up: the factor is added (the gateway
 * keeps every factor of its sessions itself, Kratos' ones included, so that nothing done
 * at Kratos, such as enrolling a TOTP app, can raise a gateway session), the
 * authentication time refreshed and the session id regenerated (the handle stays).
 */
export async function raiseGatewaySession(
  deps: Pick<SessionDeps, 'clock' | 'sessionIndex'>,
  session: Session,
  method: CompletedMethod,
  passkeyId?: string,
) {
  const auth = session.auth;
  if (!auth) throw unauthenticated();
  const now = deps.clock().getTime();
  const methods = [...auth.methods, method];
  const passkeysUsed = passkeyId ? [...(auth.passkeysUsed ?? []), passkeyId] : auth.passkeysUsed;
  session.auth = { ...auth, methods, passkeysUsed, authenticatedAt: now, lastSeenAt: now };
  await session.regenerate((key) => deps.sessionIndex.add(auth.identityId, auth.handle, key), {
    oldIndexed: true,
  });
}

/** Remembers that this session enrolled a factor: it never raises this session. */
export async function recordEnrolment(session: Session, factor: string) {
  const auth = session.auth;
  if (!auth) return;
  auth.enrolledHere = [...(auth.enrolledHere ?? []), factor];
  await session.save();
}

/** Ends the request's gateway session; with `revokeKratos`, the Kratos session it holds too. */
export async function endGatewaySession(
  deps: SessionDeps,
  session: Session | undefined,
  options: { revokeKratos: boolean },
) {
  const auth = session?.auth;
  if (!session || !auth) return;
  if (options.revokeKratos) await revokeHeldKratosSession(deps, auth);
  // The session before its index entry: a failure in between leaves a stale entry, never a session out of the index.
  await session.destroy();
  await deps.sessionIndex.remove(auth.identityId, auth.handle);
}

async function revokeHeldKratosSession(deps: SessionDeps, auth: GatewayAuth) {
  const token = auth.kratosToken && deps.tokenCipher.open(auth.kratosToken, auth.handle);
  if (token) await deps.kratos.logoutToken(token);
  else if (auth.kratosSessionId) await deps.kratos.revokeSession(auth.kratosSessionId);
}

const storeGet = async (deps: SessionDeps, key: string) => (await deps.sessionStore.read(key))?.auth;
const storeDestroy = (deps: SessionDeps, key: string) => deps.sessionStore.remove(key);

/** One entry of GET /sessions. */
interface SessionSummary {
  id: string;
  source: 'gateway' | 'kratos';
  current: boolean;
  methods: string[];
  createdAt: string;
  authenticatedAt: string;
  expiresAt: string;
  userAgent?: string;
  ip?: string;
}

/** The identity's gateway sessions (stale index entries are dropped on the way). */
async function gatewaySessions(deps: SessionDeps, identityId: string) {
  const entries = Object.entries(await deps.sessionIndex.list(identityId));
  const found: { sid: string; auth: GatewayAuth }[] = [];
  for (const [handle, sid] of entries) {
    const auth = await storeGet(deps, sid);
    if (auth && auth.handle === handle) found.push({ sid, auth });
    else await deps.sessionIndex.remove(identityId, handle);
  }
  return found;
}

/** Every live session of the principal's identity, of both kinds. */
export async function listSessions(deps: SessionDeps, principal: Principal): Promise<SessionSummary[]> {
  const gateway = await gatewaySessions(deps, principal.identityId);
  const held = new Set(gateway.map((g) => g.auth.kratosSessionId).filter(Boolean));
  const kratos = (await deps.kratos.listIdentitySessions(principal.identityId)).filter(
    (s) => !held.has(s.id),
  );
  const iso = (ms: number) => new Date(ms).toISOString();
  return [
    ...gateway.map(({ auth }) => ({
      id: auth.handle,
      source: 'gateway' as const,
      current: auth.handle === principal.sessionId,
      methods: auth.kratosToken
        ? ['password', ...auth.methods.map((m) => m.method)]
        : auth.methods.map((m) => m.method),
      createdAt: iso(auth.createdAt),
      authenticatedAt: iso(auth.authenticatedAt),
      expiresAt: iso(auth.expiresAt),
      userAgent: auth.userAgent,
      ip: auth.ip,
    })),
    ...kratos.map((s: KratosSession) => ({
      id: s.id,
      source: 'kratos' as const,
      current: s.id === principal.sessionId,
      methods: s.methods.map((m) => m.method),
      createdAt: s.issuedAt,
      authenticatedAt: s.authenticatedAt,
      expiresAt: s.expiresAt,
      userAgent: s.devices[0]?.userAgent,
      ip: s.devices[0]?.ipAddress,
    })),
  ];
}

/** Revokes one session of the principal's identity, of either kind; 404 for anything else. */
export async function revokeSession(deps: SessionDeps, principal: Principal, id: string) {
  const gateway = await gatewaySessions(deps, principal.identityId);
  const match = gateway.find((g) => g.auth.handle === id);
  if (match) {
    await revokeHeldKratosSession(deps, match.auth);
    await storeDestroy(deps, match.sid);
    await deps.sessionIndex.remove(principal.identityId, id);
    return;
  }
  const kratos = await deps.kratos.listIdentitySessions(principal.identityId);
  if (!kratos.some((s) => s.id === id)) throw notFound('Session');
  await deps.kratos.revokeSession(id);
  await forgetWhoamiOf(deps, principal.identityId, id);
}

/** Ends one raw Kratos session (its cookie's logout): at Kratos, and in every replica's whoami cache. */
export async function endKratosSession(deps: SessionDeps, identityId: string, sessionId: string) {
  await deps.kratos.revokeSession(sessionId);
  await forgetWhoamiOf(deps, identityId, sessionId);
}

/**
 * Ends every session of an identity, at Kratos and at the gateway, and drops the cached
 * whoami answers of all of them, so the very next request on any replica is signed out
 * whichever credential it carries. `keepKratosSessionId` spares one Kratos session (the
 * one a recovery just issued).
 */
export async function revokeAllSessions(
  deps: SessionDeps,
  identityId: string,
  options: { keepKratosSessionId?: string } = {},
) {
  const keep = options.keepKratosSessionId;
  if (keep) {
    for (const s of await deps.kratos.listIdentitySessions(identityId))
      if (s.id !== keep) await deps.kratos.revokeSession(s.id);
  } else {
    await deps.kratos.revokeIdentitySessions(identityId);
  }
  for (const { sid } of await gatewaySessions(deps, identityId)) await storeDestroy(deps, sid);
  await deps.sessionIndex.clear(identityId);
  await forgetWhoamiOf(deps, identityId);
}
