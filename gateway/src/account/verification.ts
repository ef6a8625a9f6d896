import type { Request } from 'express';
import type { AppDeps } from '../deps.js';
import { AppError } from '../http/errors.js';
import { startVerificationFlow, submitVerificationCode } from '../kratos/flows/verification-flow.js';
import { normalizeIdentifier } from '../login/password-login.js';
import { removePasskeysPlantedBeforeProof, type RemovedPasskey } from '../passkeys/management.js';
import { notifyOwner } from './notices.js';
import { afterIdentityChange, recordAccountEvent } from './account-context.js';
import { flowExpired, forgetFlow, pendingFlow, rememberFlow } from './pending-flows.js';

/**
 * Asks Kratos to send a verification code to `email`, or to the signed-in user's address
 * when none is given. Like recovery, the answer does not tell whether the address is known.
 */
export async function requestVerification(
  deps: AppDeps,
  req: Request,
  rawEmail: string | undefined,
): Promise<void> {
  const email = rawEmail ? normalizeIdentifier(rawEmail) : req.principal?.email;
  if (!email)
    throw new AppError('invalid_request', 400, 'email: required when not signed in.', {
      details: { field: 'email' },
    });
  const flow = await startVerificationFlow(deps.kratos, email);
  await rememberFlow(req, 'verification', { id: flow.flowId, expiresAt: flow.expiresAt, address: email });
  await recordAccountEvent(deps, req, 'verification.requested', 'success', req.principal?.identityId);
}

/** Completes verification with the code from the e-mail; a signed-in user sees the change at once. */
export async function completeVerification(
  deps: AppDeps,
  req: Request,
  code: string,
): Promise<{ removedPasskeys: RemovedPasskey[] }> {
  const now = deps.clock().getTime();
  const flow = pendingFlow(req, 'verification', now);
  if (!flow && flowExpired(req, 'verification', now)) {
    await forgetFlow(req, 'verification');
    throw new AppError('flow_expired', 410, 'This verification has expired; request a new code.');
  }
  if (!flow) throw new AppError('verification_not_started', 400, 'Request a verification code first.');
  const outcome = await submitVerificationCode(deps.kratos, flow.id, code);
  const identityId = req.principal?.identityId;
  if (outcome !== 'verified') {
    await recordAccountEvent(deps, req, 'verification.completed', 'failure', identityId, { reason: outcome });
    if (outcome === 'expired') {
      await forgetFlow(req, 'verification');
      throw new AppError('flow_expired', 410, 'This verification has expired; request a new code.');
    }
    throw new AppError('invalid_code', 400, 'The code is wrong or was used already.');
  }
  await forgetFlow(req, 'verification');
  if (identityId) await afterIdentityChange(deps, req, identityId);
  // The address is proven: passkeys planted on its account before that go (see recovery).
  const owner = flow.address ? await deps.kratos.findIdentityByIdentifier(flow.address) : undefined;
  const removedPasskeys = owner
    ? await removePasskeysPlantedBeforeProof(deps, req, owner.id, 'verification')
    : [];
  if (owner && removedPasskeys.length > 0) {
    await notifyOwner(deps, owner.email, {
      kind: 'passkeys_removed',
      removedPasskeys: removedPasskeys.map((p) => p.nickname),
    });
  }
  await recordAccountEvent(deps, req, 'verification.completed', 'success', identityId);
  // Only the signed-in holder of that account is shown what was removed.
  return { removedPasskeys: owner && owner.id === identityId ? removedPasskeys : [] };
}
