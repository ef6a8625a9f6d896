import type { Router } from 'express';
import type { DoubleContext } from '../context.js';
import { errors } from '../errors.js';
import { input, returnUrl, str, wantsJson, seeOther } from '../http.js';
import {
  enforceAal,
  isSessionActive,
  requireSession,
  sessionFromRequest,
  sessionJson,
  SESSION_COOKIE,
} from '../sessions.js';

/** `/sessions/whoami`, the caller's other sessions, and logout (API and browser). */
export function registerSessionRoutes(router: Router, ctx: DoubleContext): void {
  router.get('/sessions/whoami', (req, res) => {
    const signedIn = sessionFromRequest(ctx, req);
    const identity = signedIn && ctx.state.identities.get(signedIn.identityId);
    if (!signedIn || !identity) throw errors.whoamiNoSession();
    const session = signedIn;
    enforceAal(ctx, session, identity, ctx.config.whoamiRequiredAal);
    res.setHeader('x-kratos-authenticated-identity-id', identity.id);
    res.status(200).json(sessionJson(ctx, session));
  });

  router.get('/sessions', (req, res) => {
    const { session } = requireSession(ctx, req);
    const others = [...ctx.state.sessions.values()].filter(
      (s) => s.identityId === session.identityId && s.id !== session.id && isSessionActive(ctx, s),
    );
    res.setHeader('x-total-count', String(others.length));
    res
      .status(200)
      .json(others.map((s) => sessionJson(ctx, s, { includeIdentity: false, includeDevices: true })));
  });

  router.delete('/sessions', (req, res) => {
    const { session } = requireSession(ctx, req);
    let count = 0;
    for (const other of ctx.state.sessions.values()) {
      if (other.identityId === session.identityId && other.id !== session.id && other.active) {
        other.active = false;
        count += 1;
      }
    }
    res.status(200).json({ count });
  });

  router.delete('/sessions/:id', (req, res) => {
    const { session } = requireSession(ctx, req);
    if (req.params.id === session.id)
      throw errors.badRequest('You can not revoke the session you are currently using.');
    const target = ctx.state.sessions.get(req.params.id);
    if (target && target.identityId === session.identityId) target.active = false;
    res.status(204).end();
  });

  registerLogoutRoutes(router, ctx);
}

function registerLogoutRoutes(router: Router, ctx: DoubleContext): void {
  router.delete('/self-service/logout/api', (req, res) => {
    const token = str(input(req).session_token);
    if (!token) throw errors.badRequest('The session_token is missing.');
    const session = [...ctx.state.sessions.values()].find(
      (s) => s.token === token && isSessionActive(ctx, s),
    );
    if (!session) {
      throw errors.forbidden(
        'The provided Ory Session Token could not be found, is invalid, or otherwise malformed.',
      );
    }
    session.active = false;
    res.status(204).end();
  });

  router.get('/self-service/logout/browser', (req, res) => {
    const { session } = requireSession(ctx, req);
    const returnTo =
      typeof req.query.return_to === 'string' ? `&return_to=${encodeURIComponent(req.query.return_to)}` : '';
    res.status(200).json({
      logout_url: `${ctx.publicUrl}/self-service/logout?token=${session.logoutToken}${returnTo}`,
      logout_token: session.logoutToken,
    });
  });

  router.get('/self-service/logout', (req, res) => {
    const token = str(req.query.token);
    const session = token ? [...ctx.state.sessions.values()].find((s) => s.logoutToken === token) : undefined;
    if (!session || !isSessionActive(ctx, session)) throw errors.noSession();
    session.active = false;
    res.clearCookie(SESSION_COOKIE, { path: '/', httpOnly: true, sameSite: 'lax' });
    if (wantsJson(req)) return res.status(204).end();
    seeOther(res, str(req.query.return_to) ?? returnUrl(ctx));
  });
}
