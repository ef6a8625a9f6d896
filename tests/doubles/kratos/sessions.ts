import type { Request } from 'express';
import type { DoubleContext } from './context.js';
import { errors } from './errors.js';
import { hasSecondFactor, identityJson } from './identity.js';
import {
  iso,
  newId,
  randomString,
  type Aal,
  type AuthMethod,
  type StoredIdentity,
  type StoredSession,
} from './state.js';

export const SESSION_COOKIE = 'ory_kratos_session';

/** Issues a new session for an identity that just completed `method`. */
export function issueSession(
  ctx: DoubleContext,
  identity: StoredIdentity,
  method: AuthMethod,
  req: Request,
  provider?: string,
): StoredSession {
  const now = ctx.now();
  const session: StoredSession = {
    id: newId(),
    token: `ory_st_${randomString(32)}`,
    logoutToken: `ory_lo_${randomString(32)}`,
    identityId: identity.id,
    active: true,
    issuedAt: now,
    authenticatedAt: now,
    expiresAt: now + ctx.config.sessionLifespanMs,
    methods: [{ method, aal: 'aal1', completedAt: now, ...(provider ? { provider } : {}) }],
    devices: [{ id: newId(), ipAddress: req.ip ?? '', userAgent: req.get('user-agent') ?? '' }],
  };
  ctx.state.sessions.set(session.id, session);
  return session;
}

/** The session's authenticator assurance level, from the factors it completed. */
export function sessionAal(session: StoredSession): Aal {
  return session.methods.some((m) => m.aal === 'aal2') ? 'aal2' : 'aal1';
}

/** Whether the session counts at all: not revoked, not expired, identity still active. */
export function isSessionActive(ctx: DoubleContext, session: StoredSession): boolean {
  const identity = ctx.state.identities.get(session.identityId);
  return session.active && session.expiresAt > ctx.now() && identity?.state === 'active';
}

/** Reads the cookie of that name from a Cookie header value. */
export function readCookie(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const [key, ...rest] = part.trim().split('=');
    if (key === name) return decodeURIComponent(rest.join('='));
  }
  return undefined;
}

/** Finds the active session a request carries: X-Session-Token, `Authorization: Bearer`, or the session cookie. */
export function sessionFromRequest(ctx: DoubleContext, req: Request): StoredSession | undefined {
  const bearer = /^bearer (.+)$/i.exec(req.get('authorization') ?? '')?.[1];
  const token = req.get('x-session-token') ?? bearer;
  const cookie = readCookie(req.get('cookie'), SESSION_COOKIE);
  for (const session of ctx.state.sessions.values()) {
    const matches = (token && session.token === token) || (cookie && session.cookie === cookie);
    if (matches) return isSessionActive(ctx, session) ? session : undefined;
  }
  return undefined;
}

/** Like sessionFromRequest, but throws 401 `session_inactive` when there is none. */
export function requireSession(
  ctx: DoubleContext,
  req: Request,
): { session: StoredSession; identity: StoredIdentity } {
  const session = sessionFromRequest(ctx, req);
  const identity = session && ctx.state.identities.get(session.identityId);
  if (!session || !identity) throw errors.noSession();
  return { session, identity };
}

/** Throws 403 `session_aal2_required` when `highest_available` asks for a factor the session lacks. */
export function enforceAal(
  ctx: DoubleContext,
  session: StoredSession,
  identity: StoredIdentity,
  required: string,
): void {
  if (required === 'highest_available' && hasSecondFactor(identity) && sessionAal(session) !== 'aal2') {
    throw errors.aal2Required(ctx.publicUrl);
  }
}

/** Records a completed factor on the session (login refresh or second factor). */
export function completeFactor(
  ctx: DoubleContext,
  session: StoredSession,
  method: AuthMethod,
  aal: Aal,
): void {
  const now = ctx.now();
  session.methods.push({ method, aal, completedAt: now });
  session.authenticatedAt = now;
}

export interface SessionView {
  includeIdentity: boolean;
  includeDevices: boolean;
  /** The admin API's sessions carry their identity without its addresses. */
  withoutAddresses?: boolean;
}

/** The session as Kratos serialises it. */
export function sessionJson(
  ctx: DoubleContext,
  session: StoredSession,
  view: SessionView = { includeIdentity: true, includeDevices: true },
): Record<string, unknown> {
  const identity = ctx.state.identities.get(session.identityId);
  return {
    id: session.id,
    active: isSessionActive(ctx, session),
    expires_at: iso(session.expiresAt),
    authenticated_at: iso(session.authenticatedAt),
    authenticator_assurance_level: sessionAal(session),
    authentication_methods: session.methods.map((m) => ({
      method: m.method,
      aal: m.aal,
      completed_at: iso(m.completedAt),
      ...(m.provider ? { provider: m.provider } : {}),
    })),
    issued_at: iso(session.issuedAt),
    ...(view.includeIdentity && identity
      ? { identity: withoutAddresses(identityJson(identity, ctx.publicUrl, { admin: false }), view) }
      : {}),
    ...(view.includeDevices
      ? {
          devices: session.devices.map((d) => ({
            id: d.id,
            ip_address: d.ipAddress,
            user_agent: d.userAgent,
            location: '',
          })),
        }
      : {}),
  };
}

/** Revokes every session of an identity except `keep`; returns how many were revoked. */
export function revokeSessions(ctx: DoubleContext, identityId: string, keep?: string): number {
  let count = 0;
  for (const session of ctx.state.sessions.values()) {
    if (session.identityId === identityId && session.id !== keep && session.active) {
      session.active = false;
      count += 1;
    }
  }
  return count;
}

function withoutAddresses(identity: Record<string, unknown>, view: SessionView): Record<string, unknown> {
  if (!view.withoutAddresses) return identity;
  const { verifiable_addresses: _verifiable, recovery_addresses: _recovery, ...rest } = identity;
  return rest;
}
