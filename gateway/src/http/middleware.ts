import { randomUUID } from 'node:crypto';
import cors from 'cors';
import express, {
  type ErrorRequestHandler,
  type NextFunction,
  type Request,
  type RequestHandler,
  type Response,
} from 'express';
import helmet from 'helmet';
import type { Config } from '../config.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../logging/logger.js';

declare module 'express-serve-static-core' {
  interface Request {
    requestId: string;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._-]{8,64}$/;

/** The request's id: a well-formed incoming X-Request-Id, else a fresh one. */
export function requestIdOf(incoming: string | undefined): string {
  return incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
}

/**
 * Gives every request an id (a well-formed incoming X-Request-Id is kept) and, once its
 * response is done, logs one `request` line at info: method, path, status and duration.
 * The path never carries the query string, which can hold flow ids and tokens. A response
 * cut short (the client went away) is logged with `aborted: true`.
 */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    req.requestId = requestIdOf(req.get('x-request-id'));
    res.setHeader('X-Request-Id', req.requestId);
    // Nothing is measured or built per request while the request log is off.
    if (logger.silent || !logger.isLevelEnabled('info')) return next();
    const started = process.hrtime.bigint();
    res.once('close', () => logRequest(logger, req.requestId, req.method, req.originalUrl, res, started));
    next();
  };
}

/** The request line of an answered (or aborted) request; `url` may carry a query, which is never logged. */
export function logRequest(
  logger: Logger,
  requestId: string,
  method: string,
  url: string,
  res: { statusCode: number; writableFinished: boolean },
  started: bigint,
): void {
  const query = url.indexOf('?');
  logger.request({
    requestId,
    method,
    path: query === -1 ? url : url.slice(0, query),
    status: res.statusCode,
    durationMs: Math.round(Number(process.hrtime.bigint() - started) / 1e4) / 100,
    ...(res.writableFinished ? {} : { aborted: true }),
  });
}

/**
 * helmet with a CSP that allows no inline script, HSTS only where the public URL is https.
 * The headers depend on the configuration alone, so helmet runs once, at startup: the
 * answer is a flat list of names and values, in helmet's order.
 */
export function securityHeaderList(config: Config): readonly string[] {
  const headers: string[] = [];
  const capture = {
    setHeader: (name: string, value: string) => void headers.push(name, value),
    removeHeader: () => undefined,
  };
  helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: config.https ? { maxAge: 63072000, includeSubDomains: true } : false,
    crossOriginEmbedderPolicy: false,
    referrerPolicy: { policy: 'no-referrer' },
  })({} as Request, capture as unknown as Response, () => undefined);
  return Object.freeze(headers);
}

/** Every answer gets the same precomputed security headers. */
export function securityHeaders(config: Config): RequestHandler {
  const headers = securityHeaderList(config);
  return (_req, res, next) => {
    for (let i = 0; i < headers.length; i += 2) res.setHeader(headers[i] as string, headers[i + 1] as string);
    next();
  };
}

const EXPOSED_HEADERS = 'X-Request-Id,Retry-After,RateLimit,RateLimit-Policy';

/** CORS for the configured origins only; a preflight from any other origin is refused. */
export function corsPolicy(config: Config): RequestHandler {
  const allowed = new Set(config.CORS_ORIGINS);
  const handler = cors({
    origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin)),
    credentials: true,
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Content-Type', 'X-CSRF', 'X-Request-Id'],
    exposedHeaders: EXPOSED_HEADERS.split(','),
    maxAge: 600,
  });
  return (req, res, next) => {
    const origin = req.get('origin');
    if (req.method === 'OPTIONS' && origin && !allowed.has(origin)) {
      return next(new AppError('cors_forbidden', 403, 'This origin is not allowed.'));
    }
    handler(req, res, next);
  };
}

/**
 * CORS for simple GET and HEAD requests (the session checks): exactly the headers
 * `corsPolicy` answers to them (names and values, flat), without its per-request option
 * handling. Preflights never reach it.
 */
export function simpleCors(config: Config): (origin: string | undefined) => readonly string[] {
  const allowed = new Set(config.CORS_ORIGINS);
  const vary = Object.freeze(['Vary', 'Origin']);
  return (origin) =>
    origin !== undefined && allowed.has(origin)
      ? [
          'Access-Control-Allow-Origin',
          origin,
          'Access-Control-Allow-Credentials',
          'true',
          'Access-Control-Expose-Headers',
          EXPOSED_HEADERS,
          'Vary',
          'Origin',
        ]
      : vary;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * CSRF defense for cookie-authenticated APIs: every state-changing request must carry
 * `X-CSRF: 1` (a custom header forces a CORS preflight, which other origins fail) and,
 * when the browser sends `Origin`, an allowed one.
 */
export function csrfGuard(
  config: Config,
  onRefusal?: (req: Request, reason: string) => Promise<void>,
): RequestHandler {
  const allowed = new Set(config.CORS_ORIGINS);
  return async (req, _res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const origin = req.get('origin');
    let reason: string | undefined;
    if (req.get('x-csrf') !== '1') reason = 'missing X-CSRF header';
    else if (origin !== undefined && !allowed.has(origin)) reason = 'origin not allowed';
    if (!reason) return next();
    try {
      await onRefusal?.(req, reason);
    } catch (err) {
      return next(err);
    }
    next(new AppError('csrf_failed', 403, 'The request failed the CSRF check.'));
  };
}

/** Parses JSON bodies of state-changing requests; anything else with a body is a 415. */
export function jsonBody(limit: string): RequestHandler {
  const parse = express.json({ limit, strict: true, type: () => true });
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
    if (!hasBody) {
      req.body = {};
      return next();
    }
    if (!req.is('application/json')) {
      return next(
        new AppError('unsupported_media_type', 415, 'Send JSON with Content-Type: application/json.'),
      );
    }
    parse(req, res, next);
  };
}

interface BodyParserError {
  type?: string;
  status?: number;
}

/** Maps body-parser failures to our codes. */
function fromParserError(err: BodyParserError): AppError | undefined {
  if (err.type === 'entity.too.large')
    return new AppError('payload_too_large', 413, 'The request body is too large.');
  if (err.type === 'entity.parse.failed')
    return new AppError('invalid_json', 400, 'The request body is not valid JSON.');
  if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported')
    return new AppError('unsupported_media_type', 415, 'Unsupported body encoding.');
  if (err.type === 'request.aborted') return new AppError('request_aborted', 400, 'The request was aborted.');
  if (typeof err.status === 'number' && err.status >= 400 && err.status < 500)
    return new AppError('bad_request', err.status, 'The request could not be read.');
  return undefined;
}

/** The one error handler: answers `{ error: { code, message } }`, logs the cause, never a stack. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const appError =
      err instanceof AppError
        ? err
        : (fromParserError(err as BodyParserError) ??
          new AppError('internal_error', 500, 'Something went wrong.', { cause: err }));
    const log = appError.status >= 500 ? 'error' : 'info';
    logger[log]('request failed', {
      requestId: req.requestId,
      code: appError.code,
      status: appError.status,
      cause:
        appError.cause instanceof Error
          ? `${appError.cause.name}: ${appError.cause.message}`
          : appError.cause,
    });
    if (res.headersSent) return res.destroy();
    for (const [name, value] of Object.entries(appError.headers ?? {})) res.setHeader(name, value);
    res.status(appError.status).json({
      error: {
        code: appError.code,
        message: appError.message,
        ...(appError.details ? { details: appError.details } : {}),
      },
    });
  };
}
