import type { NextFunction, Request, RequestHandler, Response } from 'express';
import { AppError, unauthenticated } from '../errors/app-error.js';
import type { Aal } from '../kratos/types.js';
import type { Principal } from '../session/principal.js';
import type { GatewayAuth } from '../session/session-data.js';
import type { Decision, Policy, ResourceAttributes } from './policy.js';

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

/**
 * What a guard reads of a request (an Express request is one): the principal the session
 * layer resolved, the gateway session's sign-in, and why no principal resolved.
 */
export interface Caller {
  principal?: Principal | undefined;
  session?: { auth?: GatewayAuth | undefined } | undefined;
  authProblem?: 'aal2_required' | undefined;
}

/** What the guard is built from, once, at assembly. */
export interface GuardDeps {
  clock: () => Date;
  policy: Pick<Policy, 'authorize'>;
  /** The factors a session could step up with (stepup/), looked up only when a guard refuses. */
  stepUpMethods(principal: Principal | undefined, auth: GatewayAuth | undefined): Promise<string[]>;
}

/**
 * The one access check of the API: who is signed in, at which level, how recently, with
 * which roles and what the policy file allows. Built once; nothing is attached to requests.
 */
export interface Guard {
  /**
   * Throws the AppError that `need` says `subject` fails (401 `unauthenticated`, 403
   * `aal2_required` with the methods that can step up, `reauthentication_required`,
   * `forbidden`, or the sign-up or password change still owed), or returns the principal.
   */
  check(subject: Caller, need?: AuthRequirement): Promise<Principal>;
  /** Route guard form of `check`. */
  require(need?: AuthRequirement): RequestHandler;
  /** The policy's decision for the subject's principal; without one, nothing is allowed. */
  authorize(subject: Caller, permission: string, resource?: ResourceAttributes): Decision;
  /** The factors the subject could step up with. */
  stepUpMethods(subject: Caller): Promise<string[]>;
}

export function createGuard(deps: GuardDeps): Guard {
  const stepUpMethods = (s: Caller) => deps.stepUpMethods(s.principal, s.session?.auth);
  const authorize = (s: Caller, permission: string, resource?: ResourceAttributes): Decision =>
    s.principal
      ? deps.policy.authorize(s.principal, permission, resource)
      : { allowed: false, reason: 'no_role' };

  const check = async (s: Caller, need: AuthRequirement = {}): Promise<Principal> => {
    const p = s.principal;
    if (!p) {
      if (s.authProblem === 'aal2_required') {
        throw new AppError('aal2_required', 403, 'Complete a second factor to continue.', {
          details: { methods: ['totp', 'lookup_secret'] },
        });
      }
      throw unauthenticated();
    }
    const needsAal2 = need.aal === 'aal2' || (p.secondFactorRequired && !need.allowIncomplete);
    if (needsAal2 && p.aal !== 'aal2') {
      throw new AppError('aal2_required', 403, 'This needs a stronger sign-in: complete a second factor.', {
        details: { methods: await stepUpMethods(s) },
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
      const age = (deps.clock().getTime() - Date.parse(p.authenticatedAt)) / 1000;
      if (age > need.maxAgeSeconds) {
        throw new AppError('reauthentication_required', 403, 'Sign in again to continue.', {
          details: { maxAgeSeconds: need.maxAgeSeconds },
        });
      }
    }
    if (need.roles && !need.roles.some((r) => p.roles.includes(r))) {
      throw new AppError('forbidden', 403, 'You are not allowed to do this.');
    }
    if (need.permission && !authorize(s, need.permission).allowed) {
      throw new AppError('forbidden', 403, 'You are not allowed to do this.');
    }
    return p;
  };

  return {
    check,
    authorize,
    stepUpMethods,
    require:
      (need = {}) =>
      async (req: Request, _res: Response, next: NextFunction) => {
        try {
          await check(req, need);
          next();
        } catch (err) {
          next(err);
        }
      },
  };
}

/**
 * The principal a guard let through. Behind `guard.require` there always is one; anywhere
 * else its absence is the usual 401, never a crash.
 */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw unauthenticated();
  return req.principal;
}
