import {
  generateAuthenticationOptions,
  type AuthenticationResponseJSON,
  type PublicKeyCredentialRequestOptionsJSON,
} from '@simplewebauthn/server';
import type { Request } from 'express';
import type { AppDeps } from '../deps.js';
import { AppError } from '../http/errors.js';
import { identify, type IdentifyAnswer } from '../login/identify.js';
import { establishGatewaySession } from '../session/sessions.js';
import { verifyAssertion } from './assertion.js';
import { auditCeremony, newChallenge, passkeysOf, preSessionId } from './context.js';

/**
 * Request options for a passkey login. Without credential ids the browser offers every
 * discoverable passkey it holds for this site (conditional UI / autofill); with them
 * (an identifier was given) only those. The ids are never given transports, so that the
 * deterministic fake ids of unknown identifiers look exactly like real ones.
 */
export async function loginOptions(
  deps: AppDeps,
  req: Request,
  credentialIds: string[] = [],
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  const { rp, challenges } = passkeysOf(deps);
  const options = await generateAuthenticationOptions({
    rpID: rp.id,
    challenge: newChallenge(deps),
    timeout: rp.timeoutMs,
    userVerification: rp.userVerification,
    allowCredentials: credentialIds.map((id) => ({ id })),
  });
  await challenges.issue(await preSessionId(deps, req), options.challenge, {
    purpose: 'login',
    ...(credentialIds.length > 0 ? { allowCredentialIds: credentialIds } : {}),
  });
  return options;
}

/** Login options narrowed by an identifier (known or not: the answer looks the same). */
export async function loginOptionsFor(deps: AppDeps, req: Request, identifier: string) {
  const answer = await identify(deps, identifier);
  return loginOptions(deps, req, answer.credentialIds);
}

/**
 * The identify answer with passkey request options (challenge stored). Every answer carries
 * them, narrowed to the offered credentials or open for discoverable ones, so the shape and
 * the work done never depend on whether the account exists or has a passkey.
 */
export async function withPasskeyOptions(deps: AppDeps, req: Request, answer: IdentifyAnswer) {
  return { ...answer, passkey: await loginOptions(deps, req, answer.credentialIds) };
}

/**
 * Passkey login: verifies the assertion and starts a gateway session for the passkey's
 * identity, at aal2 when the authenticator verified the user. Password lockout does not
 * apply: a passkey is phishing-resistant and not guessable.
 */
export async function loginWithPasskey(
  deps: AppDeps,
  req: Request,
  credential: AuthenticationResponseJSON,
): Promise<void> {
  const { passkey, userVerified } = await verifyAssertion(deps, req, credential, { purpose: 'login' });
  const identity = await deps.kratos.getIdentity(passkey.identityId);
  if (!identity || identity.state !== 'active') {
    throw new AppError('account_inactive', 403, 'This account is disabled.');
  }
  await establishGatewaySession(deps, req, {
    identityId: identity.id,
    kind: 'passkey',
    methods: [{ method: 'passkey', completedAt: deps.clock().toISOString(), userVerified }],
    passkeyId: passkey.id,
  });
  await auditCeremony(deps, req, {
    type: 'login.passkey',
    outcome: 'success',
    identityId: identity.id,
    details: { passkeyId: passkey.id, userVerified },
  });
}
