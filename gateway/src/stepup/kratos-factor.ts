import type { AuditLog } from '../audit/audit-log.js';
import type { AuditEventType } from '../audit/event-types.js';
import { recordRequestEvent } from '../audit/request-event.js';
import { AppError } from '../errors/app-error.js';
import type { KratosClient } from '../kratos/client.js';
import { completeSecondFactor, type SecondFactor } from '../kratos/flows/second-factor-flow.js';
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import { forgetWhoami } from '../session/resolve-principal.js';
import { heldKratosToken, raiseGatewaySession, type SessionDeps } from '../session/sessions.js';
import { factorTooNew } from './methods.js';

const EVENT: Record<SecondFactor['method'], AuditEventType> = {
  totp: 'step_up.totp',
  lookup_secret: 'step_up.backup_code',
};

/** What a step-up with a Kratos factor uses. */
export type KratosFactorDeps = SessionDeps & { kratos: KratosClient; audit: AuditLog };

/**
 * Completes Kratos' second factor for a password session (a TOTP code or a backup code):
 * Kratos raises its session to aal2, the gateway session records the factor and is raised
 * in place (fresh id, fresh authentication time). A factor this session enrolled is refused.
 */
export async function stepUpWithKratosFactor(
  deps: KratosFactorDeps,
  ctx: RequestContext,
  principal: Principal,
  factor: SecondFactor,
): Promise<void> {
  const token = heldKratosToken(deps, ctx.session);
  if (!token) {
    throw new AppError(
      'kratos_session_required',
      409,
      'This session has no password sign-in; step up with a passkey.',
    );
  }
  // A factor this session enrolled never raises it: it counts from the next sign-in.
  if (ctx.session.auth?.enrolledHere?.includes(factor.method)) throw factorTooNew();
  const outcome = await completeSecondFactor(deps.kratos, token, factor);
  if (outcome === 'invalid_code') {
    await recordRequestEvent(deps, ctx, EVENT[factor.method], 'failure', principal.identityId, {
      reason: 'invalid_code',
    });
    throw new AppError('invalid_code', 400, 'The code is wrong or was used already.');
  }
  await forgetWhoami(deps, token);
  await raiseGatewaySession(deps, ctx.session, {
    method: factor.method,
    completedAt: deps.clock().toISOString(),
    aal: 'aal2',
  });
  await recordRequestEvent(deps, ctx, EVENT[factor.method], 'success', principal.identityId);
}
