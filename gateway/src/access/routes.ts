import { parse as parseQuery } from 'node:querystring';
import { parse as parseUrl } from 'node:url';
import type { Request, Response, Router } from 'express';
import { z } from 'zod';
import { mfaEnrollmentRequired, principalOf, type Guard } from './require-auth.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { AuditEventType } from '../audit/event-types.js';
import type { Config } from '../config.js';
import { AppError } from '../errors/app-error.js';
import type { KratosIdentity } from '../kratos/types.js';
import { KRATOS_COOKIE, loadPrincipal, type PrincipalDeps } from '../session/resolve-principal.js';
import type { RequestContext } from '../session/request-context.js';
import { sessionBody } from '../session/principal.js';
import { SESSION_COOKIE } from '../session/session-store.js';
import {
  endGatewaySession,
  endKratosSession,
  listSessions,
  revokeAllSessions,
  revokeSession,
} from '../session/sessions.js';

export const verifyQuery = z.object({
  aal: z.enum(['aal1', 'aal2']).optional(),
  role: z.string().min(1).max(64).optional(),
});

/** What the session routes use. */
type SessionRouteDeps = PrincipalDeps & {
  guard: Guard;
  audit: AuditLog;
  config: Pick<Config, 'https'>;
};

/** The request as a use case sees it: no Express, only what it may read and the session. */
export function contextOf(req: Request): RequestContext {
  return {
    ip: req.ip,
    requestId: req.requestId,
    userAgent: req.get('user-agent'),
    session: req.session,
    principal: req.principal,
  };
}

/** Expires both session cookies in the browser. */
function clearCookies(res: Response, deps: { config: Pick<Config, 'https'> }) {
  res.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax', secure: deps.config.https });
  res.clearCookie(KRATOS_COOKIE, { path: '/' });
}

/**
 * The body of GET /session and of every successful login, registration or step-up. A
 * session that still owes its second factor is not usable yet: 403 `aal2_required`
 * says which methods complete it.
 */
export async function sessionAnswer(deps: { guard: Guard }, req: Request) {
  const principal = await deps.guard.check(req, { allowIncomplete: true });
  if (principal.secondFactorRequired) await deps.guard.check(req, { aal: 'aal2', allowIncomplete: true });
  // A second factor the policy makes mandatory: announced during its grace period, then owed.
  const due = await deps.guard.mfaEnrollment(req);
  if (due?.overdue) throw mfaEnrollmentRequired(due);
  return { ...sessionBody(principal), ...(due && { mfaEnrollmentDueAt: due.dueAt }) };
}

/** Re-reads the principal after the session changed (login, step-up) and answers with it. */
export async function freshSessionAnswer(
  deps: PrincipalDeps & { guard: Guard },
  req: Request,
  fresh?: KratosIdentity,
) {
  await loadPrincipal(deps, req, fresh);
  return sessionAnswer(deps, req);
}

/** GET/DELETE /sessions, POST /logout, POST /logout/all. */
export function registerSessionRoutes(router: Router, deps: SessionRouteDeps) {
  const guard = (need = {}) => deps.guard.require(need);
  const audit = (req: Request, type: AuditEventType, identityId: string, details?: Record<string, unknown>) =>
    deps.audit.record({
      type,
      outcome: 'success',
      identityId,
      actorId: identityId,
      ip: req.ip,
      requestId: req.requestId,
      details,
    });

  router.get('/sessions', guard(), async (req, res) => {
    res.json({ sessions: await listSessions(deps, principalOf(req)) });
  });

  router.delete('/sessions/:id', guard(), async (req, res) => {
    const id = z.string().min(1).max(128).parse(req.params.id);
    await revokeSession(deps, principalOf(req), id);
    await audit(req, 'session.revoked', principalOf(req).identityId, { sessionId: id });
    res.status(204).end();
  });

  router.post('/logout', guard({ allowIncomplete: true }), async (req, res) => {
    const p = principalOf(req);
    if (p.source === 'kratos') await endKratosSession(deps, p.identityId, p.sessionId);
    else await endGatewaySession(deps, req.session, { revokeKratos: true });
    await audit(req, 'session.logout', p.identityId, { sessionId: p.sessionId });
    clearCookies(res, deps);
    res.status(204).end();
  });

  // Signing the owner out everywhere is a privileged act: a session that still owes its second factor may not.
  router.post('/logout/all', guard({ allowIncomplete: true }), async (req, res) => {
    const p = principalOf(req);
    if (p.secondFactorRequired) await deps.guard.check(req, { aal: 'aal2', allowIncomplete: true });
    await revokeAllSessions(deps, p.identityId);
    await audit(req, 'session.logout_all', p.identityId);
    clearCookies(res, deps);
    res.status(204).end();
  });
}

/** The session checks' paths (GET and HEAD), answered before Express routes anything. */
export const SESSION_CHECKS: Readonly<Record<string, 'session' | 'verify'>> = {
  '/api/auth/session': 'session',
  '/api/auth/verify': 'verify',
};

/** The characters for which Express reads a URL's query with url.parse, not by a split at `?`. */
const URL_PARSE_CHARS = /[\t\n\f\r #\u00a0\ufeff]/;

/** The query string of a request URL, as Express reads it for `req.query`. */
function queryString(url: string): string | null {
  if (URL_PARSE_CHARS.test(url)) return parseUrl(url).query;
  const query = url.indexOf('?');
  return query === -1 ? null : url.slice(query + 1);
}

/**
 * GET /api/auth/verify (forward auth for nginx `auth_request`): the principal the session
 * check lets through, with the level (`aal`) and role (`role`) the query asks for. A URL
 * without a query (the usual check) needs no parsing.
 */
export async function verifyCheck(deps: { guard: Guard }, req: Request, url: string) {
  const raw = queryString(url);
  if (!raw) return deps.guard.check(req, {});
  const query = verifyQuery.safeParse(parseQuery(raw));
  if (!query.success) throw new AppError('invalid_request', 400, 'aal must be aal1 or aal2; role a name.');
  return deps.guard.check(req, {
    aal: query.data.aal,
    roles: query.data.role ? [query.data.role] : undefined,
  });
}
