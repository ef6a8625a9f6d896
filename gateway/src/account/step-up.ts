import type { Request } from 'express';
import { factorTooNew } from '../access/second-factors.js';
import type { AppDeps } from '../deps.js';
import { AppError } from '../http/errors.js';
import { completeSecondFactor, type SecondFactor } from '../kratos/flows/second-factor-flow.js';
import { forgetWhoami } from '../session/resolve-principal.js';
import { raiseGatewaySession } from '../session/sessions.js';
import { heldKratosToken, recordAccountEvent } from './account-context.js';

const EVENT: Record<SecondFactor['method'], string> = {
  totp: 'step_up.totp',
  lookup_secret: 'step_up.backup_code',
};

/**
 * Completes Kratos' second factor for a password session (a TOTP code or a backup code):
 * Kratos raises its session to aal2, the gateway session records the factor and is raised
 * in place (fresh id, fresh authentication time). A factor this session enrolled is refused.
 */
export async function stepUpWithKratosFactor(
  deps: AppDeps,
  req: Request,
  factor: SecondFactor,
): Promise<void> {
  const principal = req.principal!;
  const token = heldKratosToken(deps, req);
  if (!token) {
    throw new AppError(
      'kratos_session_required',
      409,
      'This session has no password sign-in; step up with a passkey.',
    );
  }
  // A factor this session enrolled never raises it: it counts from the next sign-in.
  if (req.session.auth?.enrolledHere?.includes(factor.method)) throw factorTooNew();
  const outcome = await completeSecondFactor(deps.kratos, token, factor);
  if (outcome === 'invalid_code') {
    await recordAccountEvent(deps, req, EVENT[factor.method], 'failure', principal.identityId, {
      reason: 'invalid_code',
    });
    throw new AppError('invalid_code', 400, 'The code is wrong or was used already.');
  }
  await forgetWhoami(deps, token);
  await raiseGatewaySession(deps, req, {
    method: factor.method,
    completedAt: deps.clock().toISOString(),
    aal: 'aal2',
  });
  await recordAccountEvent(deps, req, EVENT[factor.method], 'success', principal.identityId);
}
