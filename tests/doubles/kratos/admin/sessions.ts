import type { Request, Router } from 'express';
import type { DoubleContext } from '../context.js';
import { errors } from '../errors.js';
import { isSessionActive, sessionJson, type SessionView } from '../sessions.js';
import type { StoredSession } from '../state.js';
import { paginate } from './pagination.js';

/** Admin session API: list, get, revoke and extend. */
export function registerAdminSessionRoutes(router: Router, ctx: DoubleContext, adminUrl: () => string): void {
  router.get('/admin/sessions', (req, res) => {
    const active = req.query.active === undefined ? undefined : req.query.active === 'true';
    const sessions = [...ctx.state.sessions.values()]
      .filter((s) => active === undefined || isSessionActive(ctx, s) === active)
      .sort((a, b) => b.issuedAt - a.issuedAt);
    const page = paginate(req, res, sessions, `${adminUrl()}/admin/sessions`);
    res.status(200).json(page.map((s) => sessionJson(ctx, s, expandView(req))));
  });

  router.get('/admin/sessions/:id', (req, res) => {
    res.status(200).json(sessionJson(ctx, findSession(ctx, req.params.id), expandView(req)));
  });

  router.delete('/admin/sessions/:id', (req, res) => {
    findSession(ctx, req.params.id).active = false;
    res.status(204).end();
  });

  router.patch('/admin/sessions/:id/extend', (req, res) => {
    const session = findSession(ctx, req.params.id);
    if (!isSessionActive(ctx, session))
      throw errors.notFound('The session is not active and can not be extended.');
    session.expiresAt = ctx.now() + ctx.config.sessionLifespanMs;
    res.status(200).json(sessionJson(ctx, session));
  });
}

function findSession(ctx: DoubleContext, id: string): StoredSession {
  const session = ctx.state.sessions.get(id);
  if (!session) throw errors.notFound('Unable to locate the resource');
  return session;
}

/** `expand=identity` / `expand=devices`, as the admin session endpoints take them. */
function expandView(req: Request): SessionView {
  const expand = ([] as unknown[]).concat(req.query.expand ?? []).map(String);
  return {
    includeIdentity: expand.includes('identity'),
    includeDevices: expand.includes('devices'),
    withoutAddresses: true,
  };
}
