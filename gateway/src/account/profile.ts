import type { Request } from 'express';
import type { AppDeps } from '../deps.js';
import { checkPrivileged } from '../access/second-factors.js';
import { KratosHttpError } from '../kratos/client.js';
import { createSettingsFlow, updateSettingsFlow } from '../kratos/flows/settings-flow.js';
import { AppError } from '../http/errors.js';
import { afterIdentityChange, heldKratosToken, recordAccountEvent } from './account-context.js';
import { kratosRefusal } from './kratos-refusal.js';

async function updateThroughSettingsFlow(deps: AppDeps, token: string, traits: Record<string, unknown>) {
  try {
    const flow = await createSettingsFlow(deps.kratos, token);
    await updateSettingsFlow(deps.kratos, token, flow.id, { method: 'profile', traits });
  } catch (err) {
    throw kratosRefusal(err, 'invalid_traits', 'These profile values are not valid.');
  }
}

async function updateThroughAdmin(deps: AppDeps, identityId: string, traits: Record<string, unknown>) {
  try {
    await deps.kratos.patchIdentity(identityId, [{ op: 'replace', path: '/traits', value: traits }]);
  } catch (err) {
    if (err instanceof KratosHttpError && err.status === 400)
      throw new AppError('invalid_traits', 400, err.firstMessage() ?? 'These profile values are not valid.');
    throw err;
  }
}

/**
 * Updates the caller's traits (merged over the current ones; Kratos validates them
 * against the identity schema). Changing the e-mail address changes how the account
 * signs in and recovers, so it is a privileged act like a password change (aal2 when the
 * account has a second factor, recent authentication).
 */
export async function updateProfile(
  deps: AppDeps,
  req: Request,
  changes: Record<string, unknown>,
): Promise<void> {
  const principal = req.principal!;
  const traits = { ...principal.traits, ...changes };
  if (traits.email !== principal.traits.email) await checkPrivileged(deps, req);
  const token = heldKratosToken(deps, req);
  try {
    if (token) await updateThroughSettingsFlow(deps, token, traits);
    else await updateThroughAdmin(deps, principal.identityId, traits);
  } catch (err) {
    await recordAccountEvent(deps, req, 'profile.updated', 'failure', principal.identityId, {
      reason: err instanceof AppError ? err.code : 'error',
    });
    throw err;
  }
  await afterIdentityChange(deps, req, principal.identityId);
  await recordAccountEvent(deps, req, 'profile.updated', 'success', principal.identityId, {
    fields: Object.keys(changes),
    via: token ? 'settings_flow' : 'admin',
  });
}
