import type { NextFunction, Request, Response } from 'express';
import type { Config } from '../config.js';
import { secondFactorsOf, type FactorDeps } from '../factors/second-factors.js';
import type { Principal } from '../session/principal.js';
import { checkAuth } from './require-auth.js';

/** What a privileged check needs. */
export type PrivilegedDeps = FactorDeps & {
  clock: () => Date;
  config: Pick<Config, 'PRIVILEGED_MAX_AGE_SECONDS'>;
};

/**
 * A privileged act (adding or removing a factor, changing the e-mail address or the
 * password, a jar's restriction or grants, every admin call): aal2 whenever the account
 * has a second factor, and a recent authentication. A session that still owes its second
 * factor is refused by `checkAuth` itself.
 */
export async function checkPrivileged(
  deps: PrivilegedDeps,
  req: Request,
  options: { allowIncomplete?: boolean } = {},
): Promise<Principal> {
  const now = deps.clock();
  const principal = await checkAuth(req, { allowIncomplete: options.allowIncomplete }, now);
  if (principal.aal !== 'aal2' && (await secondFactorsOf(deps, principal.identityId)).length > 0)
    await checkAuth(req, { aal: 'aal2', allowIncomplete: options.allowIncomplete }, now);
  return checkAuth(
    req,
    { allowIncomplete: options.allowIncomplete, maxAgeSeconds: deps.config.PRIVILEGED_MAX_AGE_SECONDS },
    now,
  );
}

/** Route guard form of `checkPrivileged`. */
export function requirePrivileged(deps: PrivilegedDeps, options: { allowIncomplete?: boolean } = {}) {
  return async (req: Request, _res: Response, next: NextFunction) => {
    try {
      await checkPrivileged(deps, req, options);
      next();
    } catch (err) {
      next(err);
    }
  };
}
