import {
  generateAuthenticationOptions,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { AppError } from '../errors/app-error.js';
import { verifyAssertion } from '../factors/assertion.js';
import { auditCeremony, newChallenge, preSessionId, type CeremonyDeps } from '../factors/ceremony.js';
import type { Principal } from '../session/principal.js';
import type { RequestContext } from '../session/request-context.js';
import { raiseGatewaySession, type SessionDeps } from '../session/sessions.js';
import { factorTooNew } from './methods.js';

/** Step-up raises a gateway session in place; a raw Kratos session has nothing here to raise. */
function assertRaisable(principal: Principal) {
  if (principal.source !== 'gateway') {
    throw new AppError(
      'step_up_unavailable',
      400,
      'Passkey step-up needs a gateway session: sign in through the gateway.',
    );
  }
}

/** Request options for a step-up, limited to the signed-in identity's usable passkeys. */
export async function stepUpOptions(
  deps: CeremonyDeps,
  ctx: RequestContext,
  principal: Principal,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  assertRaisable(principal);
  const { rp, passkeys: store, challenges } = deps;
  const usable = (await store.list(principal.identityId)).filter((p) => !p.clonedSuspected);
  if (usable.length === 0) throw new AppError('no_passkey', 409, 'Register a passkey first.');
  // A passkey this session registered never raises it: it counts from the next sign-in.
  const enrolledHere = new Set(ctx.session.auth?.enrolledHere ?? []);
  const passkeys = usable.filter((p) => !enrolledHere.has(`passkey:${p.id}`));
  if (passkeys.length === 0) throw factorTooNew();
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    challenge: newChallenge(deps),
    timeout: rp.timeoutMs,
    userVerification: rp.userVerification,
    allowCredentials: passkeys.map((p) => ({ id: p.id, transports: p.transports })),
  });
  await challenges.issue(await preSessionId(deps, ctx), options.challenge, {
    purpose: 'step-up',
    identityId: principal.identityId,
  });
  return options;
}

/**
 * Step-up with one of the identity's passkeys: the session gains the factor (aal2 per
 * the AAL table: a user-verified passkey, or password + passkey), its authentication
 * time is refreshed and its id regenerated.
 */
export async function stepUpWithPasskey(
  deps: CeremonyDeps & Pick<SessionDeps, 'sessionIndex'>,
  ctx: RequestContext,
  principal: Principal,
  credential: AuthenticationResponseJSON,
): Promise<void> {
  assertRaisable(principal);
  const { passkey, userVerified } = await verifyAssertion(deps, ctx, credential, {
    purpose: 'step-up',
    identityId: principal.identityId,
  });
  if (ctx.session.auth?.enrolledHere?.includes(`passkey:${passkey.id}`)) throw factorTooNew();
  await raiseGatewaySession(
    deps,
    ctx.session,
    { method: 'passkey', completedAt: deps.clock().toISOString(), userVerified },
    passkey.id,
  );
  await auditCeremony(deps, ctx, {
    type: 'step_up.passkey',
    outcome: 'success',
    identityId: principal.identityId,
    details: { passkeyId: passkey.id, userVerified },
  });
}
