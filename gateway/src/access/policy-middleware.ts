import type { RequestHandler } from 'express';
import type { Decision, Policy, ResourceAttributes } from './policy.js';

declare module 'express-serve-static-core' {
  interface Request {
    /** The full policy decision for the principal, with the resource's attributes when there is one. */
    authorize?: (permission: string, resource?: ResourceAttributes) => Decision;
  }
}

/**
 * Gives every API request `req.can(permission)` (used by `requireAuth({ permission })`)
 * and `req.authorize(permission, resource)` (for handlers that loaded the resource),
 * both answered by the policy for the request's principal. Without a principal, nothing
 * is allowed.
 */
export function policyMiddleware(policy: Policy): RequestHandler {
  return (req, _res, next) => {
    req.authorize = (permission, resource) =>
      req.principal
        ? policy.authorize(req.principal, permission, resource)
        : { allowed: false, reason: 'no_role' };
    req.can = (permission) => req.authorize!(permission).allowed;
    next();
  };
}
