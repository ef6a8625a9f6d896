import { AppError } from '../errors/app-error.js';
import { startVerificationFlow, submitVerificationCode } from '../kratos/flows/verification-flow.js';
import { normalizeIdentifier } from '../identity/identifier.js';
import { removePasskeysPlantedBeforeProof, type RemovedPasskey } from '../factors/planted-passkeys.js';
import { notifyOwner } from '../notices/account-notices.js';
import { recordRequestEvent } from '../audit/request-event.js';
import type { RequestContext } from '../session/request-context.js';
import { afterIdentityChange, type AccountDeps } from './account-context.js';
import { flowExpired, forgetFlow, pendingFlow, rememberFlow } from '../session/pending-flows.js';

/**
 * Asks Kratos to send a verification code to `email`, or to the signed-in user's address
 * when none is given. Like recovery, the answer does not tell whether the address is known.
 */
export async function requestVerification(
  deps: AccountDeps,
  ctx: RequestContext,
  rawEmail: string | undefined,
): Promise<void> {
  const email = rawEmail ? normalizeIdentifier(rawEmail) : ctx.principal?.email;
  if (!email)
    throw new AppError('invalid_request', 400, 'email: required when not signed in.', {
      details: { field: 'email' },
    });
  const flow = await startVerificationFlow(deps.kratos, email);
  await rememberFlow(ctx.session, 'verification', {
    id: flow.flowId,
    expiresAt: flow.expiresAt,
    address: email,
  });
  await recordRequestEvent(deps, ctx, 'verification.requested', 'success', ctx.principal?.identityId);
}

/** Completes verification with the code from the e-mail; a signed-in user sees the change at once. */
export async function completeVerification(
  deps: AccountDeps,
  ctx: RequestContext,
  code: string,
): Promise<{ removedPasskeys: RemovedPasskey[] }> {
  const now = deps.clock().getTime();
  const flow = pendingFlow(ctx.session, 'verification', now);
  if (!flow && flowExpired(ctx.session, 'verification', now)) {
    await forgetFlow(ctx.session, 'verification');
    throw new AppError('flow_expired', 410, 'This verification has expired; request a new code.');
  }
  if (!flow) throw new AppError('verification_not_started', 400, 'Request a verification code first.');
  const outcome = await submitVerificationCode(deps.kratos, flow.id, code);
  const identityId = ctx.principal?.identityId;
  if (outcome !== 'verified') {
    await recordRequestEvent(deps, ctx, 'verification.completed', 'failure', identityId, { reason: outcome });
    if (outcome === 'expired') {
      await forgetFlow(ctx.session, 'verification');
      throw new AppError('flow_expired', 410, 'This verification has expired; request a new code.');
    }
    throw new AppError('invalid_code', 400, 'The code is wrong or was used already.');
  }
  await forgetFlow(ctx.session, 'verification');
  if (identityId) await afterIdentityChange(deps, ctx, identityId);
  // The address is proven: passkeys planted on its account before that go (see recovery).
  const owner = flow.address ? await deps.kratos.findIdentityByIdentifier(flow.address) : undefined;
  const removedPasskeys = owner
    ? await removePasskeysPlantedBeforeProof(deps, ctx, owner.id, 'verification')
    : [];
  if (owner && removedPasskeys.length > 0) {
    await notifyOwner(deps, owner.email, {
      kind: 'passkeys_removed',
      removedPasskeys: removedPasskeys.map((p) => p.nickname),
    });
  }
  await recordRequestEvent(deps, ctx, 'verification.completed', 'success', identityId);
  // Only the signed-in holder of that account is shown what was removed.
  return { removedPasskeys: owner && owner.id === identityId ? removedPasskeys : [] };
}
