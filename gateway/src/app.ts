import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import express, { type Router } from 'express';
import { fileURLToPath } from 'node:url';
import { registerAccountRoutes } from './account/routes.js';
import { registerAdminRoutes } from './admin/routes.js';
import type { AppDeps } from './deps.js';
import { registerKratosHookRoutes } from './hooks/routes.js';
import { AppError } from './errors/app-error.js';
import { registerHealthRoutes } from './http/health.js';
import {
  corsPolicy,
  csrfGuard,
  errorHandler,
  jsonBody,
  requestContext,
  securityHeaders,
} from './http/middleware.js';
import { metricsMiddleware } from './http/metrics.js';
import { isJarUpload, registerJarRoutes } from './jars/routes.js';
import { registerLoginRoutes, registerSocialRoutes } from './login/routes.js';

import { openApiRoute } from './openapi/document.js';
import { registerPasskeyRoutes } from './passkeys/routes.js';
import { oncePerWindow } from './audit/throttle.js';
import { registerAuthRateLimits } from './security/rate-limit-routes.js';
import { resolvePrincipal } from './session/resolve-principal.js';
import { registerSessionRoutes } from './access/routes.js';
import { sessionCheckHandler } from './http/session-checks.js';
import { sessionLayer, sessionLoader } from './session/session-store.js';
import { caseSensitiveRouter } from './http/router.js';
import { registerStepUpRoutes } from './stepup/routes.js';

/** The React app's build (web/dist) at / (development only: in production Nginx serves it). */
function webAppRoutes(): Router {
  const router = caseSensitiveRouter();
  const distDir = fileURLToPath(new URL('../../web/dist/', import.meta.url));
  router.use(express.static(distDir, { index: 'index.html' }));
  return router;
}

/**
 * Assembles the gateway from its dependencies. Nothing here reads the environment or
 * opens a connection: main.ts and the tests build `deps` and pass them in.
 */
export function createApp(deps: AppDeps) {
  const app = express();
  app.disable('x-powered-by');
  app.set('case sensitive routing', true);
  app.set('trust proxy', deps.config.TRUST_PROXY_HOPS);
  app.set('etag', false);

  const sessionContext = {
    store: deps.sessionStore,
    config: deps.config,
    clock: deps.clock,
    random: deps.random,
  };
  // The session checks before Express routes anything: every page load and every auth_request
  // pays for them. The server calls the app, and the app hands each request to them first.
  const sessionChecks = sessionCheckHandler(deps, sessionLoader(sessionContext), app);
  const routed = app as unknown as {
    handle: (req: IncomingMessage, res: ServerResponse, done?: unknown) => void;
  };
  const route = routed.handle.bind(app);
  routed.handle = (req, res, done) => {
    if (!sessionChecks.answer(req, res)) route(req, res, done);
  };
  // Express' own listen, with request and response objects born with its methods.
  app.listen = ((...args: Parameters<Server['listen']>) =>
    createServer(sessionChecks.serverOptions, app).listen(...args)) as typeof app.listen;

  app.use(requestContext(deps.logger));
  app.use(metricsMiddleware());
  app.use(securityHeaders(deps.config));
  const session = sessionLayer(sessionContext);
  const principal = resolvePrincipal(deps);

  const health = caseSensitiveRouter();
  registerHealthRoutes(health, deps);
  app.use(health);

  const api = caseSensitiveRouter();
  api.use(corsPolicy(deps.config));
  const csrfAuditGate = oncePerWindow({ windowMs: 60_000, clock: deps.clock });
  api.use(
    csrfGuard(deps.config, async (req, reason) => {
      if (!csrfAuditGate(req.ip ?? 'unknown')) return;
      await deps.audit.record({
        type: 'csrf.refused',
        outcome: 'denied',
        ip: req.ip,
        requestId: req.requestId,
        details: { reason, path: req.path },
      });
    }),
  );
  const json = jsonBody(deps.config.JSON_BODY_LIMIT);
  api.use((req, res, next) => (isJarUpload(req) ? next() : json(req, res, next)));
  api.use(session, principal);
  const limits = caseSensitiveRouter();
  registerAuthRateLimits(limits, deps);
  api.use('/auth', limits);

  // No two of these routes share a path; the passkey routes come first because sign-ins are
  // the busiest of them (Express tries the routes in order, one pattern match each).
  const auth = caseSensitiveRouter();
  registerPasskeyRoutes(auth, deps);
  registerSessionRoutes(auth, deps);
  registerLoginRoutes(auth, deps);
  registerSocialRoutes(auth, deps);
  registerAccountRoutes(auth, deps);
  registerStepUpRoutes(auth, deps);
  api.use('/auth', auth);
  registerJarRoutes(api, deps);

  const admin = caseSensitiveRouter();
  registerAdminRoutes(admin, deps);
  api.use('/admin', admin);

  api.use((_req, _res, next) => next(new AppError('not_found', 404, 'No such endpoint.')));
  // The API's own description: public and cacheable, so it needs no session, CSRF header or CORS.
  app.get('/api/openapi.json', openApiRoute());
  app.use('/api', api);
  // Server to server (Kratos): outside /api, so no cookies, CORS or CSRF header; a shared key instead.
  const hooks = caseSensitiveRouter();
  registerKratosHookRoutes(hooks, deps, jsonBody(deps.config.JSON_BODY_LIMIT));
  app.use('/hooks/kratos', hooks);

  if (deps.config.SERVE_DEMO) app.use(webAppRoutes());
  app.use((_req, _res, next) => next(new AppError('not_found', 404, 'No such endpoint.')));
  app.use(errorHandler(deps.logger));
  return app;
}
