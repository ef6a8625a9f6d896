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
  /** Enrols a second factor: open to a session whose mandatory enrolment is overdue. */
  enrolment?: boolean;
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
interface GuardDeps {
  clock: () => Date;
  policy: Pick<Policy, 'authorize' | 'mfaRequirement'>;
  /** The factors a session could step up with (stepup/), looked up only when a guard refuses. */
  stepUpMethods(principal: Principal | undefined, auth: GatewayAuth | undefined): Promise<string[]>;
  /** Whether the account has a second factor now (factors/second-factors.ts). */
  hasSecondFactor(identityId: string): Promise<boolean>;
  /** The second factors a session whose mandatory enrolment is due may enrol (default: ENROLLABLE_FACTORS). */
  enrollableFactors?: readonly string[];
}

/**
 * The second factors a session whose mandatory enrolment is due may enrol; `email` joins
 * them where EMAIL_CODE_MFA is on (build-deps.ts).
 */
const ENROLLABLE_FACTORS = ['passkey', 'totp'] as const;

/** Where a caller stands with the policy's mandatory second factor. */
interface MfaEnrollment {
  /** When the grace period ends (ISO 8601). */
  dueAt: string;
  /** Past `dueAt`: the session may only enrol a factor or sign out. */
  overdue: boolean;
  /** The factors it may enrol. */
  methods: readonly string[];
}

/**
 * The one access check of the API: who is signed in, at which level, how recently, with
 * which roles and what the policy file allows. Built once; nothing is attached to requests.
 */
export interface Guard {
  /**
   * Throws the AppError that `need` says `caller` fails (401 `unauthenticated`, 403
   * `aal2_required` with the methods that can step up, `reauthentication_required`,
   * `forbidden`, `mfa_enrollment_required`, or the sign-up or password change still owed), or
   * returns the principal.
   */
  check(caller: Caller, need?: AuthRequirement): Promise<Principal>;
  /** Route guard form of `check`. */
  require(need?: AuthRequirement): RequestHandler;
  /** The policy's decision for the caller's principal; without one, nothing is allowed. */
  authorize(caller: Caller, permission: string, resource?: ResourceAttributes): Decision;
  /** The factors the caller could step up with. */
  stepUpMethods(caller: Caller): Promise<string[]>;
  /**
   * The policy's mandatory second factor for the caller: undefined when it does not apply,
   * or the caller has a second factor (or owes one it has, or signed in with one).
   */
  mfaEnrollment(caller: Caller): Promise<MfaEnrollment | undefined>;
}

/** 403 `mfa_enrollment_required`: the policy's grace period for a second factor is over. */
export function mfaEnrollmentRequired(due: MfaEnrollment): AppError {
  return new AppError(
    'mfa_enrollment_required',
    403,
    'A second factor is required: add a passkey or an authenticator app to continue.',
    { details: { methods: [...due.methods], dueAt: due.dueAt } },
  );
}

export function createGuard(deps: GuardDeps): Guard {
  const stepUpMethods = (s: Caller) => deps.stepUpMethods(s.principal, s.session?.auth);
  const authorize = (s: Caller, permission: string, resource?: ResourceAttributes): Decision =>
    s.principal
      ? deps.policy.authorize(s.principal, permission, resource)
      : { allowed: false, reason: 'no_role' };

  const DAY_MS = 86_400_000;
  const mfaEnrollment = async (s: Caller): Promise<MfaEnrollment | undefined> => {
    const p = s.principal;
    if (!p || p.aal === 'aal2' || p.secondFactorRequired) return undefined;
    const rule = deps.policy.mfaRequirement(p.roles);
    if (!rule) return undefined;
    // Looked up only for an aal1 session that owes nothing, of someone the rule covers.
    if (await deps.hasSecondFactor(p.identityId)) return undefined;
    const now = deps.clock().getTime();
    // An account is never younger than now: a clock behind the identity service's shortens no grace.
    const created = Math.min(Date.parse(p.accountCreatedAt ?? '') || 0, now);
    const dueAt = Math.max(created, rule.since?.getTime() ?? 0) + rule.graceDays * DAY_MS;
    const methods = deps.enrollableFactors ?? ENROLLABLE_FACTORS;
    return { dueAt: new Date(dueAt).toISOString(), overdue: now >= dueAt, methods };
  };
  const refuseOverdue = async (s: Caller) => {
    const due = await mfaEnrollment(s);
    if (due?.overdue) throw mfaEnrollmentRequired(due);
  };

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
    if (!need.allowIncomplete && !need.enrolment) await refuseOverdue(s);
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
    mfaEnrollment,
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
