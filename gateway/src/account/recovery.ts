import { AppError } from '../errors/app-error.js';
import { startRecoveryFlow, submitRecoveryCode } from '../kratos/flows/recovery-flow.js';
import { normalizeIdentifier } from '../identity/identifier.js';
import { removePasskeysPlantedBeforeProof, type RemovedPasskey } from '../factors/planted-passkeys.js';
import { establishGatewaySession, revokeAllSessions } from '../session/sessions.js';
import { notifyOwner } from '../notices/account-notices.js';
import { recordRequestEvent } from '../audit/request-event.js';
import type { RequestContext } from '../session/request-context.js';
import type { AccountDeps } from './account-context.js';
import { flowExpired, forgetFlow, pendingFlow, rememberFlow } from '../session/pending-flows.js';

/**
 * Asks Kratos to send a recovery code. The answer never depends on whether the address
 * has an account: the same Kratos calls run and the flow is kept in this browser's
 * pre-session either way.
 */
export async function requestRecovery(
  deps: AccountDeps,
  ctx: RequestContext,
  rawEmail: string,
): Promise<void> {
  const email = normalizeIdentifier(rawEmail);
  const flow = await startRecoveryFlow(deps.kratos, email);
  await rememberFlow(ctx.session, 'recovery', { id: flow.flowId, expiresAt: flow.expiresAt, address: email });
  await recordRequestEvent(deps, ctx, 'recovery.requested', 'success');
}

/** The identity and Kratos session behind a token Kratos just issued. */
async function recoveredSession(deps: AccountDeps, sessionToken: string, address: string | undefined) {
  const who = await deps.kratos.whoami({ token: sessionToken });
  if (who.status === 'active')
    return { identityId: who.session.identity.id, kratosSessionId: who.session.id };
  // An identity with a second factor: Kratos withholds the session until aal2, so find it by address.
  const identity =
    who.status === 'aal2_required' && address
      ? await deps.kratos.findIdentityByIdentifier(address)
      : undefined;
  if (!identity)
    throw new AppError('kratos_invalid_response', 502, 'Kratos issued a session it does not know.');
  return { identityId: identity.id, kratosSessionId: undefined };
}

/**
 * Completes recovery with the code from the e-mail: Kratos hands over a fresh session,
 * which becomes a gateway session of kind `recovery`. Every other session of the identity
 * ends, passkeys registered before the address was verified are removed (and answered),
 * and the owner is mailed. Its authentication is recent, so it may set a new password
 * within the privileged window (after its second factor, when the account still has one).
 */
export async function completeRecovery(
  deps: AccountDeps,
  ctx: RequestContext,
  code: string,
): Promise<{ removedPasskeys: RemovedPasskey[] }> {
  const now = deps.clock().getTime();
  const flow = pendingFlow(ctx.session, 'recovery', now);
  if (!flow && flowExpired(ctx.session, 'recovery', now)) {
    await forgetFlow(ctx.session, 'recovery');
    throw new AppError('flow_expired', 410, 'This recovery has expired; request a new code.');
  }
  if (!flow) throw new AppError('recovery_not_started', 400, 'Request a recovery code first.');
  const outcome = await submitRecoveryCode(deps.kratos, flow.id, code);
  if (outcome.status !== 'recovered') {
    await recordRequestEvent(deps, ctx, 'recovery.completed', 'failure', undefined, {
      reason: outcome.status,
    });
    if (outcome.status === 'expired') {
      await forgetFlow(ctx.session, 'recovery');
      throw new AppError('flow_expired', 410, 'This recovery has expired; request a new code.');
    }
    throw new AppError('invalid_code', 400, 'The code is wrong or was used already.');
  }
  const { identityId, kratosSessionId } = await recoveredSession(deps, outcome.sessionToken, flow.address);
  // The address is proven: passkeys planted before it was verified go, before the new
  // session counts the account's factors.
  const removedPasskeys = await removePasskeysPlantedBeforeProof(deps, ctx, identityId, 'recovery');
  // Whoever held the account before recovery is signed out everywhere, gateway and Kratos
  // alike, except the Kratos session this recovery was just given.
  const keep = kratosSessionId ?? (await recoverySessionId(deps, identityId));
  await revokeAllSessions(deps, identityId, { keepKratosSessionId: keep });
  await establishGatewaySession(deps, ctx, {
    identityId,
    kind: 'recovery',
    kratosToken: outcome.sessionToken,
    kratosSessionId,
    methods: [],
  });
  await recordRequestEvent(deps, ctx, 'recovery.completed', 'success', identityId, {
    sessionsEnded: true,
    removedPasskeys: removedPasskeys.map((p) => p.id),
  });
  const identity = await deps.kratos.getIdentity(identityId);
  if (identity)
    await notifyOwner(deps, identity.email, {
      kind: 'recovered',
      removedPasskeys: removedPasskeys.map((p) => p.nickname),
    });
  return { removedPasskeys };
}

/**
 * The Kratos session a recovery issued, when whoami withholds it (the account has a
 * second factor): the newest session completed by a recovery method.
 */
async function recoverySessionId(deps: AccountDeps, identityId: string): Promise<string | undefined> {
  const sessions = await deps.kratos.listIdentitySessions(identityId);
  const recovered = sessions
    .filter((s) => s.methods.some((m) => m.method.endsWith('recovery')))
    .sort((a, b) => Date.parse(b.issuedAt) - Date.parse(a.issuedAt));
  return recovered[0]?.id;
}
