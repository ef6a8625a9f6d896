import { AppError } from '../errors/app-error.js';
import { setPasswordAsAdmin } from '../kratos/flows/admin-credentials.js';
import { createSettingsFlow, updateSettingsFlow } from '../kratos/flows/settings-flow.js';
import { recordRequestEvent } from '../audit/request-event.js';
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import { heldKratosToken } from '../session/sessions.js';
import { afterIdentityChange, type AccountDeps } from './account-context.js';
import { kratosRefusal } from './kratos-refusal.js';

async function setThroughSettingsFlow(deps: AccountDeps, token: string, password: string) {
  try {
    const flow = await createSettingsFlow(deps.kratos, token);
    await updateSettingsFlow(deps.kratos, token, flow.id, { method: 'password', password });
  } catch (err) {
    throw kratosRefusal(err, 'weak_password', 'This password cannot be used.');
  }
}

/**
 * Sets a new password: through a Kratos settings flow when the session holds a Kratos
 * session (Kratos checks the password policy and its own privileged window), through the
 * admin API otherwise. A pending "must change password" flag is cleared afterwards.
 */
export async function changePassword(
  deps: AccountDeps,
  ctx: RequestContext,
  principal: Principal,
  password: string,
): Promise<void> {
  const token = heldKratosToken(deps, ctx.session);
  try {
    if (token) await setThroughSettingsFlow(deps, token, password);
    else await setPasswordAsAdmin(deps.kratos, principal.identityId, password);
  } catch (err) {
    await recordRequestEvent(deps, ctx, 'password.changed', 'failure', principal.identityId, {
      reason: err instanceof AppError ? err.code : 'error',
    });
    throw err;
  }
  if (principal.passwordChangeRequired) {
    await deps.kratos.patchIdentity(principal.identityId, [
      { op: 'replace', path: '/metadata_admin/password_change_required', value: false },
    ]);
  }
  await afterIdentityChange(deps, ctx, principal.identityId);
  await recordRequestEvent(deps, ctx, 'password.changed', 'success', principal.identityId, {
    via: token ? 'settings_flow' : 'admin',
    ...(principal.passwordChangeRequired ? { requiredChange: true } : {}),
  });
}
