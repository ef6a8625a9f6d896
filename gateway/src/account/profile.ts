import { KratosHttpError } from '../kratos/client.js';
import { createSettingsFlow, updateSettingsFlow } from '../kratos/flows/settings-flow.js';
import { AppError } from '../errors/app-error.js';
import { recordRequestEvent } from '../audit/request-event.js';
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import { heldKratosToken } from '../session/sessions.js';
import { afterIdentityChange, type AccountDeps } from './account-context.js';
import { kratosRefusal } from './kratos-refusal.js';

async function updateThroughSettingsFlow(deps: AccountDeps, token: string, traits: Record<string, unknown>) {
  try {
    const flow = await createSettingsFlow(deps.kratos, token);
    await updateSettingsFlow(deps.kratos, token, flow.id, { method: 'profile', traits });
  } catch (err) {
    throw kratosRefusal(err, 'invalid_traits', 'These profile values are not valid.');
  }
}

async function updateThroughAdmin(deps: AccountDeps, identityId: string, traits: Record<string, unknown>) {
  try {
    await deps.kratos.patchIdentity(identityId, [{ op: 'replace', path: '/traits', value: traits }]);
  } catch (err) {
    if (err instanceof KratosHttpError && err.status === 400)
      throw new AppError('invalid_traits', 400, err.firstMessage() ?? 'These profile values are not valid.');
    throw err;
  }
}

/** The traits after a change: merged over the current ones. */
export const mergedTraits = (principal: Principal, changes: Record<string, unknown>) => ({
  ...principal.traits,
  ...changes,
});

/**
 * Updates the caller's traits (merged over the current ones; Kratos validates them
 * against the identity schema). Changing the e-mail address changes how the account
 * signs in and recovers, so its route checks it as a privileged act like a password change
 * (aal2 when the account has a second factor, recent authentication).
 */
export async function updateProfile(
  deps: AccountDeps,
  ctx: RequestContext,
  principal: Principal,
  changes: Record<string, unknown>,
): Promise<void> {
  const traits = mergedTraits(principal, changes);
  const token = heldKratosToken(deps, ctx.session);
  try {
    if (token) await updateThroughSettingsFlow(deps, token, traits);
    else await updateThroughAdmin(deps, principal.identityId, traits);
  } catch (err) {
    await recordRequestEvent(deps, ctx, 'profile.updated', 'failure', principal.identityId, {
      reason: err instanceof AppError ? err.code : 'error',
    });
    throw err;
  }
  await afterIdentityChange(deps, ctx, principal.identityId);
  await recordRequestEvent(deps, ctx, 'profile.updated', 'success', principal.identityId, {
    fields: Object.keys(changes),
    via: token ? 'settings_flow' : 'admin',
  });
}
