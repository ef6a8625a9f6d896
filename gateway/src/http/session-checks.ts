import { IncomingMessage, ServerResponse } from 'node:http';
import type { Express, Request, Response } from 'express';
import type { Guard } from '../access/require-auth.js';
import { SESSION_CHECKS, sessionAnswer, verifyCheck } from '../access/routes.js';
import type { Config } from '../config.js';
import type { Logger } from '../logging/logger.js';
import { loadPrincipal, type PrincipalDeps } from '../session/resolve-principal.js';
import { countRequest } from './metrics.js';
import { errorHandler, logRequest, requestIdOf, securityHeaderList, simpleCors } from './middleware.js';

/** What the session checks read: the principal's dependencies, the guard, the logger, the configuration. */
type SessionCheckDeps = PrincipalDeps & { guard: Guard; logger: Logger; config: Config };

/** The session checks, for the HTTP server to call first. */
export interface SessionChecks {
  /** Answers the request when it is a session check (true); else leaves it untouched (false). */
  answer(req: IncomingMessage, res: ServerResponse): boolean;
  /**
   * The server's request and response classes, born with Express' methods: then nothing
   * needs to change a live object's prototype (which V8 makes costly) to answer a check.
   */
  serverOptions: { IncomingMessage: typeof IncomingMessage; ServerResponse: typeof ServerResponse };
}

const CHECKS = new Map(Object.entries(SESSION_CHECKS));
const JSON_TYPE = 'application/json; charset=utf-8';
const ignore = () => undefined;

/**
 * Sets `headers` (names and values, flat) ahead of those already set (the session layer's
 * cookie), in the order the middleware stack used to give them.
 */
function setHeadersFirst(res: ServerResponse, headers: readonly string[]): void {
  // Node has had getRawHeaderNames since 15.13; its types here do not list it yet.
  const names = (res as ServerResponse & { getRawHeaderNames(): string[] }).getRawHeaderNames();
  const earlier = names.map((name) => [name, res.getHeader(name)] as const);
  for (const [name] of earlier) res.removeHeader(name);
  for (let i = 0; i < headers.length; i += 2) res.setHeader(headers[i] as string, headers[i + 1] as string);
  for (const [name, value] of earlier) if (value !== undefined) res.setHeader(name, value);
}

/**
 * The session checks, GET (and HEAD) /api/auth/session and /api/auth/verify: the requests
 * every page load and every nginx `auth_request` makes, answered before Express routes
 * anything. The handler does what the middleware stack does for them, as plain calls: the
 * request id (header and request line), the metrics, the security headers (precomputed),
 * CORS for the configured origins, the session and the principal, and the answer in one
 * `writeHead`; a failure goes to the one error handler. No body parser, CSRF check, policy
 * or rate limiter: a GET check needs none. Any other request is not its business (false).
 *
 * `app` lends Express' request and response methods (cookies, JSON) to the two objects, as
 * Express does to every request it handles.
 */
export function sessionCheckHandler(
  deps: SessionCheckDeps,
  loadSession: (req: Request, res: Response) => Promise<void>,
  app: Pick<Express, 'request' | 'response'>,
): SessionChecks {
  class ExpressRequest extends IncomingMessage {}
  Object.setPrototypeOf(ExpressRequest.prototype, app.request);
  class ExpressResponse extends ServerResponse {}
  Object.setPrototypeOf(ExpressResponse.prototype, app.response);
  const security = securityHeaderList(deps.config);
  const cors = simpleCors(deps.config);
  const onError = errorHandler(deps.logger);
  const { logger } = deps;
  /** The route label of the metrics: the check's path once its principal loaded. */
  interface State {
    route: string;
  }

  const answer = async (
    req: Request,
    res: Response,
    url: string,
    path: string,
    head: readonly string[],
    state: State,
  ) => {
    await loadSession(req, res);
    await loadPrincipal(deps, req);
    state.route = path;
    if (CHECKS.get(path) === 'verify') {
      const principal = await verifyCheck(deps, req, url);
      // Forward auth for nginx auth_request: the answer is in the status and the X-User-* headers.
      const headers = head.concat(
        'X-User-Id',
        principal.identityId,
        'X-User-Email',
        principal.email,
        'X-User-Roles',
        principal.roles.join(','),
        'X-Auth-AAL',
        principal.aal,
        'Cache-Control',
        'no-store',
      );
      // Set one by one, so that Node adds `Content-Length: 0` itself, where it always did.
      setHeadersFirst(res, headers);
      res.statusCode = 200;
      res.end();
      return;
    }
    const body = await sessionAnswer(deps, req);
    // A conditional request (If-None-Match, If-Modified-Since) gets Express' answer to it.
    if (req.headers['if-none-match'] !== undefined || req.headers['if-modified-since'] !== undefined) {
      setHeadersFirst(res, head);
      res.json(body);
      return;
    }
    const json = JSON.stringify(body);
    const headers = head.concat('Content-Type', JSON_TYPE, 'Content-Length', String(Buffer.byteLength(json)));
    if (res.getHeaderNames().length === 0) res.writeHead(200, headers);
    else {
      setHeadersFirst(res, headers);
      res.statusCode = 200;
    }
    res.end(req.method === 'HEAD' ? undefined : json);
  };

  const answerCheck = (incoming: IncomingMessage, outgoing: ServerResponse): boolean => {
    const method = incoming.method;
    if (method !== 'GET' && method !== 'HEAD') return false;
    const url = incoming.url ?? '';
    const query = url.indexOf('?');
    const path = query === -1 ? url : url.slice(0, query);
    if (!CHECKS.has(path)) return false;
    const started = process.hrtime.bigint();
    // What Express does to every request before its routers.
    const req = incoming as Request;
    const res = outgoing as Response;
    req.res = res;
    res.req = req;
    // A server other than the app's own (a test's) makes plain objects.
    if (!(incoming instanceof ExpressRequest)) Object.setPrototypeOf(req, app.request);
    if (!(outgoing instanceof ExpressResponse)) Object.setPrototypeOf(res, app.response);
    res.locals = Object.create(null) as Record<string, unknown>;

    const requestId = requestIdOf(req.get('x-request-id'));
    req.requestId = requestId;
    // Nothing is measured or built for the request log while it is off.
    if (!logger.silent && logger.isLevelEnabled('info'))
      res.once('close', () => logRequest(logger, requestId, method, url, res, started));
    const state: State = { route: 'unmatched' };
    res.once('finish', () => countRequest(method, state.route, res.statusCode, started));

    const head = ['X-Request-Id', requestId, ...security, ...cors(req.headers.origin)];
    answer(req, res, url, path, head, state).catch((err: unknown) => {
      try {
        if (!res.headersSent) setHeadersFirst(res, head);
        onError(err, req, res, ignore);
      } catch {
        res.destroy();
      }
    });
    return true;
  };

  return {
    answer: answerCheck,
    serverOptions: {
      IncomingMessage: ExpressRequest,
      ServerResponse: ExpressResponse as typeof ServerResponse,
    },
  };
}
