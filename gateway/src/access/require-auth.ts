import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError, unauthenticated } from '../errors/app-error.js';
import type { Aal } from '../kratos/types.js';
import type { Principal } from '../session/principal.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The factors this principal could use to step up (set by the app, looked up only when needed). */
    stepUpMethods?: () => Promise<string[]>;
    /** Checks a permission for the principal (set by the app from the policy module). */
    can?: (permission: string) => boolean;
  }
}

export interface AuthRequirement {
  /** Minimum assurance level (default aal1). */
  aal?: Aal;
  /** The authentication must be at most this old. */
  maxAgeSeconds?: number;
  /** At least one of these roles. */
  roles?: string[];
  /** A permission from the policy file. */
  permission?: string;
  /** Allows sessions that still owe a second factor, a first passkey or a password change (step-up, logout). */
  allowIncomplete?: boolean;
}

/** Throws the AppError that `need` says `principal` fails, or returns the principal. */
export async function checkAuth(req: Request, need: AuthRequirement, now: Date): Promise<Principal> {
  const p = req.principal;
  if (!p) {
    if (req.authProblem === 'aal2_required') {
      throw new AppError('aal2_required', 403, 'Complete a second factor to continue.', {
        details: { methods: ['totp', 'lookup_secret'] },
      });
    }
    throw unauthenticated();
  }
  const needsAal2 = need.aal === 'aal2' || (p.secondFactorRequired && !need.allowIncomplete);
  if (needsAal2 && p.aal !== 'aal2') {
    const methods = (await req.stepUpMethods?.()) ?? [];
    throw new AppError('aal2_required', 403, 'This needs a stronger sign-in: complete a second factor.', {
      details: { methods },
    });
  }
  if (p.passkeyEnrollmentRequired && !need.allowIncomplete) {
    throw new AppError('passkey_enrollment_required', 403, 'Register a passkey to finish signing up.');
  }
  if (p.passwordChangeRequired && !need.allowIncomplete) {
    throw new AppError('password_change_required', 403, 'Change your password to continue.');
  }
  if (p.emailVerificationRequired && !need.allowIncomplete) {
    throw new AppError('email_verification_required', 403, 'Verify your e-mail address to continue.');
  }
  if (need.maxAgeSeconds !== undefined) {
    const age = (now.getTime() - Date.parse(p.authenticatedAt)) / 1000;
    if (age > need.maxAgeSeconds) {
      throw new AppError('reauthentication_required', 403, 'Sign in again to continue.', {
        details: { maxAgeSeconds: need.maxAgeSeconds },
      });
    }
  }
  if (need.roles && !need.roles.some((r) => p.roles.includes(r))) {
    throw new AppError('forbidden', 403, 'You are not allowed to do this.');
  }
  if (need.permission && !(req.can?.(need.permission) ?? false)) {
    throw new AppError('forbidden', 403, 'You are not allowed to do this.');
  }
  return p;
}

/**
 * The principal a guard let through. Behind `requireAuth` there always is one; anywhere
 * else its absence is the usual 401, never a crash.
 */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw unauthenticated();
  return req.principal;
}

/**
 * Guards a route: 401 `unauthenticated`, 403 `aal2_required` (with the methods that can
 * step up), 403 `reauthentication_required` (authentication older than `maxAgeSeconds`),
 * 403 `forbidden` (role or permission).
 */
export function requireAuth(
  need: AuthRequirement = {},
  clock: () => Date = () => new Date(),
): RequestHandler {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      await checkAuth(req, need, clock());
      next();
    } catch (err) {
      next(err);
    }
  };
}
