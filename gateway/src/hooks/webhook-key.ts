import { createHash, timingSafeEqual } from 'node:crypto';
import type { NextFunction, Request, Response } from 'express';
import { AppError } from '../errors/app-error.js';

/** The header Kratos' `web_hook` auth (`type: api_key`, `in: header`) puts the shared key in. */
const WEBHOOK_KEY_HEADER = 'X-Webhook-Key';

const digest = (value: string) => createHash('sha256').update(value).digest();

/**
 * Compares the presented key with the configured one in constant time (both are hashed
 * first, so neither their content nor their length leaks through timing). Without a
 * configured key nothing matches.
 */
export function webhookKeyMatches(expected: string | undefined, presented: string | undefined): boolean {
  if (!expected || presented === undefined) return false;
  return timingSafeEqual(digest(expected), digest(presented));
}

/** Refuses (401) a web hook call that does not carry the shared key, after `onRefusal` (the audit). */
export function requireWebhookKey(expected: string | undefined, onRefusal?: (req: Request) => Promise<void>) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    if (webhookKeyMatches(expected, req.get(WEBHOOK_KEY_HEADER))) return next();
    try {
      await onRefusal?.(req);
    } catch (err) {
      return next(err);
    }
    next(new AppError('invalid_webhook_key', 401, 'The web hook key is missing or wrong.'));
  };
}
