import type { Request, RequestHandler } from 'express';
import type { Guard } from '../access/require-auth.js';
import { secondFactorsOf, type FactorDeps } from '../factors/second-factors.js';
import type { AuditLog } from '../audit/audit-log.js';
import type { Config } from '../config.js';
import { AppError, forbidden } from '../errors/app-error.js';

/** What the admin guard uses. */
export type AdminGuardDeps = FactorDeps & {
  audit: AuditLog;
  guard: Guard;
  config: Pick<Config, 'PRIVILEGED_MAX_AGE_SECONDS'>;
};

/** Why an admin route refuses a principal whose roles would allow the permission, but not at aal1. */
async function aalRefusal(deps: AdminGuardDeps, req: Request, identityId: string): Promise<AppError> {
  if ((await secondFactorsOf(deps, identityId)).length === 0) {
    return new AppError(
      'mfa_enrollment_required',
      403,
      'Administrators must enrol a second factor (a passkey or an authenticator app) first.',
    );
  }
  return new AppError(
    'aal2_required',
    403,
    'Administration needs a stronger sign-in: complete a second factor.',
    {
      details: { methods: await deps.guard.stepUpMethods(req) },
    },
  );
}

/**
 * Guards an admin route: a signed-in principal whose roles grant `permission` in the
 * policy, at aal2 (the policy puts `aal: aal2` on every admin permission). An admin
 * who has no second factor at all is told to enrol one (403 `mfa_enrollment_required`)
 * rather than to step up with nothing. The sign-in must be recent (PRIVILEGED_MAX_AGE_SECONDS,
 * 403 `reauthentication_required`). Every refusal of a signed-in caller is audited.
 */
export function requireAdmin(deps: AdminGuardDeps, permission: string): RequestHandler {
  return async (req, _res, next) => {
    const denied = (identityId: string, reason: string) =>
      deps.audit.record({
        type: 'admin.denied',
        outcome: 'denied',
        identityId,
        actorId: identityId,
        ip: req.ip,
        requestId: req.requestId,
        details: { permission, reason, path: req.originalUrl.split('?')[0] },
      });
    try {
      const { guard } = deps;
      const principal = await guard.check(req).catch(async (err: unknown) => {
        // The policy's mandatory second factor, overdue: a signed-in caller's refusal is audited too.
        if (err instanceof AppError && err.code === 'mfa_enrollment_required' && req.principal)
          await denied(req.principal.identityId, err.code);
        throw err;
      });
      const decision = guard.authorize(req, permission);
      if (decision.allowed) {
        // Every admin call is a privileged act: the aal2 sign-in must also be recent.
        await guard.check(req, { maxAgeSeconds: deps.config.PRIVILEGED_MAX_AGE_SECONDS });
        return next();
      }
      const refusal =
        decision.reason === 'aal2_required' ? await aalRefusal(deps, req, principal.identityId) : forbidden();
      await denied(principal.identityId, refusal.code);
      next(refusal);
    } catch (err) {
      next(err);
    }
  };
}
