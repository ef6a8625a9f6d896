import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { MemoryStore, rateLimit, type RateLimitInfo, type Store } from 'express-rate-limit';
import type { AuditLog } from '../audit/audit-log.js';
import type { Config } from '../config.js';
import { AppError } from '../errors/app-error.js';
import type { Logger } from '../logging/logger.js';
import type { Kv } from '../redis/client.js';
import { clientIpKey, identifierKey } from './client-key.js';
import { RecoveringRedisStore } from './redis-rate-store.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** Set by the last rate limiter the request went through. */
    rateLimit?: RateLimitInfo;
  }
}

/** What the rate limiters use. */
export interface RateLimitDeps {
  config: Pick<Config, 'REDIS_KEY_PREFIX' | 'RATE_LIMIT_IPV6_SUBNET'>;
  kv: Pick<Kv, 'client'>;
  audit: AuditLog;
  logger: Logger;
}

/** At most `max` requests in `windowSeconds`. */
export interface LimitRule {
  max: number;
  windowSeconds: number;
}

/** Reads the identifier a request is about (an e-mail address, an identity id), if it names one. */
export type IdentifierOf = (req: Request) => string | undefined;

interface RateLimiterOptions {
  /** Name of the counter; it shows in the RateLimit headers and in the audit log. */
  name: string;
  rule: LimitRule;
  /** `ip` counts per client address; a function counts per identifier (requests without one pass). */
  by: 'ip' | IdentifierOf;
}

/** A shared Redis counter when Redis is configured, an in-process one in memory mode (development). */
function storeFor(deps: RateLimitDeps, prefix: string): Store {
  if (!deps.kv.client) return new MemoryStore();
  return new RecoveringRedisStore(deps.kv.client, `${deps.config.REDIS_KEY_PREFIX}${prefix}`);
}

/** The 429 answer, recorded once per client and window (not on every refused request of a flood). */
function refuse(deps: RateLimitDeps, options: RateLimiterOptions, rule: LimitRule) {
  return async (req: Request, res: Response, next: NextFunction) => {
    const retryAfter = Number(res.getHeader('Retry-After')) || rule.windowSeconds;
    try {
      if (req.rateLimit?.used === rule.max + 1) {
        await deps.audit.record({
          type: 'rate_limit.refused',
          outcome: 'denied',
          identityId: req.principal?.identityId,
          ip: req.ip,
          requestId: req.requestId,
          details: { limiter: options.name, by: options.by === 'ip' ? 'ip' : 'identifier', path: req.path },
        });
      }
    } catch (err) {
      return next(err);
    }
    next(
      new AppError('rate_limited', 429, 'Too many attempts. Wait a moment and try again.', {
        headers: { 'Retry-After': String(retryAfter) },
        details: { retryAfterSeconds: retryAfter },
      }),
    );
  };
}

/**
 * One express-rate-limit instance over a shared store. It fails closed: when the counter
 * cannot be read (Redis down) the request is refused with 503 rather than let through
 * unlimited, because these routes are the ones password guessing goes through.
 */
export function createRateLimiter(deps: RateLimitDeps, options: RateLimiterOptions): RequestHandler {
  const { rule, by } = options;
  const kind = by === 'ip' ? 'ip' : 'id';
  const identifierOf = by === 'ip' ? undefined : by;
  const onRefused = refuse(deps, options, rule);
  const limiter = rateLimit({
    windowMs: rule.windowSeconds * 1000,
    limit: rule.max,
    standardHeaders: 'draft-8',
    legacyHeaders: false,
    identifier: `${options.name}-${kind}`,
    store: storeFor(deps, `rl:${options.name}:${kind}:`),
    passOnStoreError: false,
    skip: (req) => identifierOf !== undefined && !identifierOf(req),
    keyGenerator: (req) =>
      identifierOf
        ? identifierKey(identifierOf(req) ?? '')
        : clientIpKey(req, deps.config.RATE_LIMIT_IPV6_SUBNET),
    // The refusal settles by calling next (its own failures included): nothing to await.
    handler: (req: Request, res: Response, next: NextFunction) => void onRefused(req, res, next),
    logger: {
      error: (err, message) => deps.logger.warn(message ?? 'rate limiter error', { error: String(err) }),
      warn: (err, message) => deps.logger.warn(message ?? 'rate limiter warning', { error: String(err) }),
    },
  });
  return (req, res, next) =>
    limiter(req, res, (err?: unknown) => {
      if (err === undefined || err instanceof AppError) return next(err);
      next(
        new AppError('rate_limiter_unavailable', 503, 'Sign-in is paused: the rate limiter is unavailable.', {
          cause: err,
          headers: { 'Retry-After': '5' },
        }),
      );
    });
}
