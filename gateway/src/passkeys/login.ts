import {
  generateAuthenticationOptions,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import { AppError } from '../errors/app-error.js';
import { verifyAssertion } from '../factors/assertion.js';
import { auditCeremony, newChallenge, preSessionId, type CeremonyDeps } from '../factors/ceremony.js';
import type { KratosIdentity } from '../kratos/types.js';
import type { RequestContext } from '../session/request-context.js';
import { establishGatewaySession } from '../session/sessions.js';
import { rememberIdentity } from '../session/whoami-cache.js';
import { secondFactorsOf } from '../factors/second-factors.js';
import type { PasskeyDeps } from './deps.js';
import { identify, type IdentifyAnswer, type IdentifyDeps } from './identify.js';

/**
 * Request options for a passkey login. Without credential ids the browser offers every
 * discoverable passkey it holds for this site (conditional UI / autofill); with them
 * (an identifier was given) only those. The ids are never given transports, so that the
 * deterministic fake ids of unknown identifiers look exactly like real ones.
 */
export async function loginOptions(
  deps: Pick<CeremonyDeps, 'rp' | 'challenges' | 'random'>,
  ctx: RequestContext,
  credentialIds: string[] = [],
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { rp, challenges } = deps;
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    challenge: newChallenge(deps),
    timeout: rp.timeoutMs,
    userVerification: rp.userVerification,
    allowCredentials: credentialIds.map((id) => ({ id })),
  });
  await challenges.issue(await preSessionId(deps, ctx), options.challenge, {
    purpose: 'login',
    ...(credentialIds.length > 0 ? { allowCredentialIds: credentialIds } : {}),
  });
  return options;
}

/** Login options narrowed by an identifier (known or not: the answer looks the same). */
export async function loginOptionsFor(
  deps: IdentifyDeps & Pick<CeremonyDeps, 'rp' | 'challenges' | 'random'>,
  ctx: RequestContext,
  identifier: string,
) {
  const answer = await identify(deps, identifier);
  return loginOptions(deps, ctx, answer.credentialIds);
}

/**
 * The identify answer with passkey request options (challenge stored). Every answer carries
 * them, narrowed to the offered credentials or open for discoverable ones, so the shape and
 * the work done never depend on whether the account exists or has a passkey.
 */
export async function withPasskeyOptions(
  deps: Pick<CeremonyDeps, 'rp' | 'challenges' | 'random'>,
  ctx: RequestContext,
  answer: IdentifyAnswer,
) {
  return { ...answer, passkey: await loginOptions(deps, ctx, answer.credentialIds) };
}

/**
 * Passkey login: verifies the assertion and starts a gateway session for the passkey's
 * identity, at aal2 when the authenticator verified the user, and answers the identity
 * (read fresh from Kratos). Password lockout does not apply: a passkey is phishing-resistant
 * and not guessable.
 */
export async function loginWithPasskey(
  deps: PasskeyDeps,
  ctx: RequestContext,
  credential: AuthenticationResponseJSON,
): Promise<KratosIdentity> {
  // The identity is read fresh (a sign-in never trusts a cached state) while the signature is
  // checked, then kept in the short identity cache the session check reads, so the session
  // answered next does not ask Kratos again.
  const verified = await verifyAssertion(deps, ctx, credential, { purpose: 'login' }, (p) =>
    deps.kratos.getIdentity(p.identityId),
  );
  const { passkey, userVerified, alongside: identity } = verified;
  if (!identity || identity.state !== 'active') {
    throw new AppError('account_inactive', 403, 'This account is disabled.');
  }
  const secondFactors = await secondFactorsOf(deps, identity.id, identity, passkey.id);
  await Promise.all([
    rememberIdentity(deps, identity),
    establishGatewaySession(deps, ctx, {
      identityId: identity.id,
      kind: 'passkey',
      methods: [{ method: 'passkey', completedAt: deps.clock().toISOString(), userVerified }],
      passkeyId: passkey.id,
      secondFactors,
    }),
  ]);
  await auditCeremony(deps, ctx, {
    type: 'login.passkey',
    outcome: 'success',
    identityId: identity.id,
    details: { passkeyId: passkey.id, userVerified },
  });
  return identity;
}
