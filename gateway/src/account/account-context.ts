import type { Request } from 'express';
import type { AppDeps } from '../deps.js';
import type { AuditOutcome } from '../audit/audit-log.js';
import { forgetIdentity, forgetWhoami } from '../session/resolve-principal.js';
import { saveProfile } from './profile-store.js';

/** The Kratos session token the request's gateway session holds, opened; undefined for passkey-only sessions. */
export function heldKratosToken(deps: AppDeps, req: Request): string | undefined {
  const auth = req.session?.auth;
  if (!auth?.kratosToken) return undefined;
  return deps.tokenCipher.open(auth.kratosToken, auth.handle);
}

/** Records an account event for the request's caller (before the response is sent). */
export function recordAccountEvent(
  deps: AppDeps,
  req: Request,
  type: string,
  outcome: AuditOutcome,
  identityId?: string,
  details?: Record<string, unknown>,
): Promise<void> {
  return deps.audit.record({
    type,
    outcome,
    identityId,
    actorId: req.principal?.identityId ?? identityId,
    ip: req.ip,
    requestId: req.requestId,
    details,
  });
}

/**
 * After a change at Kratos: drops the cached identity and whoami, so the next principal
 * shows the change, and copies the identity's profile into the gateway's table.
 */
export async function afterIdentityChange(deps: AppDeps, req: Request, identityId: string): Promise<void> {
  await forgetIdentity(deps, identityId);
  const token = heldKratosToken(deps, req);
  if (token) await forgetWhoami(deps, token);
  const identity = await deps.kratos.getIdentity(identityId);
  if (identity) {
    await saveProfile(deps.db, {
      identityId,
      email: identity.email,
      emailVerified: identity.emailVerified,
      traits: identity.traits,
    });
  }
}
