import type { DoubleContext } from './context.js';
import { secretEquals } from './lookup.js';
import { randomDigits, type StoredFlow } from './state.js';

/** Kratos lets a code be guessed a few times before the flow must be restarted. */
const MAX_ATTEMPTS = 5;

/** Puts a fresh six-digit code on the flow (replacing any earlier one) and returns it. */
export function issueCode(
  ctx: DoubleContext,
  flow: StoredFlow,
  address: string,
  identityId?: string,
): string {
  const code = randomDigits(6);
  flow.code = { code, address, identityId, expiresAt: ctx.now() + ctx.config.codeLifespanMs, used: false };
  flow.failedAttempts = 0;
  flow.state = 'sent_email';
  flow.active = 'code';
  return code;
}

/**
 * Consumes the flow's code when `submitted` matches it, is unused and unexpired; counts a failure
 * otherwise. Unknown addresses get a code too (never sent), so a guess fails the same way.
 */
export function consumeCode(ctx: DoubleContext, flow: StoredFlow, submitted: string): boolean {
  flow.transientPayload = {};
  const code = flow.code;
  const usable = code && !code.used && code.expiresAt > ctx.now() && flow.failedAttempts < MAX_ATTEMPTS;
  if (usable && code.identityId && secretEquals(code.code, submitted.trim())) {
    code.used = true;
    return true;
  }
  flow.failedAttempts += 1;
  return false;
}

/** A syntactically valid email address (what the code strategies accept in `email`). */
export const isEmail = (value: string): boolean => /^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(value);
