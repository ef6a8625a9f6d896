import type { RequestHandler } from 'express';
import type { Config } from '../config.js';
import { secondFactorsOf, type FactorDeps } from '../factors/second-factors.js';
import type { Principal } from '../session/principal.js';
import type { AuthRequirement, Caller, Guard } from './require-auth.js';

/** What a privileged check needs. */
type PrivilegedDeps = FactorDeps & {
  guard: Guard;
  config: Pick<Config, 'PRIVILEGED_MAX_AGE_SECONDS'>;
};

/** Sessions a privileged act is also open to (see `AuthRequirement`). */
type PrivilegedOptions = Pick<AuthRequirement, 'allowIncomplete' | 'enrolment'>;

/**
 * A privileged act (adding or removing a factor, changing the e-mail address or the
 * password, a jar's restriction or grants, every admin call): aal2 whenever the account
 * has a second factor, and a recent authentication. A session that still owes its second
 * factor is refused by the guard itself.
 */
export async function checkPrivileged(
  deps: PrivilegedDeps,
  caller: Caller,
  options: PrivilegedOptions = {},
): Promise<Principal> {
  const { guard } = deps;
  const { allowIncomplete, enrolment } = options;
  const principal = await guard.check(caller, { allowIncomplete, enrolment });
  if (principal.aal !== 'aal2' && (await secondFactorsOf(deps, principal.identityId)).length > 0)
    await guard.check(caller, { aal: 'aal2', allowIncomplete, enrolment });
  return guard.check(caller, {
    allowIncomplete,
    enrolment,
    maxAgeSeconds: deps.config.PRIVILEGED_MAX_AGE_SECONDS,
  });
}

/** Route guard form of `checkPrivileged`. */
export function requirePrivileged(deps: PrivilegedDeps, options: PrivilegedOptions = {}): RequestHandler {
  return async (req, _res, next) => {
    try {
      await checkPrivileged(deps, req, options);
      next();
    } catch (err) {
      next(err);
    }
  };
}
